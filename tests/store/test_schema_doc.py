"""docs/schema.md: every example report runs, as written, on both store backends."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pixbridge.store.state import RequestRow, StateStore

DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
AT = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def _queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def _fill(store: StateStore) -> None:
    for n, key in enumerate(("SUP-1", "SUP-2")):
        message = store.accept("mb", f"r{n}", b"raw", AT + timedelta(days=n), sender="c@x.example")
        store.update_message(message, state="done", outcome="new_request", request_key=key)
        store.insert_request(
            RequestRow(
                key=key, customer="c@x.example", language="en", status="registered",
                summary="s", priority="high", priority_reason="", assignee="anna" if n else None,
                assignee_reason="", follows=None, origin_message=message, thread_id=None,
                missing=["logs"] if n else [], created_at=AT, updated_at=AT,
            )
        )  # fmt: skip
        store.enqueue(
            message_id=f"<{n}@pix>", cause=f"ack:{message}", request_key=key,
            purpose="acknowledgement", recipient="c@x.example", raw=b"m",
            at=AT + timedelta(minutes=3),
        )  # fmt: skip
        store.log("registered", at=AT, request_key=key)
    store.db.execute(
        "INSERT INTO request_licenses (request_key, verdict, outcome, source, rule, as_of)"
        " VALUES ('SUP-1', 'valid', 'valid', 'registry', 'valid', ?)",
        (AT.isoformat(),),
    )
    store.acquire_lease("mailbox:mb", "host-0", AT, timedelta(minutes=5))
    store.claim_work("host-0", AT, timedelta(minutes=5), 10)


def test_the_document_has_example_reports() -> None:
    assert len(_queries()) >= 8


def test_every_example_report_runs_on_this_backend(store: StateStore) -> None:
    _fill(store)
    results = {}
    for sql in _queries():
        if sql.startswith("-- SQLite") and store.db.dialect != "sqlite":
            continue
        results[sql.splitlines()[0]] = store.db.execute(sql.strip().rstrip(";")).fetchall()
    by_day = results["SELECT substr(received_at, 1, 10) AS day, outcome, COUNT(*) AS messages"]
    assert [tuple(r) for r in by_day] == [("2026-01-15", "new_request", 1),
                                          ("2026-01-16", "new_request", 1)]  # fmt: skip
    acks = results["SELECT r.key, COUNT(o.id) AS acknowledgements"]
    assert [tuple(r) for r in acks] == [("SUP-1", 1), ("SUP-2", 1)]
    history = results["SELECT at, activity, actor"]
    assert [r["activity"] for r in history] == ["registered"]
    if store.db.dialect == "sqlite":
        minutes = results["-- SQLite"]
        assert [r["minutes"] for r in minutes] == [3.0, -1437.0]
