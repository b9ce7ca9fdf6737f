"""Customers waiting for a build: marking a request, and telling its customer when the build is out.

An agent marks a request as waiting for ``<product> <generation.build>`` (``pixbridge requests
wait-build``). The mark is kept in the state store (``waiting_builds``) and, where the tracker
can hold it, in the tracker too (:meth:`~pixbridge.adapters.Tracker.set_fix_version`: a field of
the local tracker, the fix version in Jira).

When every publisher has the build, each waiting customer is mailed the download links and the
checksums, and the request is completed. The mail is queued in the outbox with the cause
``build:<product>:<version>:<request key>`` in the same transaction that records the
notification, and the outbox takes one mail per cause: however often publishing is repeated or
interrupted, nobody is mailed twice for one release. The tracker is updated afterwards (an
internal comment saying what was sent, then the completed status); both writes are idempotent
and retried by the next publish until they succeed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pixbridge.errors import AdapterError, PixbridgeError
from pixbridge.lifecycle.app import App
from pixbridge.lifecycle.mailer import Mailer
from pixbridge.models import CommentDraft, RequestStatus
from pixbridge.releases.state import ReleaseRow, ReleaseStore, StepRow
from pixbridge.releases.version import Version, check_product

__all__ = [
    "INTERNAL",
    "MarkResult",
    "NotifyResult",
    "customer_links",
    "mark_waiting",
    "notify_waiting",
]

log = logging.getLogger("pixbridge.releases")

PURPOSE = "build_available"
INTERNAL = "internal"
"""A publisher that sets ``details["internal"] = "true"`` (a Jira version page, say) published
somewhere customers cannot reach: its URL is not mailed to them."""


def cause_for(product: str, version: str, key: str) -> str:
    """The outbox cause of the build-available mail: one mail per release and request."""
    return f"build:{product}:{version}:{key}"


def customer_links(steps: Sequence[StepRow]) -> list[dict[str, str]]:
    """The download links of the finished steps, leaving out publishers marked internal."""
    return [
        {"publisher": s.publisher, "url": s.url}
        for s in steps
        if s.state == "done" and s.url and s.details.get(INTERNAL, "").lower() != "true"
    ]


@dataclass(frozen=True)
class MarkResult:
    """What ``wait-build`` did."""

    key: str
    product: str
    version: str
    in_tracker: bool
    """Whether the tracker holds the mark too."""
    tracker_note: str
    notified: bool
    """The build was already out, so the customer was told at once."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class NotifyResult:
    """What telling the waiting customers did."""

    queued: tuple[str, ...]
    """Requests whose customer got a mail queued now."""
    skipped: tuple[str, ...]
    """Requests completed otherwise before the build came out: not mailed."""
    tracker_pending: tuple[str, ...]
    """Requests the tracker could not be updated for yet (retried by the next publish)."""


def mark_waiting(app: App, key: str, product: str, version: str, *, by: str) -> MarkResult:
    """Record that request *key* is answered by build *version* of *product*.

    Raises :class:`PixbridgeError` for an unknown or completed request or a bad version. If the
    build is already published, the customer is told at once.
    """
    parsed = Version.parse(version)
    check_product(product)
    store, releases = app.store, ReleaseStore(app.store)
    request = store.request(key)
    if request is None:
        raise PixbridgeError(f"no request {key!r} was registered by pixbridge; check the key")
    if request.status == RequestStatus.COMPLETED.value:
        raise PixbridgeError(
            f"request {key} is already completed; a customer who needs more opens a new request"
        )
    now = app.clock.now()
    with store.db.transaction():
        earlier = releases.waiting(key)
        if earlier is not None and earlier.release_id is not None:
            raise PixbridgeError(f"the customer of {key} was already sent {earlier.version}")
        releases.mark_waiting(key, product, str(parsed), by, now)
        store.log(
            "waiting_for_build", at=now, actor=by, request_key=key, product=product,
            version=str(parsed),
        )  # fmt: skip
    tracker = app.tracker
    try:
        tracker.set_fix_version(key, product, str(parsed))
        in_tracker, note = True, f"recorded in the {tracker.name} tracker"
    except NotImplementedError:
        in_tracker, note = (
            False,
            f"the {tracker.name} tracker keeps no fix version; state store only",
        )
    except AdapterError as exc:
        in_tracker, note = False, f"the {tracker.name} tracker failed ({exc}); state store only"
        log.warning("recording %s's fix version in the tracker failed: %s", key, exc)
    notified = False
    release = releases.release(product, str(parsed))
    if release is not None and release.status == "published":
        notified = key in notify_waiting(app, release).queued
    return MarkResult(key, product, str(parsed), in_tracker, note, notified)


def _thread(app: App, key: str, first: str | None) -> tuple[str | None, list[str]]:
    refs = [m.message_id for m in app.store.outbox_for(key)]
    if first:
        refs.insert(0, first)
    return (refs[-1] if refs else None), refs


def _values(
    app: App, release: ReleaseRow, links: list[dict[str, str]], key: str, language: str
) -> dict[str, Any]:
    request = app.store.request(key)
    assert request is not None
    changes = [
        c["title"].get(language, c["title"]["en"])
        for c in release.manifest.get("changes", [])
        if key in c.get("requests", [])
    ]
    return {
        "key": key,
        "summary": request.summary,
        "product": release.product,
        "version": release.version,
        "links": links,
        "files": release.manifest["files"],
        "changes": changes,
        "support_name": app.settings.support.name,
    }


def notify_waiting(app: App, release: ReleaseRow, mailer: Mailer | None = None) -> NotifyResult:
    """Tell every customer waiting for *release* (published) and complete their requests."""
    store, releases = app.store, ReleaseStore(app.store)
    mailer = mailer or Mailer(app)
    links = customer_links(releases.steps(release.id))
    queued: list[str] = []
    skipped: list[str] = []
    for waiting in releases.waiting_for(release.product, release.version):
        key = waiting.request_key
        if waiting.release_id is not None:
            continue
        request = store.request(key)
        if request is None:
            continue
        now = app.clock.now()
        cause = cause_for(release.product, release.version, key)
        with store.db.transaction():
            if request.status == RequestStatus.COMPLETED.value:
                # Closed by an agent before the build came out: the answer was given already.
                store.log("build_not_mailed", at=now, request_key=key, version=release.version)
                releases.add_notification(release.id, key, cause, now)
                releases.tracker_done(release.id, key)
                skipped.append(key)
                continue
            in_reply_to, refs = _thread(app, key, request.thread_id)
            mailer.put(
                mailer.prepare(
                    purpose=PURPOSE,
                    cause=cause,
                    request_key=key,
                    recipient=request.customer,
                    language=request.language,
                    values=_values(app, release, links, key, request.language),
                    at=now,
                    in_reply_to=in_reply_to,
                    references=refs,
                    auto_submitted="auto-generated",
                )
            )
            releases.add_notification(release.id, key, cause, now)
            store.set_request_status(key, RequestStatus.COMPLETED.value, now)
            store.log(
                "completed", at=now, request_key=key, by="build", product=release.product,
                version=release.version,
            )  # fmt: skip
        queued.append(key)
    pending = _complete_in_tracker(app, release, links)
    return NotifyResult(tuple(queued), tuple(skipped), tuple(pending))


def _complete_in_tracker(app: App, release: ReleaseRow, links: list[dict[str, str]]) -> list[str]:
    """Note the mail in the tracker and complete the requests; what failed is left for later."""
    releases, tracker = ReleaseStore(app.store), app.tracker
    pending: list[str] = []
    for key, done in releases.notified(release.id).items():
        if done:
            continue
        cause = cause_for(release.product, release.version, key)
        urls = ", ".join(link["url"] for link in links) or "(no public link)"
        body = (
            f"{release.product} {release.version} was published; the customer was mailed the "
            f"download link ({urls}) and the SHA-256 checksums, and the request was completed."
        )
        try:
            tracker.add_comment(
                key, CommentDraft(marker=cause, body=body, public=False, author="pixbridge")
            )
            tracker.set_status(key, RequestStatus.COMPLETED)
        except AdapterError as exc:
            log.warning("completing %s in the tracker failed, retried next publish: %s", key, exc)
            pending.append(key)
            continue
        with app.store.db.transaction():
            releases.tracker_done(release.id, key)
    return pending
