"""``publish_release``: manifest and checksums, recorded steps, idempotence, resuming, refusals."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from release_helpers import BASE_URL, Flaky, entry, make_dist

from pixbridge.errors import PixbridgeError
from pixbridge.releases import ReleaseConflict, ReleaseRefused, publish_release
from pixbridge.releases.state import ReleaseStore
from pixbridge.testing.harness import Harness


def test_publish_writes_checksums_and_records_where_it_went(h: Harness, tmp_path: Path) -> None:
    dist = make_dist(tmp_path, "4.13")
    report = publish_release(h.app, dist, product="PIX", version="4.13")
    assert report.status == "published" and not report.resumed
    sums = (dist / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    names = [line.split("  ")[1] for line in sums]
    assert "pix-setup-4.13.exe" in names and "RELEASE-NOTES.ru.md" in names
    for line in sums:
        digest, name = line.split("  ")
        assert hashlib.sha256((dist / name).read_bytes()).hexdigest() == digest
    [step] = report.steps
    assert (step["publisher"], step["state"]) == ("directory", "done")
    assert step["url"] == f"{BASE_URL}/directory/PIX/4.13/"
    folder = h.root / "published" / "directory" / "PIX" / "4.13"
    assert (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines() == sums
    published = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert published["notes"].startswith("# PIX 4.13")
    [row] = ReleaseStore(h.app.store).releases()
    assert (row.version, row.status, row.identity) == ("4.13", "published", report.identity)


def test_publishing_the_identical_manifest_again_does_nothing(h: Harness, tmp_path: Path) -> None:
    dist = make_dist(tmp_path, "4.13")
    first = publish_release(h.app, dist, product="PIX", version="4.13")
    again = publish_release(h.app, dist, product="PIX", version="4.13")
    assert again.resumed and again.status == "published"
    assert again.steps == first.steps  # attempts unchanged: the publisher was not called
    assert again.files == first.files


def test_a_different_manifest_under_the_same_version_is_refused(h: Harness, tmp_path: Path) -> None:
    dist = make_dist(tmp_path, "4.13")
    publish_release(h.app, dist, product="PIX", version="4.13")
    (dist / "pix-4.13.tar.gz").write_bytes(b"rebuilt")
    (dist / "extra.msi").write_bytes(b"new")
    with pytest.raises(ReleaseConflict) as info:
        publish_release(h.app, dist, product="PIX", version="4.13")
    message = str(info.value)
    assert "extra.msi is new" in message and "pix-4.13.tar.gz changed" in message
    assert "new build number" in message


def test_changed_change_entries_are_a_different_manifest(h: Harness, tmp_path: Path) -> None:
    dist = make_dist(tmp_path, "4.13")
    publish_release(h.app, dist, product="PIX", version="4.13")
    (dist / "changes" / "fix.toml").write_text(entry(en="Reworded"), encoding="utf-8")
    with pytest.raises(ReleaseConflict, match="the change entries differ"):
        publish_release(h.app, dist, product="PIX", version="4.13")


def test_rules_are_checked_against_what_was_published(h: Harness, tmp_path: Path) -> None:
    publish_release(h.app, make_dist(tmp_path, "4.13"), product="PIX", version="4.13")
    older = make_dist(tmp_path, "4.12", changes={"other.toml": entry(en="Other")})
    with pytest.raises(ReleaseRefused) as info:
        publish_release(h.app, older, product="PIX", version="4.12")
    assert "use 14 or higher" in str(info.value)
    # Another product keeps its own numbers.
    report = publish_release(h.app, older, product="PIX Robots", version="4.12")
    assert report.status == "published"


def test_dry_run_checks_and_plans_but_changes_nothing(h: Harness, tmp_path: Path) -> None:
    dist = make_dist(tmp_path, "4.13")
    report = publish_release(h.app, dist, product="PIX", version="4.13", dry_run=True)
    assert report.status == "dry-run"
    assert report.steps == [{"publisher": "directory", "state": "planned", "url": None}]
    assert "RELEASE-NOTES.en.md" in {f["name"] for f in report.files}
    assert not (dist / "SHA256SUMS").exists()
    assert ReleaseStore(h.app.store).releases() == []
    assert not (h.root / "published" / "directory" / "PIX").exists()
    with pytest.raises(ReleaseRefused):
        publish_release(h.app, make_dist(tmp_path, "4.14", docs=(), changes={}), product="PIX",
                        version="4.14", dry_run=True)  # fmt: skip


def test_no_configured_publisher_is_a_clear_error(
    make: Callable[..., Harness], tmp_path: Path
) -> None:
    h = make(publishers=())
    with pytest.raises(PixbridgeError, match=r"\[pipeline\] publishers"):
        publish_release(h.app, make_dist(tmp_path, "4.13"), product="PIX", version="4.13")


def test_a_failed_publisher_is_resumed_and_the_others_are_not_repeated(
    make: Callable[..., Harness], tmp_path: Path
) -> None:
    flaky = Flaky(failures=2)
    h = make(publishers=("directory", "flaky"), plugins=(flaky,))
    dist = make_dist(tmp_path, "4.13")
    first = publish_release(h.app, dist, product="PIX", version="4.13")
    assert first.status == "publishing"
    states = {s["publisher"]: (s["state"], s["attempts"]) for s in first.steps}
    assert states == {"directory": ("done", 1), "flaky": ("failed", 1)}
    assert "not reachable" in first.steps[1]["error"]
    second = publish_release(h.app, dist, product="PIX", version="4.13")
    assert second.status == "publishing" and second.resumed
    third = publish_release(h.app, dist, product="PIX", version="4.13")
    assert third.status == "published"
    states = {s["publisher"]: (s["state"], s["attempts"]) for s in third.steps}
    assert states == {"directory": ("done", 1), "flaky": ("done", 3)}
    assert flaky.calls == 3


def test_a_publisher_configured_later_gets_the_release(
    make: Callable[..., Harness], tmp_path: Path
) -> None:
    dist = make_dist(tmp_path, "4.13")
    h = make()
    publish_release(h.app, dist, product="PIX", version="4.13")
    h.close()
    flaky = Flaky(failures=0)
    later = Harness(h.root, templates_dir=h.settings.templates_dir, extra_plugins=[("f", flaky)],
                    pipeline={**h.settings.pipeline.model_dump(), "publishers": ["directory", "flaky"]},
                    adapters={**h.settings.adapters,
                              "flaky": {"root": str(h.root / "published" / "flaky")}})  # fmt: skip
    try:
        report = publish_release(later.app, dist, product="PIX", version="4.13")
    finally:
        later.close()
    assert [(s["publisher"], s["attempts"]) for s in report.steps] == [
        ("directory", 1),
        ("flaky", 1),
    ]
    assert flaky.calls == 1
