"""The fake Jira's project versions, their related work (Cloud) and fix versions on issues.

Validated as Jira validates them: only administrators of the version's project (or Jira
administrators) may create or change a version (refused in Data Center's words otherwise); a
version name is required, at most 255 characters and unique per project ignoring case; dates
are ``yyyy-MM-dd``; unknown body keys are refused as Jira's JSON binding refuses them; related
work exists on Cloud only; a fix version must name an existing version of the issue's project.
Errors use Jira's body ``{"errorMessages": [...], "errors": {field: msg}}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from pixbridge_jira.testing.state import FakeIssue, JiraError, State

__all__ = ["FakeVersion", "VersionApi"]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_VERSION_KEYS = {
    "name", "description", "project", "projectId", "released", "releaseDate", "startDate",
    "archived", "userReleaseDate", "userStartDate", "moveUnfixedIssuesTo", "expand", "self",
    "id", "overdue",
}  # fmt: skip


@dataclass
class FakeVersion:
    """A project version."""

    id: int
    name: str
    project: str
    """The key of the version's project."""
    description: str | None = None
    released: bool = False
    archived: bool = False
    release_date: str | None = None
    start_date: str | None = None
    related_work: list[dict[str, Any]] = field(default_factory=list)


class VersionApi:
    """Route handlers for versions, bound to a fake site's :class:`State` and base URL."""

    def __init__(self, state: State, base: Callable[[], str]) -> None:
        self.state = state
        self._base = base
        """A callable returning the site's base URL (known only once the server listens)."""

    @property
    def base(self) -> str:
        """The site's base URL."""
        return self._base()

    def routes(self) -> list[tuple[str, str, Any]]:
        """``(method, path regex, handler)`` rows for the fake's routing table."""
        return [
            ("GET", r"project/([^/]+)/versions", self.list_versions),
            ("POST", r"version", self.create),
            ("GET", r"version/(\d+)", self.get),
            ("PUT", r"version/(\d+)", self.update),
            ("GET", r"version/(\d+)/relatedwork", self.list_related),
            ("POST", r"version/(\d+)/relatedwork", self.add_related),
            ("PUT", r"issue/([^/]+)", self.edit_issue),
        ]

    # ------------------------------------------------------------------ rendering

    def render(self, v: FakeVersion) -> dict[str, Any]:
        """A version as Jira shows it."""
        out: dict[str, Any] = {
            "self": f"{self.base}/rest/api/2/version/{v.id}",
            "id": str(v.id),
            "name": v.name,
            "archived": v.archived,
            "released": v.released,
            "projectId": int(self.state.projects[v.project].id),
        }
        if v.description is not None:
            out["description"] = v.description
        if v.release_date:
            out["releaseDate"] = v.release_date
        if v.start_date:
            out["startDate"] = v.start_date
        return out

    # ------------------------------------------------------------------ versions

    def version(self, version_id: str) -> FakeVersion:
        """The version *version_id*; 404 as Jira words it otherwise."""
        found = self.state.versions.get(int(version_id))
        if found is None:
            raise JiraError(404, [f"Could not find version for id '{version_id}'"])
        return found

    def list_versions(self, r: Any, key: str) -> tuple[int, Any]:
        """``GET project/{key}/versions``."""
        project = self.state.viewable(key, r.user)
        if project is None:
            raise JiraError(404, [f"No project could be found with key '{key}'."])
        return 200, [self.render(v) for v in self.state.versions.values()
                     if v.project == project.key]  # fmt: skip

    def create(self, r: Any) -> tuple[int, Any]:
        """``POST version``."""
        body = _body(r)
        project = body.get("project")
        project_id = body.get("projectId")
        if project is None and project_id is None:
            raise JiraError(
                400, errors={"project": "Project must be specified to create a version."}
            )
        by_key = self.state.projects.get(str(project)) if project is not None else None
        by_id = next((p for p in self.state.projects.values() if p.id == str(project_id)), None)
        found = by_key or by_id
        if found is None or (project is not None and project_id is not None and by_key != by_id):
            raise JiraError(404, [f"No project could be found with key '{project or project_id}'."])
        if not self.state.administers(r.user, found.key):
            raise JiraError(404, [
                f"Project with key '{found.key}' either does not exist or you do not "
                "have permission to create versions in it."
            ])  # fmt: skip
        if "name" not in body:
            raise JiraError(400, errors={"name": "You must specify a valid version name"})
        version = FakeVersion(self.state.next_id(), "", found.key)
        self._apply(version, body)
        self.state.versions[version.id] = version
        return 201, self.render(version)

    def get(self, r: Any, version_id: str) -> tuple[int, Any]:
        """``GET version/{id}``."""
        return 200, self.render(self.version(version_id))

    def update(self, r: Any, version_id: str) -> tuple[int, Any]:
        """``PUT version/{id}``: only the fields sent change; releasing twice is ignored."""
        version = self.version(version_id)
        if not self.state.administers(r.user, version.project):
            raise JiraError(
                400, ["You must have global or project administrator rights in order to modify "
                      "versions."]
            )  # fmt: skip
        self._apply(version, _body(r))
        return 200, self.render(version)

    def _apply(self, version: FakeVersion, body: dict[str, Any]) -> None:
        """Validate every field of *body* first, then change *version* (all or nothing)."""
        unknown = sorted(set(body) - _VERSION_KEYS)
        if unknown:
            raise JiraError(400, [f'Unrecognized field "{unknown[0]}", not marked as ignorable'])
        errors: dict[str, str] = {}
        if "name" in body:
            name = body["name"]
            if not isinstance(name, str) or not name.strip():
                errors["name"] = "You must specify a valid version name"
            elif len(name) > 255:
                errors["name"] = "The version name must not exceed 255 characters."
            elif any(
                v.name.casefold() == name.strip().casefold()
                for v in self.state.versions.values()
                if v.id != version.id and v.project == version.project
            ):  # fmt: skip
                errors["name"] = "A version with this name already exists in this project."
        if "description" in body and not isinstance(body["description"], str | None):
            errors["description"] = "The description must be a string."
        for key in ("released", "archived"):
            if key in body and not isinstance(body[key], bool):
                errors[key] = f"{key} must be true or false"
        for key in ("releaseDate", "startDate"):
            if body.get(key) is not None and not _valid_date(body[key]):
                errors[key] = "Invalid date format. Please enter the date in the format yyyy-MM-dd."
        if errors:
            raise JiraError(400, errors=errors)
        if "name" in body:
            version.name = body["name"].strip()
        if "description" in body:
            version.description = body["description"]
        if "releaseDate" in body:
            version.release_date = body["releaseDate"]
        if "startDate" in body:
            version.start_date = body["startDate"]
        if "archived" in body:
            version.archived = body["archived"]
        if "released" in body:
            version.released = body["released"]

    # ------------------------------------------------------------------ related work

    def list_related(self, r: Any, version_id: str) -> tuple[int, Any]:
        """``GET version/{id}/relatedwork`` (Cloud)."""
        self._cloud_only("GET", "relatedwork")
        return 200, list(self.version(version_id).related_work)

    def add_related(self, r: Any, version_id: str) -> tuple[int, Any]:
        """``POST version/{id}/relatedwork`` (Cloud): ``category`` required, ``url`` a URL."""
        self._cloud_only("POST", "relatedwork")
        version = self.version(version_id)
        body = _body(r)
        category, url, title = body.get("category"), body.get("url"), body.get("title")
        if not isinstance(category, str) or not category.strip():
            raise JiraError(400, errors={"category": "The related work category is required."})
        if url is not None and (
            not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https")
        ):
            raise JiraError(400, errors={"url": "The URL is invalid."})
        if title is not None and not isinstance(title, str):
            raise JiraError(400, errors={"title": "The title must be a string."})
        item = {"relatedWorkId": str(self.state.next_id()), "category": category,
                "title": title, "url": url}  # fmt: skip
        version.related_work.append(item)
        return 201, item

    def _cloud_only(self, method: str, what: str) -> None:
        if not self.state.cloud:
            raise JiraError(404, [f"No resource {method} {what} on Jira Data Center"])

    # ------------------------------------------------------------------ fix versions

    def edit_issue(self, r: Any, key: str) -> tuple[int, Any]:
        """``PUT issue/{key}``: ``fixVersions`` by ``fields`` (set) or ``update`` (add/remove/set)."""
        issue = self.state.issue(key, r.user)
        body = _body(r)
        fields, update = body.get("fields") or {}, body.get("update") or {}
        if not isinstance(fields, dict) or not isinstance(update, dict):
            raise JiraError(400, ["Can not deserialize instance of fields or update"])
        other = sorted({*fields, *update} - {"fixVersions"})
        if other:
            message = "cannot be set. It is not on the appropriate screen, or unknown."
            raise JiraError(400, errors={name: f"Field '{name}' {message}" for name in other})
        current: list[int] = list(issue.fields.get("fixVersions") or [])
        if "fixVersions" in fields:
            current = [self._ref(ref, issue) for ref in _list(fields["fixVersions"])]
        for operation in _list(update.get("fixVersions", [])):
            if not isinstance(operation, dict) or len(operation) != 1:
                raise JiraError(400, errors={"fixVersions": "Each operation has one verb."})
            [(verb, value)] = operation.items()
            if verb == "add":
                found = self._ref(value, issue)
                current += [] if found in current else [found]
            elif verb == "remove":
                current = [v for v in current if v != self._ref(value, issue)]
            elif verb == "set":
                current = [self._ref(ref, issue) for ref in _list(value)]
            else:
                raise JiraError(400, errors={"fixVersions": f"Unsupported operation '{verb}'"})
        issue.fields["fixVersions"] = current
        self.state.touch(issue)
        return 204, None

    def _ref(self, ref: Any, issue: FakeIssue) -> int:
        """The id of the version of *issue*'s project a ``{"name": ...}`` or ``{"id": ...}``
        reference names."""
        if isinstance(ref, dict) and "id" in ref:
            found = self.state.versions.get(int(ref["id"])) if str(ref["id"]).isdigit() else None
            if found is None or found.project != issue.project:
                raise JiraError(
                    400, errors={"fixVersions": f"Version id '{ref['id']}' is not valid"}
                )
            return found.id
        name = ref.get("name") if isinstance(ref, dict) else None
        for version in self.state.versions.values():
            if version.project != issue.project:
                continue
            if isinstance(name, str) and version.name.casefold() == name.casefold():
                return version.id
        raise JiraError(400, errors={"fixVersions": f"Version name '{name}' is not valid"})

    def fix_versions(self, issue: FakeIssue) -> list[dict[str, Any]]:
        """The ``fixVersions`` field of *issue* as Jira shows it."""
        ids = issue.fields.get("fixVersions") or []
        return [self.render(self.state.versions[i]) for i in ids if i in self.state.versions]


def _body(r: Any) -> dict[str, Any]:
    body = r.json()
    if not isinstance(body, dict):
        raise JiraError(400, ["Can not deserialize instance out of the request body"])
    return body


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise JiraError(400, errors={"fixVersions": "Operation value must be an array"})
    return value


def _valid_date(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
