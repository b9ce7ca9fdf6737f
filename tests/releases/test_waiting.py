"""Requests waiting for a build: marking them, mailing their customers once, completing them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lifecycle_helpers import mail
from release_helpers import Flaky, make_dist

from pixbridge.errors import PixbridgeError, TransientAdapterError
from pixbridge.releases import ReleaseRefused, mark_waiting, publish_release
from pixbridge.releases.state import ReleaseStore
from pixbridge.testing.harness import Harness


def registered(h: Harness, *senders: str) -> list[str]:
    for sender in senders:
        h.deliver(mail(sender=sender, subject=f"Problem of {sender}"))
    h.run()
    return h.keys()


def build_mails(h: Harness) -> list[object]:
    return [m for m in h.sent() if "is available" in str(m["Subject"])]


def test_marking_records_the_build_in_the_store_and_the_local_tracker(h: Harness) -> None:
    [key] = registered(h, "john.smith@customer.example")
    result = mark_waiting(h.app, key, "PIX", "4.13", by="anna")
    assert result.in_tracker and not result.notified
    waiting = ReleaseStore(h.app.store).waiting(key)
    assert waiting is not None and (waiting.product, waiting.version, waiting.marked_by) == (
        "PIX", "4.13", "anna",
    )  # fmt: skip
    fields = h.app.tracker.get_request(key).fields
    assert (fields["product"], fields["fix_version"]) == ("PIX", "4.13")
    # Marking again with another build replaces the first mark.
    mark_waiting(h.app, key, "PIX", "4.14", by="anna")
    assert h.app.tracker.get_request(key).fields["fix_version"] == "4.14"
    assert ReleaseStore(h.app.store).waiting_for("PIX", "4.13") == []


@pytest.mark.parametrize(
    ("key", "version", "says"),
    [("SUP-99", "4.13", "no request 'SUP-99'"), ("SUP-1", "4.x", "not generation.build")],
)
def test_marking_refuses_bad_input(h: Harness, key: str, version: str, says: str) -> None:
    registered(h, "john.smith@customer.example")
    with pytest.raises((PixbridgeError, ReleaseRefused), match=says):
        mark_waiting(h.app, key, "PIX", version, by="anna")


def test_a_completed_request_cannot_wait_for_a_build(h: Harness) -> None:
    [key] = registered(h, "john.smith@customer.example")
    h.app.tracker.complete(key, "Solved by a setting.", author="anna")
    h.run()
    with pytest.raises(PixbridgeError, match="already completed"):
        mark_waiting(h.app, key, "PIX", "4.13", by="anna")


def test_a_tracker_without_fix_versions_keeps_the_mark_in_the_store(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    [key] = registered(h, "john.smith@customer.example")

    def unsupported(*args: object) -> None:
        raise NotImplementedError("no fix versions here")

    monkeypatch.setattr(h.app.tracker, "set_fix_version", unsupported)
    result = mark_waiting(h.app, key, "PIX", "4.13", by="anna")
    assert not result.in_tracker and "state store only" in result.tracker_note
    assert ReleaseStore(h.app.store).waiting(key) is not None


def test_every_waiting_customer_is_mailed_once_and_completed(h: Harness, tmp_path: Path) -> None:
    one, two, other = registered(h, "a@customer.example", "b@zavod.example", "c@x.example")
    mark_waiting(h.app, one, "PIX", "4.13", by="anna")
    mark_waiting(h.app, two, "PIX", "4.13", by="anna")
    mark_waiting(h.app, other, "PIX", "4.14", by="anna")
    dist = make_dist(tmp_path, "4.13")
    report = publish_release(h.app, dist, product="PIX", version="4.13")
    assert report.notified == [one, two]
    publish_release(h.app, dist, product="PIX", version="4.13")
    h.run()
    assert sorted(m["To"] for m in build_mails(h)) == ["a@customer.example", "b@zavod.example"]
    for key in (one, two):
        assert h.request(key)["status"] == "completed"
        assert h.app.tracker.get_request(key).status.value == "completed"
    assert h.request(other)["status"] != "completed"
    notes = report.notes["RELEASE-NOTES.en.md"]
    assert f"{one}: Problem of a@customer\\.example" in notes and other not in notes


def test_a_request_completed_by_an_agent_meanwhile_is_not_mailed(
    h: Harness, tmp_path: Path
) -> None:
    [key] = registered(h, "john.smith@customer.example")
    mark_waiting(h.app, key, "PIX", "4.13", by="anna")
    h.app.tracker.complete(key, "A workaround is enough.", author="anna")
    h.run()
    report = publish_release(h.app, make_dist(tmp_path, "4.13"), product="PIX", version="4.13")
    h.run()
    assert report.notified == [] and build_mails(h) == []


def test_waiting_for_a_build_already_out_mails_at_once(h: Harness, tmp_path: Path) -> None:
    publish_release(h.app, make_dist(tmp_path, "4.13"), product="PIX", version="4.13")
    [key] = registered(h, "john.smith@customer.example")
    result = mark_waiting(h.app, key, "PIX", "4.13", by="anna")
    assert result.notified
    h.run()
    assert [m["To"] for m in build_mails(h)] == ["john.smith@customer.example"]
    with pytest.raises(PixbridgeError, match="already completed"):
        mark_waiting(h.app, key, "PIX", "4.13", by="anna")


def test_a_tracker_outage_while_completing_is_retried_by_the_next_publish(
    h: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [key] = registered(h, "john.smith@customer.example")
    mark_waiting(h.app, key, "PIX", "4.13", by="anna")
    real = h.app.tracker.set_status

    def down(*args: object) -> None:
        raise TransientAdapterError("tracker down")

    monkeypatch.setattr(h.app.tracker, "set_status", down)
    dist = make_dist(tmp_path, "4.13")
    report = publish_release(h.app, dist, product="PIX", version="4.13")
    assert report.notified == [key] and report.tracker_pending == [key]
    monkeypatch.setattr(h.app.tracker, "set_status", real)
    again = publish_release(h.app, dist, product="PIX", version="4.13")
    assert again.notified == [] and again.tracker_pending == []
    tracked = h.app.tracker.get_request(key)
    assert tracked.status.value == "completed"
    notes = [c for c in tracked.comments if "was published" in c.body]
    assert len(notes) == 1 and not notes[0].public
    h.run()
    assert len(build_mails(h)) == 1


def test_internal_publishers_links_are_not_mailed(
    make: Callable[..., Harness], tmp_path: Path
) -> None:
    h = make(publishers=("directory", "flaky"), plugins=(Flaky(failures=0, internal=True),))
    [key] = registered(h, "john.smith@customer.example")
    mark_waiting(h.app, key, "PIX", "4.13", by="anna")
    publish_release(h.app, make_dist(tmp_path, "4.13"), product="PIX", version="4.13")
    h.run()
    [message] = build_mails(h)
    body = message.get_content()  # type: ignore[attr-defined]
    assert "/directory/PIX/4.13/" in body and "/flaky/" not in body


def test_local_tracker_fix_version_is_idempotent_and_not_an_agent_change(h: Harness) -> None:
    [key] = registered(h, "john.smith@customer.example")
    tracker = h.app.tracker
    watermark = tracker.changes_since(None).watermark
    tracker.set_fix_version(key, "PIX", "4.13")
    tracker.set_fix_version(key, "PIX", "4.13")
    trail = [e.action for e in tracker.audit_trail(key)]  # type: ignore[attr-defined]
    assert trail.count("fix_version") == 1
    assert tracker.changes_since(watermark).changes == ()
    with pytest.raises(PixbridgeError, match="no request SUP-9"):
        tracker.set_fix_version("SUP-9", "PIX", "4.13")
