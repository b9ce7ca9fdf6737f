"""From a customer's request, through an agent marking it as waiting for build 4.13, to the
published build, the customer's build-available mail and the completed request; publishing is
repeated and interrupted, and nobody is mailed twice."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from lifecycle_helpers import TEMPLATES, mail
from release_helpers import BASE_URL, Flaky, entry, make_dist

from pixbridge.builtins.directory_publisher import DirectoryPublisher
from pixbridge.cli import commands  # noqa: F401 - registers the built-in commands
from pixbridge.cli.main import cli
from pixbridge.errors import TransientAdapterError
from pixbridge.models import PublishedRelease, ReleaseManifest
from pixbridge.releases import mark_waiting, publish_release
from pixbridge.testing.harness import Harness

PRODUCT = "PIX Task Mining"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PIXBRIDGE_"):
            monkeypatch.delenv(name)


def settings_file(h: Harness) -> Path:
    """A settings file for the command line that points at the harness's data."""
    path = h.root / "pixbridge.toml"
    published = h.root / "published" / "directory"
    path.write_text(
        f"data_dir = {json.dumps(str(h.data_dir))}\n"
        f"templates_dir = {json.dumps(str(TEMPLATES))}\n"
        '[support]\naddress = "support@pix.example"\nname = "PIX Support"\n'
        '[pipeline]\nmail_source = "maildir"\nmail_sender = "maildir-outbox"\n'
        'tracker = "local"\nlicense_validators = []\npublishers = ["directory"]\n'
        "[plugins]\nload = []\n"
        f"[adapters.directory]\nroot = {json.dumps(str(published))}\n"
        f'base_url = "{BASE_URL}/directory"\n',
        encoding="utf-8",
    )
    return path


def customer_request(h: Harness) -> str:
    h.deliver(mail(subject="Export crashes on large projects", body="Windows 11\nIt crashes."))
    h.run()
    [key] = h.keys()
    return key


def build_mails(h: Harness) -> list[EmailMessage]:
    return [m for m in h.sent() if "build 4.13 is available" in str(m["Subject"])]


def dist_413(tmp_path: Path, key: str) -> Path:
    return make_dist(
        tmp_path,
        "4.13",
        changes={
            "export.toml": entry(en="Large exports no longer crash", requests=(key,)),
            "csv.toml": entry(kind="added", en="CSV export", ru="Экспорт в CSV"),
        },
    )


def test_customer_waiting_for_a_build_gets_it_once_via_the_command_line(
    h: Harness, tmp_path: Path
) -> None:
    key = customer_request(h)
    settings = ["--settings", str(settings_file(h))]
    runner = CliRunner()
    marked = runner.invoke(
        cli, [*settings, "requests", "wait-build", key, "--product", PRODUCT, "--version", "4.13"]
    )
    assert marked.exit_code == 0, marked.output
    assert f"{key} waits for {PRODUCT} 4.13 (recorded in the local tracker)" in marked.stdout
    dist = dist_413(tmp_path, key)

    published = runner.invoke(
        cli,
        [*settings, "release", "publish", str(dist), "--product", PRODUCT, "--version", "4.13",
         "--json"],
    )  # fmt: skip
    assert published.exit_code == 0, published.output
    report = json.loads(published.stdout)
    assert (report["status"], report["notified"]) == ("published", [key])

    h.run()
    [message] = build_mails(h)
    assert message["To"] == "john.smith@customer.example"
    assert message["Subject"].startswith(f"[{key}] Export crashes on large projects")
    assert message["In-Reply-To"] is not None
    body = message.get_content()
    assert f"{BASE_URL}/directory/PIX%20Task%20Mining/4.13/" in body
    assert "Large exports no longer crash" in body and "CSV export" not in body
    for line in (dist / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((dist / name).read_bytes()).hexdigest() == digest
        assert f"{digest}  {name}" in body
    assert h.request(key)["status"] == "completed"
    assert h.app.tracker.get_request(key).status.value == "completed"

    # Publishing again (as a function this time) resumes nothing and mails nobody.
    again = publish_release(h.app, dist, product=PRODUCT, version="4.13")
    assert again.resumed and again.notified == []
    h.run()
    assert len(build_mails(h)) == 1

    listed = runner.invoke(cli, [*settings, "release", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert (row["product"], row["version"], row["status"]) == (PRODUCT, "4.13", "published")
    assert row["published"][0]["url"] == f"{BASE_URL}/directory/PIX%20Task%20Mining/4.13/"
    assert row["notified"] == [key]


def test_an_interrupted_publish_resumes_and_mails_exactly_once(
    make: Callable[..., Harness], tmp_path: Path
) -> None:
    flaky = Flaky(failures=1)
    h = make(publishers=("directory", "flaky"), plugins=(flaky,))
    key = customer_request(h)
    mark_waiting(h.app, key, PRODUCT, "4.13", by="anna")
    dist = dist_413(tmp_path, key)

    first = publish_release(h.app, dist, product=PRODUCT, version="4.13")
    assert first.status == "publishing" and first.notified == []
    h.run()
    assert build_mails(h) == [] and h.request(key)["status"] != "completed"

    second = publish_release(h.app, dist, product=PRODUCT, version="4.13")
    assert second.status == "published" and second.notified == [key]
    third = publish_release(h.app, dist, product=PRODUCT, version="4.13")
    assert third.notified == []
    h.run()
    [message] = build_mails(h)
    assert "/flaky/PIX%20Task%20Mining/4.13/" in message.get_content()
    assert h.request(key)["status"] == "completed"
    assert flaky.calls == 2


def test_publish_command_reports_refusals_and_incomplete_runs(h: Harness, tmp_path: Path) -> None:
    settings = ["--settings", str(settings_file(h))]
    runner = CliRunner()
    empty = make_dist(tmp_path, "4.13", changes={}, docs=())
    refused = runner.invoke(
        cli, [*settings, "release", "publish", str(empty), "--product", PRODUCT, "--version",
              "4.13", "--json"],
    )  # fmt: skip
    assert refused.exit_code == 1
    problems = json.loads(refused.stdout)["problems"]
    assert {p["code"] for p in problems} == {"generation_docs_missing", "no_changes"}
    text = runner.invoke(
        cli,
        [*settings, "release", "publish", str(empty), "--product", PRODUCT, "--version", "4.13"],
    )
    assert text.exit_code == 1 and "add a non-empty INSTALL.md" in text.stderr
    dry = runner.invoke(
        cli, [*settings, "release", "publish", str(dist_413(tmp_path, "SUP-1")), "--product",
              PRODUCT, "--version", "4.13", "--dry-run"],
    )  # fmt: skip
    assert dry.exit_code == 0, dry.output
    assert f"{PRODUCT} 4.13: would publish" in dry.stdout
    assert "directory        planned" in dry.stdout


def test_publish_command_fails_until_every_publisher_has_the_release(
    h: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ["--settings", str(settings_file(h))]
    args = [*settings, "release", "publish", str(dist_413(tmp_path, "SUP-1")), "--product",
            PRODUCT, "--version", "4.13"]  # fmt: skip
    real = DirectoryPublisher.publish

    def unreachable(self: DirectoryPublisher, manifest: ReleaseManifest) -> PublishedRelease:
        raise TransientAdapterError("the file share is not reachable")

    monkeypatch.setattr(DirectoryPublisher, "publish", unreachable)
    failed = CliRunner().invoke(cli, args)
    assert failed.exit_code == 2
    assert "not reachable" in failed.stdout
    assert "run the same command again to resume" in failed.stderr
    monkeypatch.setattr(DirectoryPublisher, "publish", real)
    resumed = CliRunner().invoke(cli, args)
    assert resumed.exit_code == 0, resumed.output
    assert f"{PRODUCT} 4.13: published (resumed)" in resumed.stdout
