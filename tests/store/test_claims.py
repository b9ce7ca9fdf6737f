"""Claims and leases: several instances on one database, on every backend.

Each instance is a :class:`StateStore` on a connection of its own (``open_store()``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from pixbridge.store.claims import mailbox_role
from pixbridge.store.state import StateStore

AT = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)
Open = Callable[[], StateStore]


def _accept(store: StateStore, count: int, sender: str | None = None) -> list[int]:
    first = len(store.messages(limit=100_000))
    return [
        store.accept("mb", f"r{first + n}", b"x", AT, sender=sender or f"c{first + n}@x.example")
        for n in range(count)
    ]


def test_two_instances_share_the_work_without_overlap(open_store: Open) -> None:
    a, b = open_store(), open_store()
    ids = _accept(a, 5)
    got_a = a.claim_work("a", AT, TTL, 3)
    got_b = b.claim_work("b", AT, TTL, 3)
    assert [m.id for m in got_a] == ids[:3]
    assert [m.id for m in got_b] == ids[3:]
    assert all(m.claimed_by == "a" and m.claim_until == AT + TTL for m in got_a)
    assert a.claim_work("a", AT, TTL, 3) == got_a, "claiming again renews one's own claims"
    assert b.claim_work("b", AT, TTL, 3) == got_b
    assert b.message(ids[0]).claimed_by == "a"


def test_claims_follow_priority_then_arrival_and_skip_what_is_not_due(store: StateStore) -> None:
    ids = _accept(store, 4)
    store.update_message(ids[3], priority_rank=10)
    store.update_message(ids[0], next_attempt_at=AT + timedelta(minutes=1))
    store.update_message(ids[1], state="done")
    assert [m.id for m in store.claim_work("a", AT, TTL, 10)] == [ids[3], ids[2]]
    later = AT + timedelta(minutes=1)
    assert [m.id for m in store.claim_work("b", later, TTL, 10)] == [ids[0]]


def test_an_expired_claim_is_taken_over(open_store: Open) -> None:
    a, b = open_store(), open_store()
    ids = _accept(a, 2)
    a.claim_work("a", AT, TTL, 10)
    assert b.claim_work("b", AT + TTL - timedelta(seconds=1), TTL, 10) == []
    taken = b.claim_work("b", AT + TTL, TTL, 10)
    assert [m.id for m in taken] == ids
    assert {m.claimed_by for m in taken} == {"b"}


def test_a_senders_later_message_waits_while_another_instance_has_an_earlier_one(
    open_store: Open,
) -> None:
    a, b = open_store(), open_store()
    first, second = _accept(a, 2, sender="Same@X.example")
    other = _accept(a, 1)[0]
    assert [m.id for m in a.claim_work("a", AT, TTL, 1)] == [first]
    # b may not take the same sender's reply while a works on the first message...
    assert [m.id for m in b.claim_work("b", AT, TTL, 10)] == [other]
    # ...a itself may; and once a is done (or its claim ran out) b may too.
    a.update_message(first, state="done")
    assert [m.id for m in b.claim_work("b", AT, TTL, 10)] == [second, other]


def test_the_sender_rule_ignores_unknown_senders_and_expired_claims(open_store: Open) -> None:
    a, b = open_store(), open_store()
    m1 = a.accept("mb", "n1", b"x", AT)
    m2 = a.accept("mb", "n2", b"x", AT)  # no sender known yet: nothing to keep in order
    a.claim_work("a", AT, TTL, 1)
    assert [m.id for m in b.claim_work("b", AT, TTL, 10)] == [m2]
    s1, s2 = _accept(a, 2, sender="late@x.example")
    a.claim_work("a", AT, timedelta(seconds=10), 1)  # takes s1? m1 is a's already: renewed
    assert a.message(m1).claimed_by == "a"
    later = AT + timedelta(seconds=10)
    claimed = [m.id for m in b.claim_work("b", later, TTL, 10)]
    assert s1 in claimed and s2 in claimed


def test_released_claims_are_free_for_anyone(open_store: Open) -> None:
    a, b = open_store(), open_store()
    ids = _accept(a, 3)
    a.claim_work("a", AT, TTL, 3)
    a.release_claim(ids[0], holder="b")  # not b's: nothing happens
    assert b.claim_work("b", AT, TTL, 3) == []
    a.release_claim(ids[0], holder="a")
    assert [m.id for m in b.claim_work("b", AT, TTL, 3)] == [ids[0]]
    b.release_claim(ids[0])
    assert a.release_claims("a") == 2
    assert [m.id for m in b.claim_work("b", AT, TTL, 3)] == ids


def test_outbox_claims(open_store: Open) -> None:
    a, b = open_store(), open_store()
    for n in range(4):
        a.enqueue(
            message_id=f"<{n}@pix>", cause=f"c{n}", request_key=None, purpose="acknowledgement",
            recipient="x@y", raw=b"m", at=AT,
        )  # fmt: skip
    due = a.outbox_due(AT, 10)
    a.outbox_failed(due[1].id, "421", retry_at=AT + timedelta(minutes=1), permanent=False)
    got_a = a.claim_outbox("a", AT, TTL, 2)
    got_b = b.claim_outbox("b", AT, TTL, 2)
    assert [o.cause for o in got_a] == ["c0", "c2"]
    assert [o.cause for o in got_b] == ["c3"]
    assert got_a[0].claimed_by == "a" and got_a[0].raw == b"m"
    b.outbox_sent(got_b[0].id, AT)
    b.release_outbox_claim(got_b[0].id, holder="b")
    assert [o.cause for o in b.claim_outbox("b", AT + timedelta(minutes=1), TTL, 10)] == ["c1"]
    a.release_outbox_claim(got_a[0].id, holder="a")
    assert [o.cause for o in b.claim_outbox("b", AT, TTL, 10)] == ["c0"]  # c1 is not due
    assert a.release_claims("a") == 1


def test_leases_one_holder_at_a_time(open_store: Open) -> None:
    a, b = open_store(), open_store()
    assert a.acquire_lease("poll:mb", "a", AT, TTL)
    assert not b.acquire_lease("poll:mb", "b", AT + timedelta(minutes=1), TTL)
    # Renewing keeps when it was taken and moves the expiry.
    assert a.acquire_lease("poll:mb", "a", AT + timedelta(minutes=4), TTL)
    lease = b.lease("poll:mb")
    assert lease is not None
    assert (lease.holder, lease.acquired_at, lease.renewed_at) == (
        "a", AT, AT + timedelta(minutes=4),
    )  # fmt: skip
    assert lease.expires_at == AT + timedelta(minutes=9)
    assert not b.acquire_lease("poll:mb", "b", AT + timedelta(minutes=8), TTL)
    # Expired: anyone may take it.
    assert b.acquire_lease("poll:mb", "b", AT + timedelta(minutes=9), TTL)
    taken = a.lease("poll:mb")
    assert taken is not None and (taken.holder, taken.acquired_at) == (
        "b", AT + timedelta(minutes=9),
    )  # fmt: skip
    assert not a.release_lease("poll:mb", "a"), "only the holder releases"
    assert b.release_lease("poll:mb", "b")
    assert a.lease("poll:mb") is None
    assert a.acquire_lease("poll:mb", "a", AT + timedelta(minutes=9), TTL)
    assert a.acquire_lease("sync:jira", "b", AT, TTL), "leases are independent"


def test_racing_instances_never_claim_one_message_twice(open_store: Open) -> None:
    setup = open_store()
    ids = _accept(setup, 60)
    claimed: dict[str, list[int]] = {}
    leases: dict[str, int] = {}
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        store = open_store()  # a connection belongs to the thread that opened it
        try:
            start.wait()
            mine = claimed.setdefault(name, [])
            leases[name] = sum(
                store.acquire_lease("race", name, AT + timedelta(seconds=n), TTL) for n in range(20)
            )
            while rows := store.claim_work(name, AT, TTL, 4):
                mine.extend(m.id for m in rows)
                for m in rows:
                    store.update_message(m.id, state="done")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(f"i{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    every = [m for ids_ in claimed.values() for m in ids_]
    assert sorted(every) == ids, "each message claimed exactly once"
    winners = [n for n, won in leases.items() if won]
    assert len(winners) == 1 and leases[winners[0]] == 20, leases


def test_whether_other_instances_still_hold_work(open_store: Open) -> None:
    a, b = open_store(), open_store()
    [message] = _accept(a, 1)
    assert not a.held_by_others("a", AT)
    b.claim_work("b", AT, TTL, 1)
    assert a.held_by_others("a", AT) and not b.held_by_others("b", AT)
    assert not a.held_by_others("a", AT + TTL), "an expired claim holds nothing"
    b.release_claim(message)
    assert not a.held_by_others("a", AT)
    b.enqueue(
        message_id="<1@pix>", cause="c", request_key=None, purpose="acknowledgement",
        recipient="x@y", raw=b"m", at=AT,
    )  # fmt: skip
    b.claim_outbox("b", AT, TTL, 1)
    assert a.held_by_others("a", AT)
    b.release_claims("b")
    assert not a.held_by_others("a", AT)
    b.acquire_lease("sync:local", "b", AT, TTL)
    # Only the mailbox role is waited for: two instances each holding one role and waiting for
    # the other's would never finish a pass.
    assert not a.held_by_others("a", AT)
    b.acquire_lease(mailbox_role("maildir"), "b", AT, TTL)
    assert a.held_by_others("a", AT) and not a.held_by_others("a", AT + TTL)
    assert not b.held_by_others("b", AT)


def test_keeping_claims_renews_ones_own_and_gives_up_what_another_took(open_store: Open) -> None:
    a, b = open_store(), open_store()
    ids = _accept(a, 4)
    a.claim_work("a", AT, TTL, 10)
    a.update_message(ids[3], state="done")
    taken = b.claim_work("b", AT + TTL, TTL, 1)  # a's claims ran out; b takes the first
    assert [m.id for m in taken] == [ids[0]]
    later = AT + TTL + timedelta(seconds=1)
    assert a.keep_claims("messages", ids, "a", later, TTL) == {ids[1], ids[2]}
    assert a.message(ids[1]).claim_until == later + TTL
    again = b.claim_work("b", later, TTL, 10)
    assert [m.id for m in again] == [ids[0]], "what a kept is not free; b renews its own"
    assert a.keep_claims("messages", [], "a", later, TTL) == set()
    with pytest.raises(ValueError, match="no claims in table"):
        a.keep_claims("requests", ids, "a", later, TTL)


def test_keeping_outbox_claims(open_store: Open) -> None:
    a, b = open_store(), open_store()
    for n in range(3):
        a.enqueue(
            message_id=f"<{n}@pix>", cause=f"c{n}", request_key=None, purpose="acknowledgement",
            recipient="x@y", raw=b"m", at=AT,
        )  # fmt: skip
    got = a.claim_outbox("a", AT, TTL, 10)
    a.outbox_sent(got[0].id, AT)
    b.claim_outbox("b", AT + TTL, TTL, 1)  # takes c1, the first one still pending
    held = a.keep_claims("outbox", [o.id for o in got], "a", AT + TTL, TTL)
    assert held == {got[2].id}
