"""``pixbridge doctor`` for Jira: can we sign in, and does everything the settings name exist?

Each problem is one line naming the setting to fix. Checks stop early only where the rest
cannot be made (no URL, no connection, refused credentials, no project).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixbridge.errors import AdapterError, NeedsCredentials

if TYPE_CHECKING:
    from pixbridge_jira.adapter import JiraTracker

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
        return [*found, f"adapters.jira.project: no project {s.project!r} ({exc})"]
    types = [str(t.get("name")) for t in project.get("issueTypes") or []]
    if s.issue_type.casefold() not in {t.casefold() for t in types}:
        found.append(
            f"adapters.jira.issue_type: project {s.project} has no issue type {s.issue_type!r} "
            f"(it has {', '.join(types) or 'none'})"
        )
    found.extend(_field_problems(tracker, session.get("field")))
    found.extend(_status_problems(tracker, session.get(f"project/{s.project}/statuses")))
    return found


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
