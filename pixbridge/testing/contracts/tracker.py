"""The contract test suite every :class:`~pixbridge.adapters.Tracker` adapter runs against itself.

Subclass :class:`TrackerContract` (:class:`MarkerCheckingTrackerContract` for a tracker that
declares ``markers_always_checked``) in a test module (the subclass's name starts with ``Test``)
and supply one fixture, ``adapter``, returning an opened tracker over a fresh store::

    class TestMyTracker(TrackerContract):
        @pytest.fixture
        def adapter(self, adapter_context):
            tracker = MyTracker(MyTracker.Settings(...), adapter_context)
            tracker.open()
            yield tracker
            tracker.close()

The suite may close the adapter itself, so ``close()`` must be safe to call twice. Agents act
differently in every tracker: override :meth:`TrackerContract.agent_comment` and
:meth:`TrackerContract.agent_complete` to act as an agent would (the defaults use the local
tracker's agent interface). Markers are unique per test, so a fake server shared between tests
does not make the tests depend on each other.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from pixbridge.adapters import AdapterKind, Tracker
from pixbridge.errors import PermanentAdapterError
from pixbridge.models import (
    Attachment,
    CommentDraft,
    RequestDraft,
    RequestStatus,
    TrackerChange,
    TrackerComment,
)

__all__ = ["MarkerCheckingTrackerContract", "TrackerContract"]

_MAX_PAGES = 1000


def _marker() -> str:
    return f"contract-{uuid.uuid4().hex}"


def _number(key: str) -> int | None:
    """The trailing number of a key like ``SUP-12``, if it has one."""
    found = re.fullmatch(r".*?(\d+)", key)
    return int(found.group(1)) if found else None


def _drain(adapter: Tracker, watermark: str | None) -> tuple[list[TrackerChange], str]:
    """Every change after *watermark*, page by page, and the watermark after the last page."""
    changes: list[TrackerChange] = []
    for _ in range(_MAX_PAGES):
        batch = adapter.changes_since(watermark)
        assert isinstance(batch.watermark, str), "a ChangeBatch must carry a str watermark"
        if not batch.changes:
            return changes, batch.watermark
        changes.extend(batch.changes)
        watermark = batch.watermark
    raise AssertionError(f"changes_since never ran dry in {_MAX_PAGES} calls")


def _agent_comments(changes: list[TrackerChange], key: str) -> list[TrackerComment]:
    """The comments of *key* reported as written by someone other than pixbridge."""
    return [
        c.comment
        for c in changes
        if c.key == key and c.comment is not None and not c.comment.by_pixbridge
    ]


class TrackerContract:
    """What every tracker adapter must do; subclass it and supply the ``adapter`` fixture."""

    agent_name = "agent.smith"
    """The agent the default :meth:`agent_comment` and :meth:`agent_complete` act as."""

    @pytest.fixture
    def adapter(self) -> Tracker:
        """Override: an opened tracker over a fresh store."""
        pytest.fail(f"{type(self).__name__} must define an `adapter` fixture (an opened Tracker)")

    # ------------------------------------------------------------------ overridable helpers

    def agent_comment(self, adapter: Tracker, key: str, body: str, public: bool) -> None:
        """Comment on *key* as an agent would, in the tracker's own UI or API."""
        adapter.comment(key, body, public=public, author=self.agent_name)

    def agent_complete(self, adapter: Tracker, key: str, answer: str) -> None:
        """Complete *key* with *answer* as an agent would."""
        adapter.complete(key, answer, author=self.agent_name)

    def make_draft(self, marker: str | None = None, **changes: Any) -> RequestDraft:
        """A valid request draft with a fresh marker; override if the tracker needs more."""
        draft = RequestDraft(
            marker=marker or _marker(),
            summary="Task Mining crashes on start",
            description="Since the update the recorder stops at once.\nOS: Windows 11 23H2",
            customer="anna@example.com",
            language="en",
            priority="normal",
        )
        return dataclasses.replace(draft, **changes)

    def unknown_key(self, known_key: str) -> str:
        """A key the tracker has never issued, shaped like *known_key*."""
        prefix = known_key.rsplit("-", 1)[0] if "-" in known_key else known_key
        return f"{prefix}-987654321"

    # ------------------------------------------------------------------ the class
    # Messages are spelt out: asserts in an installed package are not rewritten by pytest.

    def test_adapter_class_declares_name_and_kind(self, adapter: Tracker) -> None:
        """The class has a non-empty ``name`` and is of kind TRACKER."""
        cls = type(adapter)
        assert isinstance(cls.name, str) and cls.name, f"{cls.__qualname__} has no `name`"
        assert cls.kind is AdapterKind.TRACKER, f"{cls.__qualname__}.kind is {cls.kind!r}"

    def test_settings_reject_unknown_keys(self, adapter: Tracker) -> None:
        """A misspelt setting is an error, not silently ignored."""
        settings_cls: type[BaseModel] = type(adapter).Settings
        with pytest.raises(ValidationError) as caught:
            settings_cls.model_validate({"pixbridge_contract_no_such_key": 1})
        locs = [e["loc"] for e in caught.value.errors() if e["type"] == "extra_forbidden"]
        assert locs == [("pixbridge_contract_no_such_key",)], caught.value.errors()

    def test_close_twice_is_not_an_error(self, adapter: Tracker) -> None:
        """``close()`` may be called more than once."""
        adapter.close()
        adapter.close()

    # ------------------------------------------------------------------ requests

    def test_create_returns_distinct_keys(self, adapter: Tracker) -> None:
        """Each new marker gets a new, non-empty key."""
        keys = [adapter.create_request(self.make_draft()) for _ in range(3)]
        assert all(isinstance(k, str) and k for k in keys), f"keys must be strings: {keys!r}"
        assert len(set(keys)) == 3, f"three requests, keys not distinct: {keys}"

    def test_get_request_round_trips_the_draft(self, adapter: Tracker) -> None:
        """What was registered is read back unchanged, as text, with its files."""
        files = (
            Attachment("recorder.log", "text/plain", b"ERROR 42\n"),
            Attachment("screen.png", "image/png", b"\x89PNG\r\n\x1a\n-fake"),
        )
        draft = self.make_draft(
            summary="Zählung fehlt — recorder “stops”",
            description="Line one.\nLine two: 50 % of <runs> & more.\n",
            customer="jörg@example.de",
            priority="blocker",
            attachments=files,
        )
        key = adapter.create_request(draft)
        got = adapter.get_request(key)
        assert got.key == key, f"asked for {key}, got {got.key}"
        assert got.status is RequestStatus.REGISTERED, f"a new request is {got.status!r}"
        sent = (draft.summary, draft.description, draft.customer, draft.priority)
        read = (got.summary, got.description, got.customer, got.priority)
        assert read == sent, f"registered {sent!r}, read back {read!r}"
        names = sorted(got.attachments)
        assert names == ["recorder.log", "screen.png"], f"attachments read back: {names}"

    def test_recovering_create_returns_the_existing_key(self, adapter: Tracker) -> None:
        """A retry with ``recovering`` finds the request by its marker and makes no second."""
        marker = _marker()
        first = adapter.create_request(self.make_draft(marker, summary="first attempt"))
        retry = self.make_draft(marker, summary="second attempt", recovering=True)
        again = adapter.create_request(retry)
        assert again == first, f"the retry created {again} beside {first}"
        summary = adapter.get_request(first).summary
        assert summary == "first attempt", f"the retry changed {first}: {summary!r}"
        other = adapter.create_request(self.make_draft())
        assert other != first, f"a new marker got the old key {first}"
        numbers = _number(first), _number(other)
        if numbers[0] is not None and numbers[1] is not None:
            # Sequential keys: a second request made by the retry would have used the number.
            assert numbers[1] == numbers[0] + 1, f"{other} should directly follow {first}"

    def test_a_declared_marker_check_is_tested(self, adapter: Tracker) -> None:
        """``markers_always_checked`` relaxes the lifecycle's intent: its suite must prove it."""
        if adapter.markers_always_checked:
            assert isinstance(self, MarkerCheckingTrackerContract), (
                f"{type(adapter).__name__} declares markers_always_checked: derive "
                f"{type(self).__name__} from MarkerCheckingTrackerContract"
            )

    def test_add_comment_is_idempotent_by_marker(self, adapter: Tracker) -> None:
        """pixbridge's comments keep visibility and files; a retry by marker adds nothing."""
        key = adapter.create_request(self.make_draft())
        log = Attachment("trace.log", "text/plain", b"trace\n")
        draft = CommentDraft(
            marker=_marker(), body="Here is the trace.", public=True, author="anna@example.com",
            attachments=(log,),
        )  # fmt: skip
        first = adapter.add_comment(key, draft)
        again = adapter.add_comment(key, dataclasses.replace(draft, recovering=True))
        assert again == first, f"the retry added comment {again} beside {first}"
        internal = CommentDraft(_marker(), "Licence checked: valid.", False, "pixbridge")
        adapter.add_comment(key, internal)
        got = adapter.get_request(key)
        mine = [c for c in got.comments if c.body == draft.body]
        assert len(mine) == 1, f"one comment expected, found {len(mine)}: {got.comments}"
        assert mine[0].by_pixbridge, f"pixbridge's comment not flagged by_pixbridge: {mine[0]}"
        assert mine[0].public, f"a public comment came back internal: {mine[0]}"
        files = (*got.attachments, *mine[0].attachments)
        assert "trace.log" in files, f"the comment's file is missing: {files}"
        notes = [c.public for c in got.comments if c.body == internal.body]
        assert notes == [False], f"the internal comment came back as public={notes}"
        bodies = [c.body for c in got.comments]
        assert bodies.index(draft.body) < bodies.index(internal.body), f"not oldest first: {bodies}"

    def test_add_attachments_skips_same_name_and_size(self, adapter: Tracker) -> None:
        """A file with the name and size of one already attached is skipped, others are added."""
        key = adapter.create_request(self.make_draft())
        adapter.add_attachments(key, [Attachment("app.log", "text/plain", b"12345")])
        adapter.add_attachments(
            key,
            [
                Attachment("app.log", "text/plain", b"54321"),  # same name and size: skipped
                Attachment("app.log", "text/plain", b"123456"),  # another size: a new file
                Attachment("os.txt", "text/plain", b"Windows 11"),
            ],
        )
        names = sorted(adapter.get_request(key).attachments)
        assert names == ["app.log", "app.log", "os.txt"], f"attachments: {names}"

    def test_set_status_round_trips_and_is_idempotent(self, adapter: Tracker) -> None:
        """A status set is read back; setting the current status again is not an error."""
        key = adapter.create_request(self.make_draft())
        for status in (
            RequestStatus.IN_PROGRESS,
            RequestStatus.IN_PROGRESS,
            RequestStatus.WAITING_FOR_CUSTOMER,
        ):
            adapter.set_status(key, status)
            got = adapter.get_request(key).status
            assert got is status, f"set {status!r}, read back {got!r}"

    def test_link_is_visible_on_the_follower(self, adapter: Tracker) -> None:
        """A link shows on the request that follows, once however often it is made."""
        old = adapter.create_request(self.make_draft())
        new = adapter.create_request(self.make_draft())
        adapter.link(new, follows=old)
        adapter.link(new, follows=old)
        links = adapter.get_request(new).links
        assert links.count(old) == 1, f"{new} should be linked once to {old}: {links}"

    def test_unknown_key_is_a_permanent_error(self, adapter: Tracker) -> None:
        """Every call on a key that does not exist fails for good, naming the key."""
        known = adapter.create_request(self.make_draft())
        missing = self.unknown_key(known)
        calls: dict[str, Callable[[], object]] = {
            "get_request": lambda: adapter.get_request(missing),
            "add_comment": lambda: adapter.add_comment(
                missing, CommentDraft(_marker(), "hi", True, "anna")
            ),
            "add_attachments": lambda: adapter.add_attachments(
                missing, [Attachment("a.txt", "text/plain", b"a")]
            ),
            "set_status": lambda: adapter.set_status(missing, RequestStatus.IN_PROGRESS),
            "link from": lambda: adapter.link(missing, follows=known),
            "link to": lambda: adapter.link(known, follows=missing),
        }
        for name, call in calls.items():
            try:
                call()
            except PermanentAdapterError as exc:
                assert missing in str(exc), f"{name}: the error does not name {missing}: {exc}"
            else:
                pytest.fail(f"{name} on the unknown key {missing} raised nothing")

    # ------------------------------------------------------------------ changes

    def test_agent_comments_are_reported_with_their_visibility(self, adapter: Tracker) -> None:
        """Agents' public and internal comments are reported, in order, flagged correctly."""
        _, baseline = _drain(adapter, None)
        key = adapter.create_request(self.make_draft())
        own = CommentDraft(_marker(), "Customer: it happens again.", True, "anna@example.com")
        adapter.add_comment(key, own)
        self.agent_comment(adapter, key, "Please send the recorder log.", True)
        self.agent_comment(adapter, key, "Looks like bug PIX-1234.", False)
        changes, _ = _drain(adapter, baseline)
        reported = [(c.body, c.public) for c in _agent_comments(changes, key)]
        expected = [("Please send the recorder log.", True), ("Looks like bug PIX-1234.", False)]
        assert reported == expected, f"agents' comments reported: {reported}"
        stored = {c.body: c.by_pixbridge for c in adapter.get_request(key).comments}
        flag = stored.get("Please send the recorder log.")
        assert flag is False, f"an agent's comment reads back with by_pixbridge={flag}"

    def test_pixbridge_own_writes_are_not_reported(self, adapter: Tracker) -> None:
        """pixbridge's own comments and status changes never come back as an agent's."""
        _, baseline = _drain(adapter, None)
        old = adapter.create_request(self.make_draft())
        key = adapter.create_request(self.make_draft())
        adapter.add_comment(key, CommentDraft(_marker(), "A customer reply.", True, "anna"))
        adapter.add_attachments(key, [Attachment("more.log", "text/plain", b"more")])
        adapter.set_status(key, RequestStatus.WAITING_FOR_CUSTOMER)
        adapter.set_status(old, RequestStatus.COMPLETED)
        adapter.link(key, follows=old)
        changes, _ = _drain(adapter, baseline)
        comments = _agent_comments(changes, key)
        assert comments == [], f"pixbridge's comment reported as an agent's: {comments}"
        statuses = [c for c in changes if c.key in (key, old) and c.status is not None]
        assert statuses == [], f"pixbridge's status changes reported: {statuses}"

    def test_completion_is_reported_once_with_its_answer(self, adapter: Tracker) -> None:
        """A completion is one change carrying the answer; the answer is not also a comment."""
        _, baseline = _drain(adapter, None)
        key = adapter.create_request(self.make_draft())
        answer = "Fixed in build 7.12; download it from the portal."
        self.agent_complete(adapter, key, answer)
        changes, _ = _drain(adapter, baseline)
        done = [(c.status, c.answer) for c in changes if c.key == key and c.status is not None]
        assert done == [(RequestStatus.COMPLETED, answer)], f"status changes reported: {done}"
        # The answer reaches the customer once, as the completion, not also as a comment.
        bodies = [c.body for c in _agent_comments(changes, key)]
        assert answer not in bodies, f"the answer was also reported as a comment: {bodies}"
        status = adapter.get_request(key).status
        assert status is RequestStatus.COMPLETED, f"a completed request reads back {status!r}"

    def test_watermark_moves_past_reported_changes(self, adapter: Tracker) -> None:
        """Asking again from the returned watermark gives only what happened since."""
        _, baseline = _drain(adapter, None)
        key = adapter.create_request(self.make_draft())
        self.agent_comment(adapter, key, "First question.", True)
        first, watermark = _drain(adapter, baseline)
        bodies = [c.body for c in _agent_comments(first, key)]
        assert bodies == ["First question."], f"reported: {bodies}"
        repeat = adapter.changes_since(watermark).changes
        assert repeat == (), f"asked again from {watermark!r}, got {repeat}"
        self.agent_comment(adapter, key, "Second question.", True)
        second, _ = _drain(adapter, watermark)
        bodies = [c.body for c in _agent_comments(second, key)]
        assert bodies == ["Second question."], f"reported after {watermark!r}: {bodies}"
        ids = [c.change_id for c in first + second]
        assert len(ids) == len(set(ids)), f"change ids repeat: {ids}"

    def test_change_ids_are_unique_and_stable(self, adapter: Tracker) -> None:
        """Each change has its own id, and the same id every time it is reported."""
        _, baseline = _drain(adapter, None)
        key = adapter.create_request(self.make_draft())
        for n in range(3):
            self.agent_comment(adapter, key, f"Note {n}.", n % 2 == 0)
        self.agent_complete(adapter, key, "Done.")
        once, _ = _drain(adapter, baseline)
        twice, _ = _drain(adapter, baseline)
        ids = [c.change_id for c in once if c.key == key]
        assert len(ids) == 4 and len(set(ids)) == 4, f"expected 4 distinct ids, got {ids}"
        again = [c.change_id for c in twice if c.key == key]
        assert again == ids, f"ids changed between two reads: {ids} then {again}"


class MarkerCheckingTrackerContract(TrackerContract):
    """The suite for a tracker declaring ``Tracker.markers_always_checked`` (the local tracker)."""

    def test_markers_always_checked_holds_without_recovering(self, adapter: Tracker) -> None:
        """A tracker declaring ``markers_always_checked`` dedupes by marker on every write."""
        marker = _marker()
        first = adapter.create_request(self.make_draft(marker, summary="first attempt"))
        again = adapter.create_request(self.make_draft(marker, summary="intent lost"))
        assert again == first, f"a repeat without recovering created {again} beside {first}"
        note = CommentDraft(_marker(), "Licence checked: valid.", False, "pixbridge")
        comment = adapter.add_comment(first, note)
        assert adapter.add_comment(first, note) == comment, "a repeated comment was added again"
        bodies = [c.body for c in adapter.get_request(first).comments]
        assert bodies.count(note.body) == 1, f"comments after the repeat: {bodies}"
