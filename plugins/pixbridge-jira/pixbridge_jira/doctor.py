"""``pixbridge doctor`` for Jira: can we sign in, and does everything the settings name exist?

Each problem is one line naming the setting to fix. Checks stop early only where the rest
cannot be made (no URL, no connection, refused credentials, no project, or a project the
account may not browse).

Without *Browse Projects* in a project, Jira answers as if it did not exist (404 on the
project, 400 on JQL naming it), so doctor cannot tell a wrong key from a missing permission
in general; it says which when Jira's permissions tell: an account that browses no project at
all, or one that sees the project (as its administrator) but may not browse its issues.

With a webhook configured, doctor checks that its address can be bound (or that a running
pixbridge already answers there) and, if the account may list Jira's admin webhooks, that one
is registered for it with the needed events; otherwise it logs where and how to register it.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pixbridge.errors import AdapterError, NeedsCredentials
from pixbridge_jira.settings import JiraSettings, WebhookSettings
from pixbridge_jira.webhook import SERVER_NAME

if TYPE_CHECKING:
    from pixbridge_jira.adapter import JiraTracker

NEEDED_EVENTS = ("comment_created", "jira:issue_updated")
"""Webhook events pixbridge needs: new comments, and transitions (issue updated)."""

__all__ = ["problems"]


def problems(tracker: JiraTracker) -> list[str]:
    """Every problem found in the Jira settings, one line each (empty: all is well)."""
    s = tracker.settings
    found = s.setup_problems()
    if found:
        return found
    session = tracker.session
    try:
        me = session.get("myself")
    except NeedsCredentials as exc:
        return [f"adapters.jira.auth/email/token: {exc}"]
    except AdapterError as exc:
        return [f"adapters.jira.url: cannot reach Jira at {s.url}: {exc}"]
    server = session.client.server_info()
    cloud = server.get("deploymentType") == "Cloud"
    if cloud != tracker.cloud:
        kind = "cloud" if cloud else "datacenter"
        # Every later check would use the wrong API version.
        return [f'adapters.jira.deployment: the site is {kind}; set deployment = "{kind}"']
    account = tracker.map.user_id(me)
    if s.account and s.account != account:
        found.append(
            f"adapters.jira.account: {s.account!r} is not the signed-in account {account!r}; "
            "pixbridge would mistake its own comments for agents'"
        )
    try:
        project = session.get(f"project/{s.project}", expand="issueTypes")
    except AdapterError as exc:
        if _browses(tracker):
            # Jira answers alike for a wrong key and for a project the account may not browse.
            why = "check the key, and that the account has Browse Projects there"
            return [*found, f"adapters.jira.project: no project {s.project!r}; {why} ({exc})"]
        why = f"may browse no project at all, so Jira shows it no project {s.project!r}"
        return [*found, f"adapters.jira.project: the account {account!r} {why}; {_grant(s)}"]
    if not _browses(tracker, projectKey=s.project):
        # Every search and issue read in the project would fail: nothing more to check.
        why = f"sees project {s.project} but may not browse its issues"
        return [*found, f"adapters.jira.project: the account {account!r} {why}; {_grant(s)}"]
    types = [str(t.get("name")) for t in project.get("issueTypes") or []]
    if s.issue_type.casefold() not in {t.casefold() for t in types}:
        found.append(
            f"adapters.jira.issue_type: project {s.project} has no issue type {s.issue_type!r} "
            f"(it has {', '.join(types) or 'none'})"
        )
    found.extend(_component_problems(tracker))
    found.extend(_field_problems(tracker, session.get("field")))
    found.extend(_status_problems(tracker, session.get(f"project/{s.project}/statuses")))
    found.extend(webhook_problems(tracker))
    return found


def _grant(s: JiraSettings) -> str:
    return (
        f"grant it the Browse Projects permission in project {s.project} "
        "(through the project's permission scheme, e.g. a project role)"
    )


def _browses(tracker: JiraTracker, **scope: str) -> bool:
    """Whether Jira says the account has *Browse Projects* in *scope* (none: in any project).

    A Jira that cannot answer counts as yes: the checks that follow will say what fails."""
    try:
        found = tracker.session.get("mypermissions", permissions="BROWSE_PROJECTS", **scope)
    except AdapterError:
        return True
    entry = ((found or {}).get("permissions") or {}).get("BROWSE_PROJECTS") or {}
    return entry.get("havePermission") is not False


def _component_problems(tracker: JiraTracker) -> list[str]:
    s = tracker.settings
    if not s.components:
        return []
    have = [str(c.get("name")) for c in tracker.session.get(f"project/{s.project}/components")]
    return [
        f"adapters.jira.components: project {s.project} has no component {name!r} "
        f"(it has {', '.join(repr(h) for h in have) or 'none'})"
        for name in s.components
        if name not in have
    ]


def webhook_problems(tracker: JiraTracker) -> list[str]:
    """Problems of the webhook settings: the address, and the registration in Jira."""
    hook = tracker.settings.webhook
    if hook is None or hook.secret is None:
        return []  # no webhook, or setup_problems already named the missing secret
    found = []
    listening = _listen_problem(tracker, hook)
    if listening:
        found.append(listening)
    found.extend(_registration_problems(tracker, hook))
    return found


def registration_help(tracker: JiraTracker) -> str:
    """Where and how to register pixbridge's webhook in Jira."""
    s = tracker.settings
    assert s.webhook is not None
    target = s.webhook.public_url or (
        f"the address Jira reaches for {s.webhook.listen}{s.webhook.path} "
        "(set adapters.jira.webhook.public_url to it)"
    )
    return (
        "register it as a Jira administrator (Cloud: Settings > System > WebHooks; Data Center: "
        f"Administration > System > WebHooks) with URL {target}, JQL 'project = {s.project}', "
        "events Comment: created and Issue: updated, and the value of "
        "adapters.jira.webhook.secret as its Secret (a Jira without a Secret field: append "
        "?secret=<that value> to the URL)"
    )


def _listen_problem(tracker: JiraTracker, hook: WebhookSettings) -> str | None:
    if tracker.webhook is not None:
        return None  # this process listens already
    host, port = hook.address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
        return None
    except OSError as exc:
        error = exc
    if _pixbridge_answers(host, port, hook.path):
        return None  # a running pixbridge (``pixbridge run``) listens there
    return (
        f"adapters.jira.webhook.listen: cannot listen on {hook.listen} ({error}), and what "
        "answers there is not pixbridge's webhook receiver; choose a free address"
    )


def _pixbridge_answers(host: str, port: int, path: str) -> bool:
    local = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    shown = f"[{local}]" if ":" in local else local
    try:
        with urllib.request.urlopen(f"http://{shown}:{port}{path}", timeout=3) as answer:
            server = str(answer.headers.get("Server", ""))
    except urllib.error.HTTPError as exc:
        server = str(exc.headers.get("Server", ""))
    except OSError:
        return False
    return server.startswith(SERVER_NAME)


def _registration_problems(tracker: JiraTracker, hook: WebhookSettings) -> list[str]:
    s = tracker.settings
    session = tracker.session
    url = f"{s.url}/rest/webhooks/1.0/webhook"
    try:
        listed = session.call(
            lambda: session.client._session.get(url).json(), what="GET webhooks/1.0/webhook"
        )
    except AdapterError as exc:  # not a Jira administrator, mostly: the account needs no more
        tracker.context.logger.warning(
            "adapters.jira.webhook: cannot list Jira's webhooks to check the registration "
            "(%s); make sure one is registered: %s", exc, registration_help(tracker),
        )  # fmt: skip
        return []
    ours = [h for h in listed if isinstance(h, dict) and _targets_us(str(h.get("url")), hook)]
    where = "adapters.jira.webhook"
    if not ours:
        return [
            f"{where}: Jira has no webhook posting to this receiver; {registration_help(tracker)}"
        ]
    problems = []
    for entry in ours:
        name = entry.get("name") or entry.get("self")
        if not entry.get("enabled", True):
            problems.append(f"{where}: Jira's webhook {name!r} is disabled; enable it in Jira")
        missing = [e for e in NEEDED_EVENTS if e not in (entry.get("events") or [])]
        if missing:
            problems.append(
                f"{where}: Jira's webhook {name!r} does not send {', '.join(missing)}; "
                "tick Comment: created and Issue: updated"
            )
    return problems


def _targets_us(url: str, hook: WebhookSettings) -> bool:
    """Whether a registered webhook URL points at this receiver (its query may hold the secret)."""
    theirs = urlsplit(url)
    if hook.public_url:
        mine = urlsplit(hook.public_url)
        return (theirs.scheme, theirs.netloc.lower(), theirs.path.rstrip("/")) == (
            mine.scheme, mine.netloc.lower(), mine.path.rstrip("/"),
        )  # fmt: skip
    return theirs.path.rstrip("/") == hook.path.rstrip("/")


def _field_problems(tracker: JiraTracker, fields: list[dict[str, Any]]) -> list[str]:
    by_id = {str(f["id"]) for f in fields}
    by_name = {str(f["name"]).casefold() for f in fields}
    return [
        f"adapters.jira.fields.{fact}: Jira has no field with id or name {ref!r}"
        for fact, ref in tracker.settings.fields.items()
        if ref not in by_id and ref.casefold() not in by_name
    ]


def _status_problems(tracker: JiraTracker, per_type: list[dict[str, Any]]) -> list[str]:
    s = tracker.settings
    names: set[str] = set()
    for entry in per_type:
        if str(entry.get("name")).casefold() == s.issue_type.casefold() or not names:
            names |= {str(st.get("name")).casefold() for st in entry.get("statuses") or []}
    out = [
        f"adapters.jira.statuses.{ours}: the workflow of {s.issue_type!r} has no status {theirs!r}"
        for ours, theirs in s.statuses.items()
        if theirs.casefold() not in names
    ]
    out.extend(_transition_problems(tracker))
    return out


def _transition_problems(tracker: JiraTracker) -> list[str]:
    """Transition names are checked against an existing issue of the project, if there is one."""
    s = tracker.settings
    keys = tracker.search_keys(f'project = "{s.project}" ORDER BY created DESC')
    if not keys:
        return []
    workflow = tracker.session.get(f"issue/{keys[0]}/transitions")
    names = {str(t.get("name")).casefold() for t in workflow.get("transitions") or []}
    # Transitions offered depend on the issue's status; the one to its own status is absent.
    return [
        f"adapters.jira.transitions.{ours}: no transition named {name!r} in the workflow "
        f"(offered from {keys[0]}: {', '.join(sorted(names)) or 'none'})"
        for ours, name in s.transitions.items()
        if name.casefold() not in names and not _reaches_current(tracker, keys[0], ours)
    ]


def _reaches_current(tracker: JiraTracker, key: str, ours: str) -> bool:
    issue = tracker.session.get(f"issue/{key}", fields="status")
    current = str((issue.get("fields", {}).get("status") or {}).get("name", ""))
    return current.casefold() == tracker.settings.statuses.get(ours, "").casefold()
