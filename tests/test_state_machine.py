"""A hypothesis state machine over the embedded default: deliver, duplicate, crash, restart, fail.

Issue 10 item 3, T12(d) of the reliability notes. Random interleavings of customer mail
(new requests, replies, automated mail, the same bytes delivered twice), passes, crashes at a
named crash point, restarts over the same data directory, tracker outages (with and without a
lost create response) and agents' comments and completions. After every step nothing may be
duplicated or quarantined; after a final drain every distinct message is accounted for exactly
once, every request was created and acknowledged exactly once, and every public agent action was
mailed exactly once.

A crash is simulated in-process: the crash points raise a private ``BaseException`` that no
pipeline code catches, the open transactions roll back (what a killed process leaves on either
backend: committed transactions only; SQLite by its journal, PostgreSQL when the connection
drops), and the instance is closed and rebuilt on the same data directory and database.

The machine runs on each state store backend, every example on a fresh database (PostgreSQL: a new
schema). The two runs share the example budget the machine had on SQLite alone, to keep the
runtime in check (a PostgreSQL example takes about twice as long: a round trip per statement).
"""

from __future__ import annotations

import ast
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, ClassVar

import pixbridge_postgres
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from lifecycle_helpers import TEMPLATES, mail

from pixbridge import faults
from pixbridge.errors import TransientAdapterError
from pixbridge.lifecycle import delivery, inbound, mailbox, outbound
from pixbridge.lifecycle.orchestrator import PassResult
from pixbridge.store.state import StateStore
from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock

CUSTOMERS = ("anna@client1.example", "boris@client2.example", "chen@client3.example")
RETRY_DELAY = 10.0
"""Seconds before failed work is due again; a run rule may or may not let it pass."""
DRAIN_PASSES = 12
EXAMPLES_PER_BACKEND = 50
"""Half of the 100 examples the machine ran on SQLite alone (see the module docstring)."""
PROBE = "test:crash-probe"
"""A watermark no stage reads: written after each crash to show no transaction was left open."""

# Every module that imported ``crashpoint`` by name, and the definition itself.
_CRASH_MODULES: tuple[Any, ...] = (faults, inbound, mailbox, delivery, outbound)


class _Crash(BaseException):
    """The process died here (SIGKILL): nothing in the pipeline may catch it."""


class _Armed:
    """A crash waiting to happen: the *hit*-th arrival at crash point *point* kills the process."""

    def __init__(self, point: str, hit: int) -> None:
        self.point = point
        self.hit = hit
        self.hits = 0

    def __call__(self, name: str) -> None:
        if name == self.point:
            self.hits += 1
            if self.hits >= self.hit:
                raise _Crash(f"{self.point}:{self.hit}")


@contextmanager
def _crashpoints(replacement: _Armed) -> Iterator[None]:
    """Route every ``crashpoint(...)`` call of the pipeline to *replacement* for the block."""
    saved = [(module, module.crashpoint) for module in _CRASH_MODULES]
    for module, _ in saved:
        module.crashpoint = replacement
    try:
        yield
    finally:
        for module, original in saved:
            module.crashpoint = original


@dataclass
class Delivered:
    """One distinct customer message and what must become of it."""

    raw: bytes
    kind: str
    """``new``, ``reply`` or ``automated``."""
    copies: int = 1
    reply_to: str | None = None
    target_completed: bool = False
    """Whether the request replied to was already completed when the reply arrived."""

    def outcomes(self, completed: set[str]) -> set[str]:
        """The outcomes this message may end with, given the requests completed by now."""
        if self.kind == "new":
            return {"new_request"}
        if self.kind == "automated":
            return {"automated"}
        if self.target_completed:
            return {"followup"}
        if self.reply_to in completed:  # completed after delivery: depends on the pass order
            return {"comment", "followup"}
        return {"comment"}


@contextmanager
def _fresh_store(backend: str) -> Iterator[dict[str, Any]]:
    """``[store]`` settings for a new, empty database of *backend* (the SQLite file lives in
    the data directory, which each example creates afresh)."""
    if backend == "sqlite":
        yield {"backend": "sqlite"}
        return
    from pixbridge_postgres.testing import fresh_schema

    with fresh_schema() as (url, schema):
        yield {"backend": "postgresql", "url": url, "schema": schema}


def _assert_no_transaction_open(store: StateStore, mark: str, at: datetime) -> None:
    """Nothing left open on the store's connection: a write outside a transaction block commits
    at once, so another connection sees it (were a transaction still open on the driver's
    connection, the write would join it and stay invisible)."""
    assert not store.db.in_transaction
    store.set_watermark(PROBE, mark, at)
    with store.db.snapshot() as reader:
        row = reader.execute("SELECT value FROM watermarks WHERE name = ?", (PROBE,)).fetchone()
    assert row is not None and row[0] == mark, "a transaction was left open after the crash"


class Pipeline(RuleBasedStateMachine):
    """pixbridge over one data directory, driven by random rules; see the module docstring."""

    backend: ClassVar[str] = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="pixbridge-sm-"))
        self._cleanup = ExitStack()
        self._cleanup.callback(shutil.rmtree, self.root, ignore_errors=True)
        self.clock = FakeClock()
        self.failures_left = 0
        self.lose_response = False
        self.delivered: dict[str, Delivered] = {}
        self.deliveries = 0
        self.completed: set[str] = set()
        self.public_tokens: dict[str, str] = {}
        """Body token of each public agent comment or completion answer -> its request."""
        self.internal_tokens: list[str] = []
        self.crashes = 0
        self.armed: _Armed | None = None
        self._parsed: dict[str, EmailMessage] = {}
        try:
            self.store_settings = self._cleanup.enter_context(_fresh_store(self.backend))
            self.h = self._start()
        except BaseException:
            self._cleanup.close()
            raise

    # ------------------------------------------------------------------ instance

    def _start(self) -> Harness:
        h = Harness(
            self.root,
            templates_dir=TEMPLATES,
            clock=self.clock,
            store=self.store_settings,
            extra_plugins=[("postgres", pixbridge_postgres)],
            lifecycle={
                "retry_delay": RETRY_DELAY,
                "retry_delay_max": 60.0,
                # The per-sender cap would hold acknowledgements back by design; it has tests
                # of its own. Here every request must get exactly one.
                "acks_per_sender_per_hour": 10_000,
            },
        )
        tracker = h.app.tracker
        original = tracker.create_request

        def create_request(draft: Any) -> str:
            if self.failures_left > 0:
                self.failures_left -= 1
                if self.lose_response:
                    original(draft)  # the tracker committed; the answer never arrived
                raise TransientAdapterError("503 Service Unavailable (injected)")
            return original(draft)

        tracker.create_request = create_request  # type: ignore[method-assign]
        return h

    def _pass(self) -> PassResult | None:
        """One pass; if an armed crash point fires, the process dies and is started again."""
        armed = self.armed
        if armed is None:
            return self.h.run()
        with _crashpoints(armed):
            try:
                return self.h.run()
            except _Crash:
                pass
        self.armed = None
        self.crashes += 1
        # What SIGKILL leaves: committed transactions only, none left open.
        _assert_no_transaction_open(self.h.app.store, str(self.crashes), self.clock.now())
        tracker_conn = getattr(self.h.app.tracker, "_conn", None)
        assert tracker_conn is None or not tracker_conn.in_transaction
        files = self._files()
        self._restart()
        assert self._files() == files, "what was written before the crash stays"
        return None

    def _restart(self) -> None:
        # A killed process cleans nothing up: only the connections go away with it.
        self.h.close()
        self.h = self._start()

    def teardown(self) -> None:
        """Drain the backlog, check the final accounting, then remove the data directory."""
        try:
            self._drain()
            self._check_final()
        finally:
            try:
                self.h.close()
            finally:
                self._cleanup.close()  # the data directory, and a PostgreSQL schema

    # ------------------------------------------------------------------ rules

    @initialize(senders=st.lists(st.integers(0, len(CUSTOMERS) - 1), min_size=1, max_size=4))
    def backlog(self, senders: list[int]) -> None:
        """Start with a few new requests waiting, so crashes have work to interrupt."""
        for sender in senders:
            self.deliver(sender, "new", 0)
        self.h.run()

    @rule(
        sender=st.integers(0, len(CUSTOMERS) - 1),
        kind=st.sampled_from(["new", "reply", "automated"]),
        pick=st.integers(0, 20),
    )
    def deliver(self, sender: int, kind: str, pick: int) -> None:
        """A new customer message: a new request, a reply to an existing one, or automated."""
        n = len(self.delivered) + 1
        message_id = f"<sm-{n}@customer.example>"
        keys = self.h.keys()
        if kind == "reply" and keys:
            key = keys[pick % len(keys)]
            request = self.h.app.store.request(key)
            assert request is not None
            raw = mail(
                sender=request.customer,
                subject=f"Re: [{key}] {request.summary}",
                body=f"More about message {n}.\nWindows 11 Pro 23H2\nSerial number: PTM-2024-00173",
                message_id=message_id,
            )
            entry = Delivered(raw, "reply", reply_to=key, target_completed=key in self.completed)
        elif kind == "automated":
            raw = mail(
                sender=CUSTOMERS[sender],
                subject=f"Out of office {n}",
                message_id=message_id,
                headers={"Auto-Submitted": "auto-replied"},
            )
            entry = Delivered(raw, "automated")
        else:
            raw = mail(sender=CUSTOMERS[sender], subject=f"Problem {n}", message_id=message_id)
            entry = Delivered(raw, "new")
        self.delivered[message_id] = entry
        self.h.deliver(raw)
        self.deliveries += 1

    @rule(pick=st.integers(0, 20))
    def deliver_duplicate(self, pick: int) -> None:
        """The same bytes again under a new Maildir file name (a redelivery)."""
        entries = list(self.delivered.values())
        entry = entries[pick % len(entries)]
        entry.copies += 1
        self.h.deliver(entry.raw)
        self.deliveries += 1

    @rule(advance=st.sampled_from([0.0, RETRY_DELAY + 1]))
    def run(self, advance: float) -> None:
        """One pass, with or without letting failed work come due."""
        self.clock.advance(seconds=advance)
        self._pass()

    @rule(point=st.sampled_from(faults.POINTS), hit=st.integers(1, 2))
    def arm_crash(self, point: str, hit: int) -> None:
        """From now on, the *hit*-th arrival at *point* kills the process (then it restarts)."""
        self.armed = _Armed(point, hit)

    @rule()
    def restart(self) -> None:
        """A clean restart (a deployment): nothing may change on the way."""
        files = self._files()
        self._restart()
        assert self._files() == files, "a restart must not touch the Maildirs"

    @rule(times=st.integers(1, 3), lose_response=st.booleans())
    def tracker_fails(self, times: int, lose_response: bool) -> None:
        """The next *times* creates fail (503), optionally after the tracker committed them."""
        self.failures_left = times
        self.lose_response = lose_response

    @rule(pick=st.integers(0, 20), public=st.booleans())
    def agent_comments(self, pick: int, public: bool) -> None:
        """An agent comments on a request in the tracker (nothing while there is none)."""
        keys = self.h.keys()
        if not keys:
            return
        key = keys[pick % len(keys)]
        token = f"agent-token-{len(self.public_tokens) + len(self.internal_tokens) + 1}"
        self.h.app.tracker.comment(key, f"Note {token} from support.", public=public, author="ivan")
        if public:
            self.public_tokens[token] = key
        else:
            self.internal_tokens.append(token)

    @rule(pick=st.integers(0, 20))
    def agent_completes(self, pick: int) -> None:
        """An agent completes an open request with an answer (nothing while there is none)."""
        registered = self.h.keys()  # a list from the harness, not a dict view
        keys = [k for k in registered if k not in self.completed]
        if not keys:
            return
        key = keys[pick % len(keys)]
        token = f"agent-token-{len(self.public_tokens) + len(self.internal_tokens) + 1}"
        self.h.app.tracker.complete(key, f"Answer {token}: fixed.", author="ivan")
        self.completed.add(key)
        self.public_tokens[token] = key

    # ------------------------------------------------------------------ invariants

    @invariant()
    def nothing_duplicated_or_quarantined(self) -> None:
        """At every moment: no second request, acknowledgement or agent mail; no quarantine."""
        store = self.h.app.store
        assert store.messages(state="quarantined") == []
        created = self._created()
        markers = Counter(marker for _, marker in created)
        assert all(n == 1 for n in markers.values()), f"two requests with one marker: {created}"
        wanted = sum(1 for d in self.delivered.values() if d.kind != "automated")
        assert len(created) <= wanted, f"{len(created)} requests for {wanted} messages"
        keys = set(self.h.keys())
        assert keys <= {key for key, _ in created}
        acks = Counter(self._key_of(m) for m in self._sent() if m["Auto-Submitted"])
        assert all(n == 1 for n in acks.values()), f"acknowledged twice: {acks}"
        # An acknowledgement only once the request is recorded (same transaction).
        assert set(acks) <= keys, f"acknowledged {set(acks) - keys} before registering"
        for token, n in self._token_counts().items():
            assert n <= (1 if token in self.public_tokens else 0), f"{token} mailed {n} times"
        # No mail lost on the mailbox side: each delivered file is in the inbox or processed.
        assert (
            self._count("inbox", "new")
            + self._count("inbox", "cur")
            + self._count("processed", "cur")
            == self.deliveries
        )
        assert self._count("quarantine", "cur") == 0

    # ------------------------------------------------------------------ drain and accounting

    def _drain(self) -> None:
        for _ in range(DRAIN_PASSES):
            self.clock.advance(seconds=RETRY_DELAY * 10)
            result = self._pass()  # an armed crash still fires: restart until quiescent
            store = self.h.app.store
            idle = (
                result is not None
                and not result.busy
                and not store.messages(state="accepted")
                and not store.messages(state="registering")
                and store.outbox_depth() == 0
                and not store.unacknowledged("maildir")
            )
            if idle:  # injected failures nobody met are an outage that ended unnoticed
                return
        raise AssertionError(f"not idle after {DRAIN_PASSES} passes")

    def _check_final(self) -> None:
        store = self.h.app.store
        self.nothing_duplicated_or_quarantined()
        rows = store.messages(limit=100_000)
        assert len(rows) == self.deliveries, "every delivered file accepted exactly once"
        by_id: dict[str | None, list[Any]] = {}
        for row in rows:
            by_id.setdefault(row.message_id, []).append(row)
        assert set(by_id) == set(self.delivered), "messages accepted that nobody delivered"
        registered: dict[str, str] = {}
        for message_id, entry in self.delivered.items():
            copies = by_id[message_id]
            assert len(copies) == entry.copies
            assert all(r.state == "done" and r.mailbox_acked for r in copies), copies
            outcomes = sorted(r.outcome or "" for r in copies)
            handled = [r for r in copies if r.outcome != "duplicate"]
            assert len(handled) == 1, f"{message_id} accounted for as {outcomes}"
            [row] = handled
            assert row.outcome in entry.outcomes(self.completed), (message_id, row.outcome)
            if row.outcome in ("new_request", "followup"):
                assert row.request_key not in registered.values()
                registered[message_id] = row.request_key
            if row.outcome == "comment":
                assert row.request_key == entry.reply_to
                self._assert_one_comment(row.request_key, row.marker)
        created = self._created()
        assert sorted(key for key, _ in created) == sorted(registered.values())
        assert sorted(self.h.keys()) == sorted(registered.values())
        acks = Counter(self._key_of(m) for m in self._sent() if m["Auto-Submitted"])
        assert acks == Counter(registered.values()), "one acknowledgement per request"
        tokens = self._token_counts()
        assert {t: tokens.get(t, 0) for t in self.public_tokens} == dict.fromkeys(
            self.public_tokens, 1
        ), "every public agent comment and completion mailed once"
        for message in self._sent():
            token = next((t for t in self.public_tokens if _mentions(_text(message), t)), None)
            if token is not None:
                assert self._key_of(message) == self.public_tokens[token]
        assert self._count("inbox", "new") + self._count("inbox", "cur") == 0
        assert self._count("processed", "cur") == self.deliveries

    def _assert_one_comment(self, key: str | None, marker: str | None) -> None:
        assert key is not None and marker
        trail = self.h.app.tracker.audit_trail(key)  # type: ignore[attr-defined]
        comments = [e for e in trail if e.action == "comment" and e.detail.get("marker") == marker]
        assert len(comments) == 1, f"{len(comments)} comments with marker {marker} on {key}"

    # ------------------------------------------------------------------ observations

    def _created(self) -> list[tuple[str, str]]:
        """(key, marker) of every request the tracker holds."""
        trail = self.h.app.tracker.audit_trail()  # type: ignore[attr-defined]
        return [(e.key, e.detail.get("marker")) for e in trail if e.action == "create"]

    def _sent(self) -> list[EmailMessage]:
        parser = BytesParser(policy=policy.default)
        out = []
        for path in self.h.sent_files():
            if path.name not in self._parsed:
                self._parsed[path.name] = parser.parsebytes(path.read_bytes())
            out.append(self._parsed[path.name])
        return out

    def _token_counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for message in self._sent():
            text = _text(message)
            for token in (*self.public_tokens, *self.internal_tokens):
                if _mentions(text, token):
                    counts[token] += 1
        return counts

    @staticmethod
    def _key_of(message: EmailMessage) -> str:
        found = mailbox.KEY_IN_SUBJECT.search(str(message["Subject"]))
        assert found, f"mail without a request key: {message['Subject']}"
        return found.group(1)

    def _count(self, folder: str, sub: str) -> int:
        path = self.h.data_dir / "mail" / folder / sub
        return len(list(path.iterdir())) if path.is_dir() else 0

    def _files(self) -> set[str]:
        mail_dir = self.h.data_dir / "mail"
        return {str(p.relative_to(mail_dir)) for p in mail_dir.rglob("*") if p.is_file()}


def _mentions(text: str, token: str) -> bool:
    """Whether *text* names *token* (``agent-token-1`` is not named by ``agent-token-10``)."""
    return f"{token} " in text or f"{token}:" in text


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body is not None else ""


class PostgresPipeline(Pipeline):
    """The same machine on PostgreSQL (a class of its own: the example database tells the two
    apart, and a failure prints ``state = PostgresPipeline()``, which replays it)."""

    backend = "postgresql"


MACHINES: dict[str, type[Pipeline]] = {"sqlite": Pipeline, "postgresql": PostgresPipeline}

SETTINGS = settings(
    max_examples=EXAMPLES_PER_BACKEND,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_every_crash_point_is_routed_to_the_machine() -> None:
    # A module calling crashpoint() that _CRASH_MODULES misses would never crash here, and the
    # machine would pass without ever testing that point.
    package = Path(faults.__file__).parent
    called: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        module = ".".join(("pixbridge", *path.relative_to(package).with_suffix("").parts))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name | ast.Attribute)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) == "crashpoint"
            ):
                [arg] = node.args
                assert isinstance(arg, ast.Constant), f"{module}: crash point not a literal"
                called.setdefault(module, set()).add(arg.value)
    assert set(called) <= {m.__name__ for m in _CRASH_MODULES}, set(called)
    assert set().union(*called.values()) == set(faults.POINTS)


def test_pipeline(store_backend: str) -> None:
    run_state_machine_as_test(MACHINES[store_backend], settings=SETTINGS)
