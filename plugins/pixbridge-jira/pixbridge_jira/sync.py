"""Outbound sync: what agents did in Jira since the watermark.

One search (``project = X AND updated >= "-Nm" ORDER BY updated``, with the comments and the
changelog of every issue in the same response) finds the issues touched since a little before
the watermark. The search reaches back ``sync_overlap`` seconds further than the watermark,
because Jira's search index lags writes and JQL counts in whole minutes; the watermark therefore
also carries the ids of the changes already reported inside that overlap, so nothing is
reported twice and nothing with an equal timestamp is skipped. Relative JQL times (``-Nm``)
avoid any dependence on the Jira user's time zone.

Issues named by the webhook receiver (:mod:`pixbridge_jira.webhook`) are read directly first
(``GET issue/KEY``, consistent at once where the search index may still lag), at most
``HINT_BATCH`` per call. Their changes are reported and remembered in ``seen``, but only what
the search itself returns moves the watermark's time: a targeted read says nothing about the
other issues, so it must not let the next search start later.

Change ids are stable: ``jira:comment:<comment id>`` and ``jira:status:<changelog id>``.
pixbridge's own comments and transitions (by its account) are left out. A transition to the
completed status is one change whose ``answer`` is the public comment made with it (or else the
latest public agent comment); that comment is not reported again on its own.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pixbridge.errors import PermanentAdapterError
from pixbridge.models import ChangeBatch, RequestStatus, TrackerChange, TrackerComment
from pixbridge_jira.search import search_issues

if TYPE_CHECKING:
    from pixbridge_jira.adapter import JiraTracker

__all__ = ["Watermark", "changes_since"]

HINT_BATCH = 50
"""Hinted issues read directly per sync call; the rest wait for the next call."""
ANSWER_SLACK = timedelta(seconds=5)
"""A comment made this long after a completing transition still counts as made with it."""
_TIME = "%Y-%m-%dT%H:%M:%S.%f%z"


@dataclass(frozen=True)
class Watermark:
    """The newest change time reported, and the changes reported within the overlap before it."""

    at: datetime | None
    seen: dict[str, float]
    """change id -> its time (epoch seconds), for changes inside the overlap window."""

    @classmethod
    def parse(cls, text: str | None) -> Watermark:
        """Read a watermark written by :meth:`dump` (``None``: no sync yet)."""
        if not text:
            return cls(None, {})
        try:
            data = json.loads(text)
            at = datetime.fromtimestamp(float(data["at"]), UTC)
            return cls(at, {str(k): float(v) for k, v in data.get("seen", {}).items()})
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentAdapterError(
                f"{text!r} is not a Jira sync watermark; reset it with `pixbridge` or delete it"
            ) from exc

    def dump(self) -> str:
        """The watermark as a string for the state store."""
        at = self.at.timestamp() if self.at else 0.0
        return json.dumps({"at": round(at, 3), "seen": self.seen}, sort_keys=True)


def changes_since(tracker: JiraTracker, watermark: str | None) -> ChangeBatch:
    """The agents' changes after *watermark*, oldest first, and the next watermark."""
    settings = tracker.settings
    mark = Watermark.parse(watermark)
    overlap = timedelta(seconds=settings.sync_overlap)
    wall = datetime.now(UTC)
    since = mark.at - overlap if mark.at else wall - timedelta(seconds=settings.initial_lookback)
    minutes = max(1, math.ceil((wall - since).total_seconds() / 60) + 1)
    jql = f'project = "{settings.project}" AND updated >= "-{minutes}m" ORDER BY updated ASC'
    targeted = _hinted_changes(tracker)
    found: list[TrackerChange] = []
    for issue in _search(tracker, jql):
        found.extend(_issue_changes(tracker, issue))
    searched = [c for c in found if c.at > since]
    unique = {c.change_id: c for c in [*targeted, *searched]}
    new = [c for c in unique.values() if c.at > since and c.change_id not in mark.seen]
    new.sort(key=lambda c: (c.at, _seq(c.change_id)))
    if searched or mark.at:
        top = max([mark.at or since, *(c.at for c in searched)])
    else:
        top = wall - overlap
    seen = {**mark.seen, **{c.change_id: c.at.timestamp() for c in new}}
    floor = (top - overlap).timestamp()
    seen = {k: v for k, v in seen.items() if v > floor}
    return ChangeBatch(tuple(new), Watermark(top, seen).dump())


def _hinted_changes(tracker: JiraTracker) -> list[TrackerChange]:
    """The changes of the issues the webhook named, each read directly from Jira."""
    refs = tracker.take_hints(HINT_BATCH)
    changes: list[TrackerChange] = []
    for n, ref in enumerate(refs):
        try:
            issue = tracker.session.get(
                f"issue/{ref}", version=tracker.api, fields="project,status,updated,comment",
                expand="changelog",
            )  # fmt: skip
        except PermanentAdapterError as exc:  # deleted, moved, or never ours: polling decides
            tracker.context.logger.debug("jira webhook: cannot read issue %s: %s", ref, exc)
            continue
        except Exception:  # Jira unreachable or refusing us: the sync stage fails, hints wait
            tracker.return_hints(refs[n:])
            raise
        project = ((issue.get("fields") or {}).get("project") or {}).get("key")
        if str(project).upper() != tracker.settings.project.upper():
            continue
        changes.extend(_issue_changes(tracker, issue))
    return changes


def _search(tracker: JiraTracker, jql: str) -> list[dict[str, Any]]:
    return search_issues(
        tracker.session, cloud=tracker.cloud, jql=jql, fields="status,updated,comment",
        expand="changelog", page_size=tracker.settings.page_size,
    )  # fmt: skip


def _issue_changes(tracker: JiraTracker, issue: dict[str, Any]) -> list[TrackerChange]:
    key = str(issue["key"])
    block = issue.get("fields", {}).get("comment") or {}
    raw_comments = list(block.get("comments") or [])
    if int(block.get("total", len(raw_comments))) > len(raw_comments):
        raw_comments = tracker.raw_comments(key)
    comments = [tracker.comment_from(c) for c in raw_comments]
    agents = [c for c in comments if not c.by_pixbridge]
    changes: list[TrackerChange] = []
    answers: set[str] = set()
    for history in _histories(tracker, issue):
        if tracker.map.user_id(history.get("author")) == tracker.account:
            continue
        for item in history.get("items") or []:
            if item.get("field") != "status":
                continue
            status = tracker.map.status(item.get("toString"))
            if status is None:
                continue
            at = _time(history["created"])
            change_id = f"jira:status:{history['id']}"
            if status is RequestStatus.COMPLETED:
                answer = _answer(agents, at)
                if answer is not None:
                    answers.add(answer.id)
                text = answer.body if answer else None
                changes.append(TrackerChange(change_id, key, at, status=status, answer=text))
            else:
                changes.append(TrackerChange(change_id, key, at, status=status))
    for comment in agents:
        if comment.id not in answers:
            change_id = f"jira:comment:{comment.id}"
            changes.append(TrackerChange(change_id, key, comment.created_at, comment=comment))
    return changes


def _histories(tracker: JiraTracker, issue: dict[str, Any]) -> list[dict[str, Any]]:
    log = issue.get("changelog") or {}
    histories = list(log.get("histories") or [])
    if int(log.get("total", len(histories))) <= len(histories):
        return histories
    key = issue["key"]
    if tracker.cloud:
        histories = []
        while True:
            page = tracker.session.get(
                f"issue/{key}/changelog", version="3", startAt=len(histories), maxResults=100
            )
            batch = page.get("values", [])
            histories.extend(batch)
            if not batch or page.get("isLast", True):
                return histories
    full = tracker.session.get(f"issue/{key}", fields="status", expand="changelog")
    return list((full.get("changelog") or {}).get("histories") or [])


def _answer(agents: list[TrackerComment], at: datetime) -> TrackerComment | None:
    before = [c for c in agents if c.public and c.created_at <= at + ANSWER_SLACK]
    return before[-1] if before else None


def _time(text: str) -> datetime:
    return datetime.strptime(text, _TIME)


def _seq(change_id: str) -> int:
    tail = change_id.rpartition(":")[2]
    return int(tail) if tail.isdigit() else 0
