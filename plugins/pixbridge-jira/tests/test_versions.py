"""The ``jira-version`` release publisher, fix versions and the fake's versions, on DC and Cloud."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pixbridge_jira
import pytest
from lifecycle_helpers import TEMPLATES, mail
from pixbridge_jira import JiraTracker
from pixbridge_jira.publisher import IDENTITY, JiraVersionPublisher, JiraVersionSettings
from pixbridge_jira.testing import FakeJira, Fault, version_settings_for
from pixbridge_jira.versions import JiraVersions
from pydantic import ValidationError

from pixbridge.adapters import AdapterContext, ReleasePublisher
from pixbridge.errors import PermanentAdapterError
from pixbridge.models import ReleaseManifest
from pixbridge.releases import mark_waiting
from pixbridge.releases.workflow import publish_release
from pixbridge.testing.contracts.publisher import ReleasePublisherContract, make_release_file
from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock

DOWNLOADS = "https://downloads.pix.example/releases"
LINKS = [
    {"title": "Download", "url": DOWNLOADS + "/{product}/{version}/"},
    {"title": "Install", "url": DOWNLOADS + "/{product}/{version}/INSTALL.md",
     "category": "Documentation"},
]  # fmt: skip


@pytest.fixture(scope="module", params=["datacenter", "cloud"])
def site(request: pytest.FixtureRequest) -> Iterator[FakeJira]:
    # One site per mode for the whole contract suite: each contract test uses its own build.
    with FakeJira(cloud=request.param == "cloud") as fake:
        yield fake


class TestJiraVersionPublisherContract(ReleasePublisherContract):
    """Every release-publisher contract test, once per deployment kind."""

    @pytest.fixture
    def adapter(
        self, site: FakeJira, adapter_context: AdapterContext
    ) -> Iterator[ReleasePublisher]:
        settings = JiraVersionSettings(**version_settings_for(site, links=LINKS))
        publisher = JiraVersionPublisher(settings, adapter_context)
        publisher.open()
        yield publisher
        publisher.close()


@pytest.fixture
def make_publisher(fake: FakeJira, adapter_context: AdapterContext) -> Callable[..., Any]:
    def factory(**overrides: Any) -> JiraVersionPublisher:
        settings = JiraVersionSettings(**version_settings_for(fake, **overrides))
        publisher = JiraVersionPublisher(settings, adapter_context)
        publisher.open()
        return publisher

    return factory


@pytest.fixture
def publisher(make_publisher: Callable[..., JiraVersionPublisher]) -> JiraVersionPublisher:
    return make_publisher(links=LINKS)


def manifest(folder: Path, version: str = "4.13", flavour: bytes = b"") -> ReleaseManifest:
    files = (make_release_file(folder, f"pix-setup-{version}.exe", b"MZ " + flavour),)
    return ReleaseManifest("PIX", version, files, notes=f"# PIX {version}\n\n- Export fixed\n")


def issue(fake: FakeJira, summary: str) -> str:
    """An issue made directly in the fake (as an agent would)."""
    with fake.state.lock:
        fields = {"project": {"key": "SUP"}, "issuetype": {"name": "Task"}, "summary": summary}
        return fake.state.create(fields, fake.state.users["agent.smith"], adf=False).key


def version_writes(fake: FakeJira) -> int:
    return len([r for r in fake.received if r.method in ("POST", "PUT") and "version" in r.path])


def test_create_release_and_find(
    fake: FakeJira, publisher: JiraVersionPublisher, tmp_path: Path, fake_clock: FakeClock
) -> None:
    m = manifest(tmp_path)
    assert publisher.find("PIX", "4.13") is None
    release = publisher.publish(m)
    [version] = fake.state.versions.values()
    assert (version.name, version.released) == ("4.13", True)
    assert version.release_date == fake_clock.now().date().isoformat() == "2026-01-15"
    assert version.description is not None
    assert f"Download: {DOWNLOADS}/PIX/4.13/" in version.description
    assert f"Install: {DOWNLOADS}/PIX/4.13/INSTALL.md" in version.description
    assert IDENTITY in version.description
    if fake.state.cloud:
        assert release.url == f"{fake.url}/projects/SUP/versions/{version.id}"
        titles = [(w["category"], w["title"]) for w in version.related_work]
        assert titles == [("Other", "Download"), ("Documentation", "Install")]
    else:
        assert release.url == f"{fake.url}/browse/SUP/fixforversion/{version.id}"
        assert version.related_work == []
    assert release.details["internal"] == "true"
    assert release.details["version_id"] == str(version.id)
    assert publisher.find("PIX", "4.13") == release
    assert publisher.find("PIX", "4.14") is None
    assert publisher.find("PIX", "4.x") is None


def test_republishing_the_identical_manifest_writes_nothing(
    fake: FakeJira, publisher: JiraVersionPublisher, tmp_path: Path
) -> None:
    m = manifest(tmp_path)
    first = publisher.publish(m)
    writes = version_writes(fake)
    assert publisher.publish(m) == first
    assert version_writes(fake) == writes
    assert len(fake.state.versions) == 1


def version_listings(fake: FakeJira) -> int:
    return len(fake.requests("GET", r"/rest/api/2/project/SUP/versions$"))


def test_one_publish_lists_the_versions_once(
    fake: FakeJira, tracker: JiraTracker, publisher: JiraVersionPublisher, tmp_path: Path
) -> None:
    # Missing: found missing, created, released.
    before = version_listings(fake)
    publisher.publish(manifest(tmp_path / "a", "4.13"))
    assert version_listings(fake) - before == 1
    assert [(v.name, v.released) for v in fake.state.versions.values()] == [("4.13", True)]

    # Made by wait-build with a waiting request: completed, described with the request.
    crash = issue(fake, "Export crashes")
    tracker.set_fix_version(crash, "PIX", "4.14")
    before = version_listings(fake)
    publisher.publish(manifest(tmp_path / "b", "4.14"))
    assert version_listings(fake) - before == 1
    made = next(v for v in fake.state.versions.values() if v.name == "4.14")
    assert made.released and f"Fixed requests: {crash} Export crashes" in (made.description or "")
    assert len(fake.state.versions) == 2

    # Published already: one listing, no write.
    writes, before = version_writes(fake), version_listings(fake)
    publisher.publish(manifest(tmp_path / "b", "4.14"))
    assert (version_writes(fake), version_listings(fake) - before) == (writes, 1)

    # Nothing is kept between publishes: a version an admin renamed meanwhile is seen.
    with fake.state.lock:
        made.name = "4.14-withdrawn"
    before = version_listings(fake)
    publisher.publish(manifest(tmp_path / "b", "4.14"))
    assert version_listings(fake) - before == 1
    assert sorted(v.name for v in fake.state.versions.values()) == [
        "4.13",
        "4.14",
        "4.14-withdrawn",
    ]


def test_another_manifest_under_a_released_version_is_refused(
    fake: FakeJira, publisher: JiraVersionPublisher, tmp_path: Path
) -> None:
    publisher.publish(manifest(tmp_path / "one", flavour=b"one"))
    [version] = fake.state.versions.values()
    before = version.description
    with pytest.raises(PermanentAdapterError, match="new build number"):
        publisher.publish(manifest(tmp_path / "two", flavour=b"two"))
    assert version.description == before and len(fake.state.versions) == 1


def test_a_version_released_by_hand_is_refused_and_not_found(
    fake: FakeJira, publisher: JiraVersionPublisher, tmp_path: Path
) -> None:
    versions = publisher.versions
    made = versions.create("4.13", "released in Jira by hand")
    versions.update(str(made["id"]), {"released": True, "releaseDate": "2026-01-14"})
    with pytest.raises(PermanentAdapterError, match="not by pixbridge"):
        publisher.publish(manifest(tmp_path))
    assert publisher.find("PIX", "4.13") is None


def test_an_unreleased_version_is_completed_not_duplicated(
    fake: FakeJira, publisher: JiraVersionPublisher, tmp_path: Path
) -> None:
    publisher.versions.create("4.13", "planned")
    release = publisher.publish(manifest(tmp_path))
    [version] = fake.state.versions.values()
    assert version.released and release.details["version_id"] == str(version.id)


def test_a_lost_create_answer_is_resolved_by_name(
    fake: FakeJira, publisher: JiraVersionPublisher, tmp_path: Path
) -> None:
    fake.inject(Fault("POST", r"/version$", drop=True))
    publisher.publish(manifest(tmp_path))
    [version] = fake.state.versions.values()
    assert version.released
    assert len(fake.requests("POST", r"/version$")) == 1


def test_version_name_pattern(
    fake: FakeJira, make_publisher: Callable[..., JiraVersionPublisher], tmp_path: Path
) -> None:
    publisher = make_publisher(version_name="{product} {version}")
    publisher.publish(manifest(tmp_path))
    assert [v.name for v in fake.state.versions.values()] == ["PIX 4.13"]
    assert publisher.find("PIX", "4.13") is not None
    for bad in ("{build}", "{product}", " {version}"):
        with pytest.raises(ValidationError, match="version_name"):
            JiraVersionSettings(**version_settings_for(fake, version_name=bad))
    with pytest.raises(ValidationError, match="http"):
        JiraVersionSettings(**version_settings_for(fake, links=[{"title": "x", "url": "ftp://x"}]))
    with pytest.raises(ValidationError, match=r"url .* may use only \{product\} and \{version\}"):
        link = {"title": "x", "url": "https://x.example/{build}/"}
        JiraVersionSettings(**version_settings_for(fake, links=[link]))


def test_set_fix_version_is_found_by_fixed_requests_and_described(
    fake: FakeJira, tracker: JiraTracker, publisher: JiraVersionPublisher, tmp_path: Path
) -> None:
    crash, other = issue(fake, "Export crashes"), issue(fake, "Unrelated")
    assert publisher.fixed_requests("PIX", "4.13") == []
    tracker.set_fix_version(crash, "PIX", "4.13")
    writes = len(fake.requests("PUT", rf"/issue/{crash}$"))
    tracker.set_fix_version(crash, "PIX", "4.13")  # again: nothing changes
    assert len(fake.requests("PUT", rf"/issue/{crash}$")) == writes == 1
    [version] = fake.state.versions.values()
    assert not version.released and fake.state.issue(crash).fields["fixVersions"] == [version.id]
    shown = tracker.session.get(f"issue/{crash}", fields="fixVersions")["fields"]["fixVersions"]
    assert [v["name"] for v in shown] == ["4.13"]
    assert publisher.fixed_requests("PIX", "4.13") == [(crash, "Export crashes")]
    assert other not in dict(publisher.fixed_requests("PIX", "4.13"))

    publisher.publish(manifest(tmp_path))
    assert len(fake.state.versions) == 1 and version.released
    assert f"Fixed requests: {crash} Export crashes" in (version.description or "")


def test_the_fake_refuses_what_jira_refuses(
    fake: FakeJira, publisher: JiraVersionPublisher
) -> None:
    versions: JiraVersions = publisher.versions
    made = versions.create("4.13", "")
    with pytest.raises(PermanentAdapterError, match="already exists"):
        publisher.session.send("POST", "version", {"name": "4.13", "project": "SUP"})
    with pytest.raises(PermanentAdapterError, match="valid version name"):
        publisher.session.send("POST", "version", {"name": " ", "project": "SUP"})
    with pytest.raises(PermanentAdapterError, match="yyyy-MM-dd"):
        versions.update(str(made["id"]), {"released": True, "releaseDate": "15/Jan/26"})
    assert not fake.state.versions[int(made["id"])].released, "a refused update changed nothing"
    search = ("search/jql", "3") if fake.state.cloud else ("search", "2")
    with pytest.raises(PermanentAdapterError, match="does not exist for the field 'fixVersion'"):
        publisher.session.get(search[0], version=search[1], jql='fixVersion = "9.99"')
    # Refused on a site without issues too: Jira checks the query, not what it would find.
    assert not fake.state.issues
    with pytest.raises(PermanentAdapterError, match="does not exist for the field 'project'"):
        publisher.session.get(search[0], version=search[1], jql='project = "OPS"')
    key = issue(fake, "Needs a fix")
    with pytest.raises(PermanentAdapterError, match=r"Version name '9\.99' is not valid"):
        versions.add_fix_version(key, "9.99")
    if not fake.state.cloud:
        with pytest.raises(PermanentAdapterError, match="no such resource"):
            versions.related_work(str(made["id"]))
    with pytest.raises(PermanentAdapterError, match="HTTP 405"):
        publisher.session.send("DELETE", "search", {})


def test_versions_need_project_administration(
    fake: FakeJira, publisher: JiraVersionPublisher, tmp_path: Path
) -> None:
    # Jira lets only project (or Jira) administrators create, change and release versions.
    with fake.state.lock:
        fake.state.project_admins.discard("pixbridge")
    with pytest.raises(PermanentAdapterError, match="permission to create versions"):
        publisher.publish(manifest(tmp_path))
    assert not fake.state.versions
    with fake.state.lock:
        fake.state.project_admins.add("pixbridge")
    made = publisher.versions.create("4.13", "planned")
    with fake.state.lock:
        fake.state.project_admins.discard("pixbridge")
    with pytest.raises(PermanentAdapterError, match="administrator rights"):
        publisher.publish(manifest(tmp_path))
    assert not fake.state.versions[int(made["id"])].released


def test_doctor_checks_administer_projects(
    fake: FakeJira, publisher: JiraVersionPublisher, tmp_path: Path
) -> None:
    assert publisher.check() == []
    assert fake.requests("GET", r"/mypermissions$"), "doctor did not ask Jira"
    with fake.state.lock:
        fake.state.project_admins.discard("pixbridge")
    [problem] = publisher.check()
    assert problem.startswith("adapters.jira-version: ")
    assert "Administer Projects" in problem and "project SUP" in problem
    # What doctor says is what Jira then does.
    with pytest.raises(PermanentAdapterError, match="permission to create versions"):
        publisher.publish(manifest(tmp_path))
    with fake.state.lock:
        fake.state.admins.add("pixbridge")  # Jira administrators may administer every project
    assert publisher.check() == []
    publisher.publish(manifest(tmp_path))


def test_the_fake_answers_mypermissions_as_jira_does(
    fake: FakeJira, publisher: JiraVersionPublisher
) -> None:
    session = publisher.session

    def have(**params: str) -> dict[str, bool]:
        found = session.get("mypermissions", **params)["permissions"]
        return {key: entry["havePermission"] for key, entry in found.items()}

    wanted = "ADMINISTER_PROJECTS,ADMINISTER,BROWSE_PROJECTS"
    expected = {"ADMINISTER_PROJECTS": True, "ADMINISTER": False, "BROWSE_PROJECTS": True}
    assert have(projectKey="SUP", permissions=wanted) == expected
    with fake.state.lock:
        fake.state.add_project("OPS")
    assert have(projectKey="OPS", permissions="ADMINISTER_PROJECTS") == {
        "ADMINISTER_PROJECTS": False
    }
    # Without a project: whether the account has it in any project.
    assert have(permissions="ADMINISTER_PROJECTS") == {"ADMINISTER_PROJECTS": True}
    with pytest.raises(PermanentAdapterError, match="permissions query parameter is required"):
        session.get("mypermissions", projectKey="SUP")
    with pytest.raises(PermanentAdapterError, match="No project could be found"):
        session.get("mypermissions", projectKey="NOPE", permissions="ADMINISTER_PROJECTS")
    with pytest.raises(PermanentAdapterError, match="not valid"):
        session.get("mypermissions", projectKey="SUP", permissions="MAKE_COFFEE")
    # A version in another project needs Administer Projects there.
    with pytest.raises(PermanentAdapterError, match="permission to create versions"):
        session.send("POST", "version", {"name": "1.0", "project": "OPS"})


# ---------------------------------------------------------------------- end to end


def distribution(root: Path, key: str) -> Path:
    dist = root / "4.13" / "dist"
    (dist / "changes").mkdir(parents=True)
    (dist / "pix-setup-4.13.exe").write_bytes(b"MZ installer 4.13")
    for name in ("CHANGES.md", "COMPATIBILITY.md", "INSTALL.md"):
        (dist / name).write_text(f"{name} for 4.13\n", encoding="utf-8")
    entry = {"kind": "fixed", "requests": [key]}
    (dist / "changes" / "export.toml").write_text(
        f"kind = {json.dumps(entry['kind'])}\nrequests = {json.dumps(entry['requests'])}\n"
        '[title]\nen = "Large exports no longer crash"\nru = "Большой экспорт не падает"\n',
        encoding="utf-8",
    )
    return dist


def test_release_workflow_with_directory_and_jira_version(
    fake: FakeJira, tmp_path: Path, fake_clock: FakeClock
) -> None:
    h = Harness(
        tmp_path / "h",
        templates_dir=TEMPLATES,
        clock=fake_clock,
        extra_plugins=[("jira", pixbridge_jira)],
        pipeline={
            "mail_source": "maildir", "mail_sender": "maildir-outbox", "tracker": "jira",
            "license_validators": [], "publishers": ["directory", "jira-version"],
        },
        adapters={
            "jira": {**version_settings_for(fake), "reconcile_patience": 0.5},
            "jira-version": version_settings_for(fake, links=LINKS[:1]),
            "directory": {"root": str(tmp_path / "published"), "base_url": DOWNLOADS},
        },
    )  # fmt: skip
    try:
        h.deliver(mail(subject="Export crashes on large projects", body="Windows 11\nThe export crashes.",
                       message_id="<crash@customer.example>", attachments=()))  # fmt: skip
        h.run()
        [key] = h.keys()
        marked = mark_waiting(h.app, key, "PIX", "4.13", by="anna")
        assert marked.in_tracker, marked.tracker_note
        [version] = fake.state.versions.values()
        assert fake.state.issue(key).fields["fixVersions"] == [version.id]

        report = publish_release(h.app, distribution(tmp_path, key), product="PIX", version="4.13")
        assert (report.status, report.notified) == ("published", [key])
        assert version.released and key in (version.description or "")
        jira_step = next(s for s in report.steps if s["publisher"] == "jira-version")
        assert "fixforversion" in jira_step["url"] or "/versions/" in jira_step["url"]

        h.run()
        [build_mail] = [m for m in h.sent() if "build 4.13 is available" in str(m["Subject"])]
        body = build_mail.get_content()
        assert f"{DOWNLOADS}/PIX/4.13/" in body
        assert fake.url not in body and jira_step["url"] not in body
        assert fake.state.issue(key).status == "Done"

        again = publish_release(h.app, distribution(tmp_path / "again", key), product="PIX",
                                version="4.13")  # fmt: skip
        assert again.resumed and again.notified == [] and len(fake.state.versions) == 1
    finally:
        h.close()
