"""How the fake Jira shows its data: the JSON shapes of issues, comments, files and changelog."""

from __future__ import annotations

from typing import Any

from pixbridge_jira import adf
from pixbridge_jira.testing.state import (
    CUSTOM_FIELDS,
    LINK_TYPES,
    STATUSES,
    Comment,
    FakeIssue,
    State,
    User,
    jira_time,
)
from pixbridge_jira.testing.versions import VersionApi

__all__ = ["Renderer"]

SEARCH_COMMENT_LIMIT = 20
"""Search results carry at most this many comments per issue (as Jira Cloud's do)."""


class Renderer:
    """Renders the state for API version ``"2"`` (text bodies) or ``"3"`` (ADF bodies), as
    *viewer* sees it (``None``: everything, as in webhook bodies)."""

    def __init__(self, state: State, base: str, viewer: User | None = None) -> None:
        self.state = state
        self.base = base
        self.viewer = viewer

    def user(self, user: User) -> dict[str, Any]:
        """A user reference."""
        return user.ref(self.state.cloud, self.base)

    def text(self, value: Any, version: str) -> Any:
        """A stored body as *version* shows it."""
        if value is None:
            return None
        if version == "3":
            return value if adf.is_document(value) else adf.from_text(str(value))
        return adf.to_text(value) if adf.is_document(value) else value

    def comment(
        self, issue: FakeIssue, c: Comment, version: str, properties: bool = False
    ) -> dict[str, Any]:
        """A comment."""
        out: dict[str, Any] = {
            "id": str(c.id),
            "self": f"{self.base}/rest/api/{version}/issue/{issue.id}/comment/{c.id}",
            "author": self.user(c.author),
            "updateAuthor": self.user(c.author),
            "body": self.text(c.body, version),
            "created": jira_time(c.created),
            "updated": jira_time(c.created),
        }
        if c.visibility:
            out["visibility"] = c.visibility
        for prop in c.properties:
            if prop.get("key") == "sd.public.comment":
                out["jsdPublic"] = not (prop.get("value") or {}).get("internal")
        if properties:
            out["properties"] = c.properties
        return out

    def history(self, h: dict[str, Any]) -> dict[str, Any]:
        """A changelog entry."""
        return {"id": h["id"], "author": self.user(h["author"]),
                "created": jira_time(h["created"]), "items": h["items"]}  # fmt: skip

    def issue(
        self,
        issue: FakeIssue,
        version: str,
        fields: str | None = None,
        expand: str | None = None,
        search: bool = False,
    ) -> dict[str, Any]:
        """An issue with the *fields* asked for (``*all`` or none: every field)."""
        everything = self._fields(issue, version, search)
        wanted = [f for f in (fields or "*all").split(",") if f]
        if "*all" not in wanted and "*navigable" not in wanted:
            everything = {k: v for k, v in everything.items() if k in wanted}
        out: dict[str, Any] = {
            "id": str(issue.id),
            "key": issue.key,
            "self": f"{self.base}/rest/api/{version}/issue/{issue.id}",
            "fields": everything,
        }
        expands = set((expand or "").split(","))
        if "transitions" in expands:
            out["transitions"] = self.transitions(issue)
        if "changelog" in expands:
            histories = [self.history(h) for h in issue.histories]
            out["changelog"] = {"startAt": 0, "maxResults": len(histories),
                                "total": len(histories), "histories": histories}  # fmt: skip
        return out

    def transitions(self, issue: FakeIssue) -> list[dict[str, Any]]:
        """The transitions offered from the issue's status."""
        return [
            {"id": tid, "name": name,
             "to": {"name": to, "id": STATUSES[to], "self": f"{self.base}/rest/api/2/status/{STATUSES[to]}"}}
            for tid, name, to in self.state.transitions(issue)
        ]  # fmt: skip

    def _fields(self, issue: FakeIssue, version: str, search: bool) -> dict[str, Any]:
        f = issue.fields
        project = self.state.projects[issue.project]
        comments = [self.comment(issue, c, version) for c in issue.comments]
        shown = comments[:SEARCH_COMMENT_LIMIT] if search else comments
        out: dict[str, Any] = {
            "summary": f.get("summary"),
            "description": self.text(f.get("description"), version),
            "project": {"id": project.id, "key": project.key, "name": project.name,
                        "self": f"{self.base}/rest/api/2/project/{project.id}"},
            "issuetype": dict(f.get("issuetype") or {}),
            "labels": list(f.get("labels") or []),
            "priority": ({"name": f["priority"]["name"]} if f.get("priority") else {"name": "Medium"}),
            "assignee": (self.user(self.state.user_from_ref(f["assignee"], "assignee"))
                         if f.get("assignee") else None),
            "reporter": self.user(f["reporter"]),
            "status": {"name": issue.status, "id": STATUSES[issue.status],
                       "self": f"{self.base}/rest/api/2/status/{STATUSES[issue.status]}"},
            "resolution": {"name": issue.resolution} if issue.resolution else None,
            "created": jira_time(issue.created),
            "updated": jira_time(issue.updated),
            "comment": {"comments": shown, "maxResults": len(shown), "total": len(comments),
                        "startAt": 0},
            "attachment": list(issue.attachments),
            # Jira leaves out links to issues the viewer may not browse.
            "issuelinks": [self.link(*link) for link in issue.links
                           if self.state.browses(self.viewer, link[3].rpartition("-")[0])],
        }  # fmt: skip
        out["components"] = [self.component(ref) for ref in f.get("components") or []]
        out["fixVersions"] = VersionApi(self.state, lambda: self.base).fix_versions(issue)
        for name in CUSTOM_FIELDS:
            out[name] = f.get(name)
        return out

    def component(self, ref: dict[str, Any]) -> dict[str, Any]:
        """A component (stored as sent: by id or by name)."""
        names = self.state.components
        cid = (
            str(ref["id"])
            if "id" in ref
            else next((i for i, n in names.items() if n == ref.get("name")), "0")
        )
        name = names.get(cid, str(ref.get("name")))
        return {"id": cid, "name": name, "self": f"{self.base}/rest/api/2/component/{cid}"}

    def webhook_body(
        self,
        event: str,
        issue: FakeIssue,
        user: User,
        comment: Comment | None,
        items: list[dict[str, Any]],
        at: float,
    ) -> dict[str, Any]:
        """The JSON Jira posts to a webhook for *event* (REST v2 shapes, as Jira sends them)."""
        body: dict[str, Any] = {"timestamp": int(at * 1000), "webhookEvent": event}
        if event.startswith("comment_"):
            shown = self.issue(issue, "2", "summary,issuetype,project,assignee,priority,status")
            body.update(comment=self.comment(issue, comment, "2") if comment else {}, issue=shown)
            return body
        body["user"] = self.user(user)
        body["issue"] = self.issue(issue, "2")
        if comment is not None:
            body["issue_event_type_name"] = "issue_commented"
            body["comment"] = self.comment(issue, comment, "2")
        else:
            body["issue_event_type_name"] = "issue_generic" if items else "issue_created"
        if items:
            body["changelog"] = {"id": str(self.state.next_id()), "items": items}
        return body

    def link(self, link_id: int, type_name: str, side: str, other_key: str) -> dict[str, Any]:
        """One entry of ``issuelinks``."""
        tid, name, inward, outward = next(t for t in LINK_TYPES if t[1] == type_name)
        other = self.state.issue(other_key)
        return {
            "id": str(link_id),
            "self": f"{self.base}/rest/api/2/issueLink/{link_id}",
            "type": {"id": tid, "name": name, "inward": inward, "outward": outward},
            side: {"id": str(other.id), "key": other.key,
                   "self": f"{self.base}/rest/api/2/issue/{other.id}",
                   "fields": {"summary": other.fields.get("summary"),
                              "status": {"name": other.status}}},
        }  # fmt: skip
