"""The Jira tracker: requests are Jira issues in one project, agents work entirely in Jira.

What goes over the wire, and why it is safe to repeat, is described in the plugin's README.
In short: every created issue carries its draft's marker as a label, so a create whose outcome
was lost is found again by a (patient: Jira's search lags) search for that label instead of
being repeated; pixbridge's comments carry the marker in a comment property, and comment lists
are read-after-write consistent, so a lost comment is looked up at once.

With ``[adapters.jira.webhook]`` a receiver (:mod:`pixbridge_jira.webhook`) turns Jira's events
into hints: the issue named is read directly in the next sync, which the hint brings forward
through ``AdapterContext.wake``. A hint is never data; the JQL sync stays the source of truth.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar

from pixbridge.adapters import AdapterContext, Tracker
from pixbridge.errors import AdapterError, NeedsCredentials, PermanentAdapterError, UnknownOutcome
from pixbridge.models import (
    Attachment,
    ChangeBatch,
    CommentDraft,
    RequestDraft,
    RequestStatus,
    TrackedRequest,
    TrackerComment,
)
from pixbridge.observability.credentials import CredentialExpiry
from pixbridge_jira import body
from pixbridge_jira.mapping import Mapping
from pixbridge_jira.settings import JiraSettings
from pixbridge_jira.webhook import WebhookEvent, WebhookReceiver

if TYPE_CHECKING:
    from pixbridge_jira.session import JiraSession

__all__ = ["PROPERTY", "WAKING_EVENTS", "JiraTracker", "ProjectUnavailable"]

PROPERTY = "pixbridge"
"""Key of the comment property holding the marker and author of pixbridge's comments."""

WAKING_EVENTS = frozenset({"comment_created", "comment_updated", "jira:issue_updated"})
"""Webhook events that make the tracker look at their issue in the next pass."""
MAX_HINTS = 1000
"""Issues waiting to be looked at; hints beyond are dropped (the JQL sync finds them)."""

_FIELD_ID = re.compile(r"customfield_\d+")
_LABEL_BAD = re.compile(r"\s+")


class ProjectUnavailable(NeedsCredentials):
    """The account may not see or create issues in ``project`` (or the key is wrong).

    An operator has to act, as on refused credentials, after which the very same call
    succeeds: the lifecycle waits and retries, and the message is not counted towards
    quarantine for a deployment mistake.
    """


class JiraTracker(Tracker):
    """Jira Cloud or Data Center as the registration system (``[adapters.jira]``)."""

    name: ClassVar[str] = "jira"
    Settings: ClassVar[type[JiraSettings]] = JiraSettings
    secret_fields: ClassVar[tuple[str, ...]] = ("token", "password")

    def __init__(self, settings: JiraSettings, context: AdapterContext) -> None:
        super().__init__(settings, context)
        self.settings: JiraSettings = settings
        self.map = Mapping(settings)
        self.cloud = settings.deployment == "cloud"
        self.api = "3" if self.cloud else "2"
        """REST version for bodies with text: v3 (ADF) on Cloud; v2 (wiki markup) on DC."""
        self._session: JiraSession | None = None
        self._session_lock = threading.Lock()
        self._account: str | None = settings.account or None
        self._field_ids: dict[str, str] | None = None
        self.webhook: WebhookReceiver | None = None
        """The running webhook receiver (``None``: not configured, or it could not listen)."""
        self.webhook_error: str | None = None
        """Why the configured receiver is not running (for doctor)."""
        self._hints: dict[str, None] = {}
        self._hints_lock = threading.Lock()

    @property
    def session(self) -> JiraSession:
        """The retrying Jira session, created on first use (no I/O until its first call)."""
        if self._session is None:
            with self._session_lock:
                if self._session is None:
                    # Imported here, not at module top: the jira client and requests cost
                    # every pixbridge command ~0.2 s at start-up, configured or not.
                    from pixbridge_jira.session import JiraSession

                    self._session = JiraSession(self.settings)
        return self._session

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        """Check the settings; the first call to Jira is made on first use, not here.

        The webhook receiver is not started here but by the first :meth:`changes_since`, so
        that only the process that syncs (``pixbridge run``) listens, not every command that
        opens the tracker.
        """
        problems = self.settings.setup_problems()
        if problems:
            raise PermanentAdapterError("; ".join(problems))

    def start_webhook(self) -> None:
        """Start the configured webhook receiver, once; one that cannot listen is logged.

        Changes are then found by polling alone, as without a receiver.
        """
        hook = self.settings.webhook
        if hook is None or self.webhook is not None or self.webhook_error is not None:
            return
        receiver = WebhookReceiver(hook, self.hint)
        try:
            receiver.start()
        except OSError as exc:
            self.webhook_error = str(exc)
            self.context.logger.error(
                "adapters.jira.webhook.listen: cannot listen on %s (%s); Jira's changes are "
                "found by polling only", hook.listen, exc,
            )  # fmt: skip
            return
        self.webhook = receiver
        self.context.wake()  # a push channel is open: from now on a wake is watched for

    def close(self) -> None:
        """Stop the webhook receiver; HTTP connections to Jira close with their sessions."""
        if self.webhook is not None:
            self.webhook.stop()
            self.webhook = None

    # ------------------------------------------------------------------ webhook hints

    def hint(self, event: WebhookEvent) -> None:
        """Note that *event* (from the webhook receiver) concerns an issue, and ask for a pass.

        Events of other projects, of kinds that cannot mean new work, and those caused by
        pixbridge itself are ignored. Nothing of the event but the issue it names is used.
        """
        if event.name not in WAKING_EVENTS or not event.issue:
            return
        project = self.settings.project.upper()
        if event.project and event.project.upper() != project:
            return
        if not event.issue.isdigit() and event.issue.rpartition("-")[0] != project:
            return
        if event.actor and event.actor == self._account:
            return
        with self._hints_lock:
            if event.issue not in self._hints and len(self._hints) >= MAX_HINTS:
                return
            self._hints[event.issue] = None
        self.context.wake()

    def take_hints(self, limit: int) -> list[str]:
        """Up to *limit* hinted issues (keys or ids), oldest first; they leave the queue."""
        with self._hints_lock:
            taken = list(self._hints)[:limit]
            for ref in taken:
                del self._hints[ref]
        return taken

    def return_hints(self, refs: Sequence[str]) -> None:
        """Put hints that could not be looked at back at the front of the queue."""
        with self._hints_lock:
            rest, self._hints = self._hints, dict.fromkeys(refs)
            self._hints.update(rest)

    def credential_expiries(self) -> list[CredentialExpiry]:
        """The token's expiry (``token_expires``), if set."""
        return self.settings.credential_expiries()

    def check(self) -> list[str]:
        """What ``pixbridge doctor`` reports; see :func:`pixbridge_jira.doctor.problems`."""
        from pixbridge_jira.doctor import problems

        return problems(self)

    # ------------------------------------------------------------------ ids

    @property
    def account(self) -> str:
        """The account pixbridge writes as (``account`` setting, else asked from Jira once)."""
        if self._account is None:
            me = self.session.get("myself")
            self._account = self.map.user_id(me)
        return self._account

    def field_ids(self) -> dict[str, str]:
        """pixbridge fact -> Jira field id, names resolved through ``/field`` (once)."""
        if self._field_ids is None:
            wanted = self.settings.fields
            ids: dict[str, str] = {}
            if all(_FIELD_ID.fullmatch(v) for v in wanted.values()):
                ids = dict(wanted)
            else:
                known = self.session.get("field")
                by_name = {str(f["name"]).casefold(): str(f["id"]) for f in known}
                by_id = {str(f["id"]) for f in known}
                for fact, ref in wanted.items():
                    found = ref if ref in by_id else by_name.get(ref.casefold())
                    if found is None:
                        raise PermanentAdapterError(
                            f"adapters.jira.fields.{fact}: Jira has no field {ref!r}"
                        )
                    ids[fact] = found
            self._field_ids = ids
        return self._field_ids

    # ------------------------------------------------------------------ requests

    def create_request(self, draft: RequestDraft) -> str:
        """Create the issue (marker as a label), then upload the draft's files.

        With ``draft.recovering``, or when the create's response is lost, the issue is first
        looked for by its marker for up to ``reconcile_patience`` seconds; a create is never
        simply repeated.
        """
        try:
            found = self._reconcile(draft.marker) if draft.recovering else None
            key = found or self._create(draft)
        except UnknownOutcome:
            try:
                found = self._reconcile(draft.marker)
            except PermanentAdapterError as exc:
                self._explain(exc, creating=True)
                raise
            if found is None:
                raise UnknownOutcome(
                    f"Jira's answer to creating the request {draft.marker} was lost and no issue "
                    f"with that label appeared within {self.settings.reconcile_patience:.0f}s; "
                    "it will be looked for again before anything is created"
                ) from None
            key = found
        except PermanentAdapterError as exc:
            self._explain(exc, creating=True)
            raise
        if found is not None:
            self.add_attachments(found, draft.attachments)
            return found
        for attachment in draft.attachments:
            self._upload(key, attachment)
        return key

    def _explain(self, error: PermanentAdapterError, *, creating: bool) -> None:
        """Raise :class:`ProjectUnavailable` from *error* (Jira refused a create or a search in
        the project) if the account may not browse, or create issues in, ``project``.

        Jira answers as if a project the account may not browse did not exist (a 400 naming the
        project, in the account's language; for a missing *Create Issues* a 400 on the fields),
        so only its permissions tell: they are asked for once, here, never on success.
        """
        s = self.settings
        who = f"the account {self._account!r}" if self._account else "the account"
        wanted = "BROWSE_PROJECTS,CREATE_ISSUES" if creating else "BROWSE_PROJECTS"
        try:
            found = self.session.get("mypermissions", permissions=wanted, projectKey=s.project)
        except PermanentAdapterError:
            # 404: a project the account may not view looks like one that does not exist.
            why = (
                f"Jira shows {who} no project {s.project!r}: the key is wrong, the project was "
                "deleted, or the account may not browse it"
            )
        except AdapterError:
            return  # Jira cannot tell now; its first answer stands
        else:
            have = (found or {}).get("permissions") or {}
            if (have.get("BROWSE_PROJECTS") or {}).get("havePermission") is False:
                why = f"{who} sees project {s.project} but may not browse its issues"
            elif creating and (have.get("CREATE_ISSUES") or {}).get("havePermission") is False:
                why = f"{who} may not create issues in project {s.project}"
            else:
                return  # not the project: Jira's own words say what is wrong
        raise ProjectUnavailable(
            f'adapters.{s.table}.project = "{s.project}": {why} ({error}); grant the '
            f"account Browse Projects and Create Issues in project {s.project} (through the "
            "project's permission scheme, e.g. a project role), or correct the key; "
            "`pixbridge doctor` checks it"
        ) from error

    def create_requests(self, drafts: Sequence[RequestDraft]) -> list[str]:
        """Register several independent requests, ``concurrency`` at a time; keys in order.

        The orchestrator registers one message at a time; this is the concurrent path for bulk
        imports and the benchmark. Each request is still paced and reconciled on its own.
        """
        workers = max(1, self.settings.concurrency)
        if workers == 1:
            return [self.create_request(d) for d in drafts]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jira") as pool:
            return list(pool.map(self.create_request, drafts))

    def _create(self, draft: RequestDraft) -> str:
        fields = self._issue_fields(draft)
        if self.cloud:
            created = self.session.send(
                "POST", "issue", {"fields": fields}, version="3", creates=True
            )
            key = str(created["key"])
        else:

            def post() -> str:
                issue = self.session.client.create_issue(fields=fields, prefetch=False)
                return str(issue.key)

            key = self.session.call(post, what="POST issue", creates=True)
        self.session.note_write(key)
        return key

    def _issue_fields(self, draft: RequestDraft) -> dict[str, Any]:
        ids = self.field_ids()
        facts = {"customer": draft.customer, **dict(draft.fields)}
        in_header = {k: v for k, v in facts.items() if k not in ids and v}
        description = body.compose_description(draft.description, in_header)
        labels = [draft.marker, *draft.labels]
        fields: dict[str, Any] = {
            "project": {"key": self.settings.project},
            "issuetype": {"name": self.settings.issue_type},
            "summary": " ".join(draft.summary.split())[:255] or "(no subject)",
            "description": body.encode(description, self.cloud),
            "labels": list(dict.fromkeys(_LABEL_BAD.sub("_", x) for x in labels if x)),
        }
        if self.settings.components:
            fields["components"] = [{"name": name} for name in self.settings.components]
        priority = self.map.jira_priority(draft.priority)
        if priority:
            fields["priority"] = {"name": priority}
        if draft.assignee:
            fields["assignee"] = self.map.user(draft.assignee)
        for fact, value in facts.items():
            if fact in ids and value:
                fields[ids[fact]] = value
        return fields

    def _reconcile(self, marker: str) -> str | None:
        """The key of the issue labelled *marker*, searching patiently (search lags writes)."""
        jql = f'project = "{self.settings.project}" AND labels = "{marker}"'
        deadline = time.monotonic() + max(0.0, self.settings.reconcile_patience)
        wait = 0.25
        while True:
            keys = self.search_keys(jql)
            if keys:
                return sorted(keys, key=_key_number)[0]
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.session.sleep(min(wait, left))
            wait = min(wait * 2, 30.0)

    def search_keys(self, jql: str) -> list[str]:
        """Keys of the issues *jql* finds (first page, enough for a marker)."""
        if self.cloud:
            page = self.session.get("search/jql", version="3", jql=jql, fields="key", maxResults=50)
        else:
            page = self.session.get("search", jql=jql, fields="key", maxResults=50, startAt=0)
        return [str(i["key"]) for i in page.get("issues", [])]

    # ------------------------------------------------------------------ comments and files

    def add_comment(self, key: str, draft: CommentDraft) -> str:
        """Add pixbridge's comment (marker in the ``pixbridge`` comment property), files first."""
        if draft.recovering:
            found = self._comment_with_marker(key, draft.marker)
            if found is not None:
                return found
        self.add_attachments(key, draft.attachments)
        text = body.compose_description(draft.body, {"customer": draft.author})
        data: dict[str, Any] = {
            "body": body.encode(text, self.cloud),
            "properties": [
                {
                    "key": PROPERTY,
                    "value": {
                        "marker": draft.marker,
                        "author": draft.author,
                        "attachments": [a.filename for a in draft.attachments],
                    },
                }
            ],
        }
        if not draft.public:
            self.map.internal(data)
        path = f"issue/{key}/comment"
        try:
            made = self.session.send("POST", path, data, version=self.api, issue=key, creates=True)
        except UnknownOutcome:
            found = self._comment_with_marker(key, draft.marker)
            if found is not None:
                return found
            made = self.session.send("POST", path, data, version=self.api, issue=key, creates=True)
        return str(made["id"])

    def _comment_with_marker(self, key: str, marker: str) -> str | None:
        if not marker:
            return None
        for raw in self.raw_comments(key):
            if _property(raw, PROPERTY).get("marker") == marker:
                return str(raw["id"])
        return None

    def raw_comments(self, key: str) -> list[dict[str, Any]]:
        """Every comment of *key* as Jira returns it (with properties), oldest first."""
        comments: list[dict[str, Any]] = []
        while True:
            page = self.session.get(
                f"issue/{key}/comment", version=self.api, startAt=len(comments),
                maxResults=100, expand="properties",
            )  # fmt: skip
            batch = page.get("comments", [])
            comments.extend(batch)
            if not batch or len(comments) >= int(page.get("total", len(comments))):
                return comments

    def add_attachments(self, key: str, attachments: Sequence[Attachment]) -> None:
        """Upload each file unless one with its name and size is already on the issue."""
        if not attachments:
            return
        have = self._attachments(key)
        for attachment in attachments:
            if (attachment.filename, attachment.size) in have:
                continue
            self._upload(key, attachment)
            have.add((attachment.filename, attachment.size))

    def _attachments(self, key: str) -> set[tuple[str, int]]:
        issue = self.session.get(f"issue/{key}", fields="attachment")
        found = issue.get("fields", {}).get("attachment") or []
        return {(str(a["filename"]), int(a["size"])) for a in found}

    def _upload(self, key: str, attachment: Attachment) -> None:
        def post() -> None:
            stream = io.BytesIO(attachment.data)
            self.session.client.add_attachment(key, stream, filename=attachment.filename)

        what = f"POST issue/{key}/attachments"
        try:
            self.session.call(post, what=what, issue=key, creates=True)
        except UnknownOutcome:
            if (attachment.filename, attachment.size) not in self._attachments(key):
                self.session.call(post, what=what, issue=key, creates=True)

    # ------------------------------------------------------------------ status and links

    def set_status(self, key: str, status: RequestStatus) -> None:
        """Run the configured transition to *status* (nothing if the issue is already there)."""
        issue = self.session.get(f"issue/{key}", fields="status", expand="transitions")
        current = (issue.get("fields", {}).get("status") or {}).get("name")
        target = self.map.jira_status(status)
        if str(current).casefold() == target.casefold():
            return
        name = self.map.transition(status)
        options = issue.get("transitions") or []
        chosen = next(
            (t for t in options if str(t.get("name")).casefold() == name.casefold()), None
        )
        if chosen is None:
            available = ", ".join(repr(t.get("name")) for t in options) or "none"
            raise PermanentAdapterError(
                f"{key} is in status {current!r}, which has no transition named {name!r} "
                f"(adapters.jira.transitions.{status.value}); available: {available}"
            )
        data: dict[str, Any] = {"transition": {"id": str(chosen["id"])}}
        if status is RequestStatus.COMPLETED and self.settings.resolution:
            data["fields"] = {"resolution": {"name": self.settings.resolution}}
        self.session.send("POST", f"issue/{key}/transitions", data, issue=key)

    def link(self, key: str, follows: str) -> None:
        """Link *key* to *follows* with ``follows_link_type`` (once)."""
        if key.strip().upper() == follows.strip().upper():
            raise PermanentAdapterError(f"request {key} cannot follow itself")
        issue = self.session.get(f"issue/{key}", fields="issuelinks")
        kind = self.settings.follows_link_type
        for link in issue.get("fields", {}).get("issuelinks") or []:
            other = link.get("outwardIssue") or link.get("inwardIssue") or {}
            if other.get("key") == follows and link.get("type", {}).get("name") == kind:
                return
        data = {
            "type": {"name": kind},
            "inwardIssue": {"key": key},
            "outwardIssue": {"key": follows},
        }
        try:
            self.session.send("POST", "issueLink", data, issue=key)
        except PermanentAdapterError as exc:
            raise PermanentAdapterError(f"cannot link {key} to {follows}: {exc}") from exc

    def set_fix_version(self, key: str, product: str, version: str) -> None:
        """Add the Jira version of the build (``version_name``) to *key*'s fix versions.

        The version is created, unreleased, if it does not exist yet; the ``jira-version``
        publisher releases it when the build is published.
        """
        from pixbridge_jira.versions import JiraVersions

        versions = JiraVersions(self.session, self.settings)
        name = versions.name_for(product, version)
        versions.find_or_create(
            name, f"{product} {version}: created by pixbridge for the requests waiting for it."
        )
        versions.add_fix_version(key, name)

    # ------------------------------------------------------------------ reading

    def get_request(self, key: str) -> TrackedRequest:
        """The issue *key* as pixbridge sees it, with its comments oldest first."""
        ids = self.field_ids()
        wanted = "summary,description,status,priority,assignee,attachment,issuelinks"
        wanted = ",".join([wanted, *ids.values()])
        issue = self.session.get(f"issue/{key}", version=self.api, fields=wanted)
        f = issue.get("fields", {})
        text, facts = body.split_description(body.decode(f.get("description"), self.cloud))
        for fact, field_id in ids.items():
            value = f.get(field_id)
            if value is not None:
                facts[fact] = str(value.get("value", value) if isinstance(value, dict) else value)
        links = []
        for link in f.get("issuelinks") or []:
            other = link.get("outwardIssue") or link.get("inwardIssue") or {}
            if other.get("key"):
                links.append(str(other["key"]))
        status = self.map.status((f.get("status") or {}).get("name"))
        return TrackedRequest(
            key=str(issue.get("key", key)),
            status=status or RequestStatus.IN_PROGRESS,
            summary=str(f.get("summary") or ""),
            description=text,
            customer=facts.pop("customer", ""),
            priority=self.map.level((f.get("priority") or {}).get("name")),
            assignee=self.map.user_id(f.get("assignee")) or None,
            attachments=tuple(str(a["filename"]) for a in f.get("attachment") or []),
            links=tuple(links),
            comments=tuple(self.comment_from(c) for c in self.raw_comments(key)),
            fields=facts,
        )

    def comment_from(self, raw: dict[str, Any]) -> TrackerComment:
        """A :class:`TrackerComment` from Jira's comment JSON."""
        from datetime import datetime

        prop = _property(raw, PROPERTY)
        author = self.map.user_id(raw.get("author"))
        ours = bool(prop) or author == self.account
        text, facts = body.split_description(body.decode(raw.get("body"), self.cloud))
        if not ours:
            text = body.decode(raw.get("body"), self.cloud)
        return TrackerComment(
            id=str(raw["id"]),
            body=text,
            public=self.map.is_public(raw),
            author=str(
                prop.get("author")
                or facts.get("customer")
                or (raw.get("author") or {}).get("displayName")
                or author
            ),
            by_pixbridge=ours,
            created_at=datetime.strptime(str(raw["created"]), "%Y-%m-%dT%H:%M:%S.%f%z"),
            attachments=tuple(prop.get("attachments") or ()),
        )

    def changes_since(self, watermark: str | None) -> ChangeBatch:
        """Agents' comments and status changes since *watermark*; see :mod:`pixbridge_jira.sync`.

        Issues a webhook named are read first, directly; the JQL search follows as always.
        """
        from pixbridge_jira.sync import changes_since

        self.start_webhook()
        try:
            return changes_since(self, watermark)
        except PermanentAdapterError as exc:
            self._explain(exc, creating=False)
            raise


def _property(raw: dict[str, Any], key: str) -> dict[str, Any]:
    for prop in raw.get("properties") or []:
        if prop.get("key") == key and isinstance(prop.get("value"), dict):
            return dict(prop["value"])
    return {}


def _key_number(key: str) -> int:
    number = key.rpartition("-")[2]
    return int(number) if number.isdigit() else 0
