"""The support lifecycle end to end with the state on PostgreSQL (Maildir + local tracker)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pixbridge_postgres
import pytest
from lifecycle_helpers import SAMPLES, TEMPLATES, mail

from pixbridge.observability.metrics import Metrics
from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock


@pytest.fixture
def h(tmp_path: Path, pg_schema: tuple[str, str]) -> Iterator[Harness]:
    url, schema = pg_schema
    harness = Harness(
        tmp_path,
        templates_dir=TEMPLATES,
        clock=FakeClock(),
        extra_plugins=[("postgres", pixbridge_postgres)],
        store={"backend": "postgresql", "url": url, "schema": schema},
        triage={"assignment": {"strategy": "round_robin", "teams": {"tm": ["anna", "boris"]},
                               "default_team": "tm"}},
    )  # fmt: skip
    yield harness
    harness.close()


def test_requests_replies_and_answers_on_postgres(h: Harness) -> None:
    assert h.app.store.db.dialect == "postgresql"
    for sample in sorted(SAMPLES.glob("0*.eml")):
        h.deliver(sample.read_bytes())
    duplicate = mail(message_id="<twice@customer.example>", sender="kim@other.example")
    h.deliver(duplicate)
    h.deliver(duplicate)
    result = h.run()
    assert (result.accepted, result.sent) == (6, 3)
    keys = h.keys()
    assert keys == ["SUP-1", "SUP-2", "SUP-3"]
    # Round-robin turns live in the store: three requests, alternating.
    assert [h.request(k)["assignee"] for k in keys] == ["anna", "boris", "anna"]
    outcomes = sorted(m.outcome or "" for m in h.app.store.messages())
    assert outcomes == ["automated", "comment", "duplicate", "new_request", "new_request",
                        "new_request"]  # fmt: skip
    acks = h.sent()
    assert [m["To"] for m in acks] == [
        "john.smith@customer.example", "ivanov@zavod.example", "kim@other.example",
    ]  # fmt: skip
    assert all(m["Subject"].startswith(f"[{k}] ") for m, k in zip(acks, keys, strict=True))
    assert all(m.mailbox_acked for m in h.app.store.messages()), "the mailbox was told"

    # The agent answers and completes; the customer gets both, once.
    tracker = h.app.tracker
    tracker.comment("SUP-1", "Could you send the project file?", public=True, author="anna")
    tracker.complete("SUP-1", "Fixed in build 4.13.", author="anna")
    h.run()
    h.run()
    mails = h.sent()
    assert len(mails) == 5
    assert "Fixed in build 4.13." in mails[-1].get_content()
    assert h.app.store.request("SUP-1").status == "completed"  # type: ignore[union-attr]
    # The event log and the metrics probe read the same database.
    activities = [e["activity"] for e in h.app.store.events("SUP-1")]
    assert activities[0] == "registered" and "completed" in activities, activities
    backlog = Metrics(h.app).probe.backlog()
    assert backlog.waiting == 0 and backlog.outbox_depth == 0
    assert backlog.outcomes["new_request"] == 3
