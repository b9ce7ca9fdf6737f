"""The fake Jira's data: users, projects, issues, comments, files, links, changelog, search.

It validates what the real Jira validates on the calls pixbridge makes (required fields, field
types, labels without spaces, known priorities and components, users, transitions, link types,
ADF documents) and answers with Jira's error body
``{"errorMessages": [...], "errors": {field: message}}``. Creations, comments and transitions
are announced to :attr:`State.listener` (the server turns them into webhook deliveries).

The site has pixbridge's project (:attr:`State.project`, with the components, the versions
pixbridge manages and *Administer Projects* for pixbridge) and any other projects a test adds
with :meth:`State.add_project`. As in Jira, issue ids are global across projects, an issue is
found by its id whatever its project, and an account may browse every project unless a test
takes *Browse Projects* from it (:meth:`State.hide_project`): pixbridge has to check an issue's
project itself.

*Browse Projects* as Jira applies it: to an account without it, the project's issues do not
exist (404 on every issue resource, the same answer as for a missing issue; left out of search
results and of other issues' links), the project does not exist for JQL (400 on
``project = X``) nor for creating issues, and its project resource answers 404 unless the
account administers the project (Jira's *view project* needs Browse or Administer Projects).
Browse is granted by the permission scheme only: Jira administrators do not browse by right.

*Create Issues* as Jira applies it (JRASERVER-44003): an account that browses the project but
may not create in it is answered 400 with every field it sent (but the project and the issue
type) "cannot be set", not with a permission error (:meth:`State.deny_create`).
Only Browse and Create Issues are modelled per project; the other project permissions stay open
to every account. :meth:`State.grant_project` gives both back.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pixbridge_jira.testing.versions import FakeVersion

__all__ = ["Comment", "FakeIssue", "FakeProject", "JiraError", "Listener", "State", "User"]


class JiraError(Exception):
    """An error answer: HTTP status plus Jira's error body."""

    def __init__(
        self, status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, messages, errors)
        self.status = status
        self.body: dict[str, Any] = {"errorMessages": messages or [], "errors": errors or {}}


@dataclass
class User:
    """A Jira account."""

    name: str
    account_id: str
    display: str
    secret: str
    """Password (basic auth / API token) and personal access token alike."""

    def ref(self, cloud: bool, base: str) -> dict[str, Any]:
        """The user as Jira shows it."""
        if cloud:
            return {"accountId": self.account_id, "displayName": self.display, "active": True,
                    "self": f"{base}/rest/api/2/user?accountId={self.account_id}"}  # fmt: skip
        return {"name": self.name, "key": self.name, "displayName": self.display, "active": True,
                "self": f"{base}/rest/api/2/user?username={self.name}"}  # fmt: skip


@dataclass(frozen=True)
class FakeProject:
    """A project of the site."""

    key: str
    id: str
    name: str


@dataclass
class Comment:
    """A comment; ``body`` is kept as sent (string or ADF document)."""

    id: int
    author: User
    body: Any
    created: float
    visibility: dict[str, Any] | None = None
    properties: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakeIssue:
    """An issue and everything on it."""

    id: int
    key: str
    fields: dict[str, Any]
    created: float
    updated: float
    status: str = "Open"
    resolution: str | None = None
    comments: list[Comment] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    links: list[tuple[int, str, str, str]] = field(default_factory=list)
    """(link id, type name, "inward"/"outward", other key)"""
    histories: list[dict[str, Any]] = field(default_factory=list)

    @property
    def project(self) -> str:
        """The key of the issue's project (``SUP`` of ``SUP-12``)."""
        return self.key.rpartition("-")[0]


STATUSES = {"Open": "1", "In Progress": "3", "Waiting for customer": "10001", "Done": "10002"}
TRANSITIONS = [
    ("11", "Reopen", "Open"),
    ("21", "Start progress", "In Progress"),
    ("31", "Wait for customer", "Waiting for customer"),
    ("41", "Resolve", "Done"),
]
PRIORITIES = ["Highest", "High", "Medium", "Low", "Lowest"]
RESOLUTIONS = ["Done", "Won't Do", "Duplicate"]
LINK_TYPES = [("10000", "Relates", "relates to", "relates to"),
              ("10001", "Follows", "is followed by", "follows")]  # fmt: skip
SYSTEM_FIELDS = ["summary", "description", "project", "issuetype", "labels", "priority",
                 "assignee", "reporter", "status", "resolution", "comment", "attachment",
                 "issuelinks", "created", "updated", "components"]  # fmt: skip
COMPONENTS = {"10300": "Task Mining", "10301": "Recorder", "10302": "Licensing"}
"""The components of pixbridge's project, id -> name (other projects have none)."""
PERMISSIONS = {
    "ADMINISTER": ("0", "Administer Jira", "GLOBAL"),
    "ADMINISTER_PROJECTS": ("23", "Administer Projects", "PROJECT"),
    "BROWSE_PROJECTS": ("10", "Browse Projects", "PROJECT"),
    "CREATE_ISSUES": ("11", "Create Issues", "PROJECT"),
    "EDIT_ISSUES": ("12", "Edit Issues", "PROJECT"),
    "TRANSITION_ISSUES": ("46", "Transition Issues", "PROJECT"),
    "ADD_COMMENTS": ("15", "Add Comments", "PROJECT"),
    "CREATE_ATTACHMENTS": ("19", "Create Attachments", "PROJECT"),
    "LINK_ISSUES": ("21", "Link Issues", "PROJECT"),
}
"""Permission key -> (id, name, type) of the permissions the fake models (see
:meth:`State.permitted`); Jira refuses a key it does not know, and so does the fake."""
CUSTOM_FIELDS = {
    "customfield_10050": "Serial number",
    "customfield_10051": "Customer",
    "customfield_10052": "Missing items",
    "customfield_10053": "Operating system",
}
_LABEL = re.compile(r"^\S{1,255}$")

Listener = Callable[[str, "FakeIssue", "User", "Comment | None", "list[dict[str, Any]]"], None]
"""Told of each change: (webhook event name, issue, user, comment or None, changelog items)."""


def jira_time(epoch: float) -> str:
    """Jira's timestamp format, ``2026-01-15T09:00:00.000+0000``."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class State:
    """All data of one fake Jira site; every method is called under :attr:`lock`."""

    def __init__(self, *, cloud: bool, project: str = "SUP") -> None:
        self.cloud = cloud
        self.project = project
        """The key of pixbridge's project."""
        self.project_id = "10000"
        self.projects = {project: FakeProject(project, self.project_id, "Support")}
        """Every project of the site by key (pixbridge's and those of :meth:`add_project`)."""
        self.issue_types = [("10001", "Task"), ("10002", "Service Request")]
        self.lock = threading.RLock()
        self.users = {
            "pixbridge": User("pixbridge", "557058:pixbridge-bot", "pixbridge", "pb-secret"),
            "agent.smith": User(
                "agent.smith", "5b10ac8d82e05b22cc7d4ef5", "Agent Smith", "agent-pw"
            ),
        }
        self.roles = {"Developers", "Service Desk Team"}
        self.groups = {"jira-servicedesk-users"}
        self.issues: dict[str, FakeIssue] = {}
        self.versions: dict[int, FakeVersion] = {}
        """The project's versions by id (see :mod:`pixbridge_jira.testing.versions`)."""
        self.components = dict(COMPONENTS)
        self.admins: set[str] = set()
        """Users with Jira administration (may list the admin webhooks)."""
        self.project_admins: set[str] = {"pixbridge"}
        """Users with the project's *Administer Projects* permission: only they (and Jira
        administrators) may create and change versions."""
        self.browsers: dict[str, set[str]] = {}
        """Project key -> names of the accounts with *Browse Projects* in it; every account
        browses a project absent here (see :meth:`hide_project`)."""
        self.creators: dict[str, set[str]] = {}
        """Project key -> names of the accounts with *Create Issues* in it; every account
        creates in a project absent here (see :meth:`deny_create`)."""
        self.listener: Listener | None = None
        self.search_lag = 0.0
        """Seconds before a new issue shows up in search (Jira's index lags writes)."""
        self._ids = iter(range(10100, 10**9))
        self._numbers: dict[str, int] = {}

    def next_id(self) -> int:
        """A fresh id (issues, comments, files, changelog entries share one sequence)."""
        return next(self._ids)

    # ------------------------------------------------------------------ projects

    def add_project(self, key: str, name: str = "Operations") -> FakeProject:
        """Add another project (no components, versions or project administrators)."""
        if key in self.projects:
            raise ValueError(f"the fake Jira has a project {key} already")
        added = FakeProject(key, str(10000 + len(self.projects)), name)
        self.projects[key] = added
        return added

    def project_of(self, ref: Any, user: User | None = None) -> FakeProject | None:
        """The project with key or id *ref*, or ``None`` (also if *user* may not browse it)."""
        found = next((p for p in self.projects.values() if str(ref) in (p.key, p.id)), None)
        return found if found is not None and self.browses(user, found.key) else None

    def viewable(self, ref: Any, user: User) -> FakeProject | None:
        """The project *ref* if *user* may see the project itself (not its issues): Jira shows
        it to those who browse or administer it, to anyone else as if there were none."""
        found = self.project_of(ref)
        if found is not None and (
            self.browses(user, found.key) or self.administers(user, found.key)
        ):
            return found
        return None

    def hide_project(self, key: str, from_users: Iterable[str]) -> None:
        """Take *Browse Projects* in *key* from the accounts *from_users*; the accounts of the
        site that have it keep it (accounts added later never get it)."""
        if key not in self.projects:
            raise ValueError(f"the fake Jira has no project {key}")
        hidden = set(from_users)
        if hidden - set(self.users):
            raise ValueError(f"the fake Jira has no accounts {sorted(hidden - set(self.users))}")
        self.browsers[key] = self.browsers.get(key, set(self.users)) - hidden

    def deny_create(self, key: str, from_users: Iterable[str]) -> None:
        """Take *Create Issues* in *key* from the accounts *from_users* (as :meth:`hide_project`
        does *Browse Projects*)."""
        if key not in self.projects:
            raise ValueError(f"the fake Jira has no project {key}")
        self.creators[key] = self.creators.get(key, set(self.users)) - set(from_users)

    def grant_project(self, key: str, to_users: Iterable[str]) -> None:
        """Give *Browse Projects* and *Create Issues* in *key* back to the accounts *to_users*."""
        for table in (self.browsers, self.creators):
            if key in table:
                table[key] |= set(to_users)

    def creates(self, user: User, project: str) -> bool:
        """Whether *user* has *Create Issues* in *project*."""
        return project not in self.creators or user.name in self.creators[project]

    def browses(self, user: User | None, project: str) -> bool:
        """Whether *user* has *Browse Projects* in *project* (``None``: the fake itself)."""
        return user is None or project not in self.browsers or user.name in self.browsers[project]

    def administers(self, user: User, project: str) -> bool:
        """Whether *user* has *Administer Projects* in *project* (Jira administrators do)."""
        if user.name in self.admins:
            return True
        return project == self.project and user.name in self.project_admins

    def permitted(self, user: User, permission: str, project: str | None) -> bool:
        """Whether *user* has *permission* in *project* (``None``: in any project, as Jira's
        global context answers for a project permission). Administration is as modelled by
        :attr:`admins` and :attr:`project_admins`, browsing by :attr:`browsers`, creating issues
        by :attr:`creators`; everything else is open to every account."""
        if permission == "ADMINISTER":
            return user.name in self.admins
        projects = [project] if project is not None else list(self.projects)
        if permission == "ADMINISTER_PROJECTS":
            return any(self.administers(user, p) for p in projects)
        if permission == "BROWSE_PROJECTS":
            return any(self.browses(user, p) for p in projects)
        if permission == "CREATE_ISSUES":
            return any(self.creates(user, p) for p in projects)
        return True

    # ------------------------------------------------------------------ users

    def authenticate(self, header: str | None) -> User:
        """The user an ``Authorization`` header signs in as; 401 otherwise."""
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() == "bearer":
                for user in self.users.values():
                    if value == user.secret:
                        return user
            elif scheme.lower() == "basic":
                decoded = base64.b64decode(value).decode("utf-8", "replace")
                name, _, secret = decoded.partition(":")
                for user in self.users.values():
                    if name in (user.name, f"{user.name}@pix.example") and secret == user.secret:
                        return user
        raise JiraError(
            401, ["You are not authenticated. Authentication required to perform this operation."]
        )

    def user_from_ref(self, ref: Any, where: str) -> User:
        """The user a request body names (``accountId`` on Cloud, ``name`` on DC)."""
        wanted = None
        if isinstance(ref, dict):
            wanted = ref.get("accountId") if self.cloud else ref.get("name")
        for user in self.users.values():
            if wanted in (user.account_id if self.cloud else user.name,):
                return user
        raise JiraError(400, errors={where: f"User '{wanted}' does not exist."})

    # ------------------------------------------------------------------ issues

    def issue(self, key: str, user: User | None = None) -> FakeIssue:
        """The issue *key* (or numeric id); 404 as Jira words it otherwise, and the very same
        404 if *user* may not browse its project (Jira does not tell the two apart)."""
        for issue in self.issues.values():
            if key in (issue.key, str(issue.id)) and self.browses(user, issue.project):
                return issue
        raise JiraError(404, ["Issue does not exist or you do not have permission to see it."])

    def create(self, fields: Any, user: User, adf: bool) -> FakeIssue:
        """Validate *fields* like Jira's create screen does, then create the issue."""
        if not isinstance(fields, dict):
            raise JiraError(400, ["Can not deserialize instance of fields"])
        errors: dict[str, str] = {}
        ref = fields.get("project") or {}
        project = self.projects.get(str(ref.get("key"))) or next(
            (p for p in self.projects.values() if p.id == str(ref.get("id"))), None
        )
        if not ref:
            errors["project"] = "valid project is required"
        elif project is None or not self.browses(user, project.key):
            errors["project"] = "Specify a valid project ID or key"
            project = None
        elif not self.creates(user, project.key):
            # Jira words a missing Create Issues as fields off the create screen (JRASERVER-44003).
            raise JiraError(400, errors={
                name: f"Field '{name}' cannot be set. It is not on the appropriate screen, or "
                "unknown." for name in fields if name not in ("project", "issuetype")
            })  # fmt: skip
        issuetype = fields.get("issuetype") or {}
        if not any(
            issuetype.get("name") == n or issuetype.get("id") == i for i, n in self.issue_types
        ):
            errors["issuetype"] = "valid issue type is required"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif "\n" in summary or "\r" in summary:
            errors["summary"] = "The summary is invalid because it contains newline characters."
        elif len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        if "description" in fields:
            problem = check_body(fields["description"], adf)
            if problem:
                errors["description"] = problem
        labels = fields.get("labels", [])
        if not isinstance(labels, list) or not all(
            isinstance(x, str) and _LABEL.match(x) for x in labels
        ):
            errors["labels"] = "The label contains spaces which is invalid."
        priority = fields.get("priority")
        if priority is not None and (priority or {}).get("name") not in PRIORITIES:
            errors["priority"] = f"Priority name '{(priority or {}).get('name')}' is not valid"
        known = {*SYSTEM_FIELDS, *CUSTOM_FIELDS}
        for name in fields:
            if name not in known:
                errors[name] = (f"Field '{name}' cannot be set. It is not on the appropriate "
                                "screen, or unknown.")  # fmt: skip
        for name in CUSTOM_FIELDS:
            if name in fields and not isinstance(fields[name], str | type(None)):
                errors[name] = "Operation value must be a string"
        components = self.components if project and project.key == self.project else {}
        problem = _component_problem(fields.get("components"), components)
        if problem:
            errors["components"] = problem
        if fields.get("assignee") is not None:
            try:
                self.user_from_ref(fields["assignee"], "assignee")
            except JiraError as exc:
                errors.update(exc.body["errors"])
        if errors:
            raise JiraError(400, errors=errors)
        assert project is not None
        number = self._numbers[project.key] = self._numbers.get(project.key, 0) + 1
        now = time.time()
        stored = dict(fields)
        stored["reporter"] = user
        issue = FakeIssue(self.next_id(), f"{project.key}-{number}", stored, now, now)
        self.issues[issue.key] = issue
        self.announce("jira:issue_created", issue, user)
        return issue

    def announce(
        self,
        event: str,
        issue: FakeIssue,
        user: User,
        comment: Comment | None = None,
        items: list[dict[str, Any]] | None = None,
    ) -> None:
        """Tell the listener (if any) about a change, as Jira's webhooks would."""
        if self.listener is not None:
            self.listener(event, issue, user, comment, items or [])

    def touch(self, issue: FakeIssue) -> float:
        """Mark *issue* updated now; returns the time."""
        issue.updated = max(time.time(), issue.updated + 0.001)
        return issue.updated

    def transition(self, issue: FakeIssue, user: User, body: Any, adf: bool) -> None:
        """Run a transition the way ``POST .../transitions`` does."""
        wanted = str(((body or {}).get("transition") or {}).get("id", ""))
        found = next((t for t in self.transitions(issue) if t[0] == wanted), None)
        if found is None:
            raise JiraError(400, [f"Transition id '{wanted}' is not valid for this issue."])
        resolution = (((body or {}).get("fields") or {}).get("resolution") or {}).get("name")
        if resolution is not None and resolution not in RESOLUTIONS:
            raise JiraError(400, errors={"resolution": f"Resolution '{resolution}' is not valid"})
        for update in ((body or {}).get("update") or {}).get("comment") or []:
            text = (update.get("add") or {}).get("body")
            problem = check_body(text, adf)
            if problem:
                raise JiraError(400, errors={"comment": problem})
            self.add_comment(issue, user, {"body": text})
        at = self.touch(issue)
        old, issue.status = issue.status, found[2]
        if found[2] == "Done":
            issue.resolution = resolution or issue.resolution
        elif found[2] == "Open":
            issue.resolution = None
        items = [{"field": "status", "fieldtype": "jira", "fromString": old,
                  "toString": found[2], "from": STATUSES[old], "to": STATUSES[found[2]]}]  # fmt: skip
        issue.histories.append(
            {"id": str(self.next_id()), "author": user, "created": at, "items": items}
        )
        self.announce("jira:issue_updated", issue, user, items=items)

    def transitions(self, issue: FakeIssue) -> list[tuple[str, str, str]]:
        """Transitions offered from the issue's status (global ones, except to itself)."""
        return [t for t in TRANSITIONS if t[2] != issue.status]

    def add_comment(self, issue: FakeIssue, user: User, body: Any) -> Comment:
        """Add a comment, checking its visibility and properties as Jira does."""
        visibility = body.get("visibility")
        if visibility is not None:
            kind = visibility.get("type")
            value = visibility.get("value") or visibility.get("identifier")
            allowed = self.roles if kind == "role" else self.groups if kind == "group" else set()
            if value not in allowed:
                raise JiraError(
                    400,
                    errors={
                        "commentLevel": f"You are currently not a member of the project role or group: {value}."
                    },
                )
        properties = body.get("properties") or []
        if not isinstance(properties, list) or not all(
            isinstance(p, dict) and isinstance(p.get("key"), str) for p in properties
        ):
            raise JiraError(
                400, errors={"properties": "Properties must be a list of {key, value}."}
            )
        comment = Comment(
            self.next_id(), user, body["body"], self.touch(issue), visibility, properties
        )
        issue.comments.append(comment)
        self.announce("comment_created", issue, user, comment)
        self.announce("jira:issue_updated", issue, user, comment)
        return comment

    # ------------------------------------------------------------------ search

    def search(self, jql: str, user: User | None = None) -> list[FakeIssue]:
        """The issues *jql* finds among those the (lagging) index knows and *user* browses."""
        text = jql.strip()
        if not text:
            raise JiraError(
                400,
                [
                    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
                ],
            )
        order = "key"
        descending = False
        match = re.search(r"\s+ORDER\s+BY\s+(\w+)(?:\s+(ASC|DESC))?\s*$", text, re.I)
        if match:
            order, descending = match.group(1).lower(), (match.group(2) or "").upper() == "DESC"
            text = text[: match.start()]
        now = time.time()
        hits = [i for i in self.issues.values()
                if i.created + self.search_lag <= now and self.browses(user, i.project)]  # fmt: skip
        for clause in re.split(r"\s+AND\s+", text, flags=re.I):
            # Parsed before any issue is looked at: Jira refuses a bad query even on no issues.
            matches = self._clause(clause.strip(), now, user)
            hits = [i for i in hits if matches(i)]
        sort_key = {"updated": lambda i: i.updated, "created": lambda i: i.created}.get(
            order, lambda i: i.id
        )
        return sorted(hits, key=sort_key, reverse=descending)

    def fix_version_ids(self, value: str) -> set[int]:
        """Ids of the versions JQL ``fixVersion = value`` names; 400 if there is none."""
        wanted = {v.id for v in self.versions.values() if value.casefold() in
                  (v.name.casefold(), str(v.id))}  # fmt: skip
        if not wanted:
            raise JiraError(
                400, [f"The value '{value}' does not exist for the field 'fixVersion'."]
            )
        return wanted

    def _clause(self, clause: str, now: float, user: User | None) -> Callable[[FakeIssue], bool]:
        """Which issues one JQL clause finds; 400 as Jira words it for one Jira refuses."""
        match = re.fullmatch(r'(\w+)\s*(=|>=)\s*"?([^"]*)"?', clause)
        if not match:
            raise JiraError(
                400, [f"Error in the JQL Query: the clause {clause!r} is not understood."]
            )
        name, op, value = match.group(1).lower(), match.group(2), match.group(3)
        if name == "project" and op == "=":
            # A project the user may not browse does not exist for JQL, as in Jira.
            project = self.project_of(value.upper(), user)
            if project is None:
                raise JiraError(
                    400, [f"The value '{value}' does not exist for the field 'project'."]
                )
            return lambda issue: issue.project == project.key
        if name == "labels" and op == "=":
            return lambda issue: value in (issue.fields.get("labels") or [])
        if name == "key" and op == "=":
            return lambda issue: issue.key == value
        if name == "fixversion" and op == "=":
            ids = self.fix_version_ids(value)
            return lambda issue: bool(ids & set(issue.fields.get("fixVersions") or []))
        if name in ("updated", "created") and op == ">=":
            relative = re.fullmatch(r"-(\d+)m", value)
            if not relative:
                raise JiraError(400, [f"Date value '{value}' for field '{name}' is invalid."])
            since = now - 60 * int(relative.group(1))
            # JQL compares whole minutes: round the bound down to the minute, as Jira does.
            since -= since % 60
            if name == "updated":
                return lambda issue: issue.updated >= since
            return lambda issue: issue.created >= since
        raise JiraError(
            400, [f"Field '{name}' does not exist or you do not have permission to view it."]
        )


def _component_problem(value: Any, components: dict[str, str]) -> str | None:
    """Why *value* (``fields.components``) is refused, as Jira words it, or ``None``."""
    if value is None:
        return None
    if not isinstance(value, list):
        return "data was not an array"
    for ref in value:
        if not isinstance(ref, dict):
            return "expected Object for components"
        if "id" in ref:
            if str(ref["id"]) not in components:
                return f"Component with id '{ref['id']}' does not exist."
        elif ref.get("name") not in components.values():
            return f"Component name '{ref.get('name')}' is not valid"
    return None


def check_body(value: Any, adf: bool) -> str | None:
    """Why *value* is not a valid text body (ADF document on v3, string on v2), or ``None``."""
    if value is None:
        return None
    if not adf:
        return None if isinstance(value, str) else "Operation value must be a string"
    if not (isinstance(value, dict) and value.get("type") == "doc" and value.get("version") == 1):
        return "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
    return _check_nodes(value.get("content"))


def _check_nodes(nodes: Any) -> str | None:
    if not isinstance(nodes, list):
        return "INVALID_INPUT: content must be an array"
    for node in nodes:
        kind = node.get("type") if isinstance(node, dict) else None
        if kind == "text":
            if not isinstance(node.get("text"), str) or not node["text"]:
                return "INVALID_INPUT: text nodes must not be empty"
        elif kind in ("paragraph", "heading", "bulletList", "listItem", "codeBlock"):
            problem = _check_nodes(node.get("content", []))
            if problem:
                return problem
        elif kind not in ("hardBreak", "rule", "mention", "inlineCard"):
            return f"INVALID_INPUT: unknown node type {kind!r}"
    return None
