"""Jira project versions: find, create, update and release them; fix versions on issues.

Shared by the tracker (:meth:`~pixbridge_jira.adapter.JiraTracker.set_fix_version`) and the
release publisher (:mod:`pixbridge_jira.publisher`). Versions are read and written through REST
v2 on both deployments: a version's description is plain text on Cloud too, and v2's version
resources are the same on Cloud and Data Center. Only related work (Cloud) uses v3.

Version names are unique per project, ignoring case, so a name is its own idempotency key: a
create whose answer was lost is looked up by name, never repeated blindly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixbridge.errors import PermanentAdapterError, UnknownOutcome
from pixbridge_jira.search import search_issues
from pixbridge_jira.settings import JiraConnection

if TYPE_CHECKING:
    from pixbridge_jira.session import JiraSession

__all__ = ["JiraVersions"]

MAX_NAME = 255
"""Jira refuses longer version names."""
ADMINISTER_PROJECTS = "ADMINISTER_PROJECTS"
"""The key of Jira's *Administer Projects* permission."""


class JiraVersions:
    """The versions of the configured project, through a retrying :class:`JiraSession`."""

    def __init__(self, session: JiraSession, settings: JiraConnection) -> None:
        self.session = session
        self.settings = settings
        self.cloud = settings.deployment == "cloud"
        self.project = settings.project
        self._project_id: str | None = None

    @property
    def project_id(self) -> str:
        """The numeric id of the project (asked once): version creation wants it on Cloud."""
        if self._project_id is None:
            self._project_id = str(self.session.get(f"project/{self.project}")["id"])
        return self._project_id

    def may_administer(self) -> bool:
        """Whether the account has *Administer Projects* in the project, which Jira requires
        to create, change and release versions (Jira administrators have it everywhere)."""
        # ``permissions`` is required on Cloud and recent Data Center (400 without it).
        found = self.session.get(
            "mypermissions", projectKey=self.project, permissions=ADMINISTER_PROJECTS
        )
        entry = ((found or {}).get("permissions") or {}).get(ADMINISTER_PROJECTS) or {}
        return entry.get("havePermission") is True

    def name_for(self, product: str, version: str) -> str:
        """The version name of build *version* of *product* (``version_name`` setting)."""
        name = self.settings.version_for(product, version)
        if not name.strip() or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
            raise PermanentAdapterError(
                f"the Jira version name {name!r} (adapters.{self.settings.table}.version_name) "
                f"must be 1 to {MAX_NAME} characters without control characters"
            )
        return name

    # ------------------------------------------------------------------ versions

    def all(self) -> list[dict[str, Any]]:
        """Every version of the project, as Jira returns them."""
        found = self.session.get(f"project/{self.project}/versions")
        return [v for v in found if isinstance(v, dict)]

    def named(self, name: str) -> dict[str, Any] | None:
        """The version called *name* (Jira compares version names ignoring case), or ``None``."""
        wanted = name.casefold()
        return next((v for v in self.all() if str(v.get("name", "")).casefold() == wanted), None)

    def create(self, name: str, description: str) -> dict[str, Any]:
        """Create the unreleased version *name*; a lost answer is resolved by looking it up."""
        body = {
            "name": name,
            "projectId": int(self.project_id),
            "description": description,
            "released": False,
        }
        try:
            made: dict[str, Any] = self.session.send("POST", "version", body, creates=True)
        except (UnknownOutcome, PermanentAdapterError):
            # Lost answer, or another run created it meanwhile (400: the name is taken).
            found = self.named(name)
            if found is None:
                raise
            return found
        return made

    def find_or_create(self, name: str, description: str) -> dict[str, Any]:
        """The version *name*, created unreleased with *description* if it is missing."""
        return self.named(name) or self.create(name, description)

    def update(self, version_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change fields of the version (``PUT /version/{id}``); returns the updated version."""
        updated: dict[str, Any] = self.session.send("PUT", f"version/{version_id}", changes)
        return updated

    def browse_url(self, version_id: str) -> str:
        """The page agents open for the version (its issues and release notes)."""
        base = self.settings.url
        if self.cloud:
            return f"{base}/projects/{self.project}/versions/{version_id}"
        return f"{base}/browse/{self.project}/fixforversion/{version_id}"

    # ------------------------------------------------------------------ related work (Cloud)

    def related_work(self, version_id: str) -> list[dict[str, Any]]:
        """The related work items of the version (Cloud only)."""
        found = self.session.get(f"version/{version_id}/relatedwork", version="3")
        return [w for w in found if isinstance(w, dict)]

    def add_related_work(self, version_id: str, category: str, title: str, url: str) -> None:
        """Attach *url* to the version unless an item with that URL is there already."""
        if any(w.get("url") == url for w in self.related_work(version_id)):
            return
        body = {"category": category, "title": title, "url": url}
        path = f"version/{version_id}/relatedwork"
        try:
            self.session.send("POST", path, body, version="3", creates=True)
        except UnknownOutcome:
            if not any(w.get("url") == url for w in self.related_work(version_id)):
                raise

    # ------------------------------------------------------------------ issues

    def fixed_requests(self, name: str) -> list[tuple[str, str]]:
        """``(key, summary)`` of the project's issues whose fix version is *name*, by key.

        A version that does not exist fixes nothing (JQL would refuse the unknown name).
        """
        version = self.named(name)
        return [] if version is None else self.fixed_in(version)

    def fixed_in(self, version: dict[str, Any]) -> list[tuple[str, str]]:
        """``(key, summary)`` of the project's issues whose fix version is *version* (as
        listed by :meth:`all`), by key."""
        quoted = str(version["name"]).replace("\\", "\\\\").replace('"', '\\"')
        jql = f'project = "{self.project}" AND fixVersion = "{quoted}" ORDER BY key'
        issues = search_issues(
            self.session, cloud=self.cloud, jql=jql, fields="summary", page_size=100
        )
        found = [(str(i["key"]), str((i.get("fields") or {}).get("summary") or "")) for i in issues]
        return sorted(found, key=lambda pair: _key_number(pair[0]))

    def add_fix_version(self, key: str, name: str) -> None:
        """Add the version *name* to the fix versions of issue *key* (nothing if it is there)."""
        issue = self.session.get(f"issue/{key}", fields="fixVersions")
        current = (issue.get("fields") or {}).get("fixVersions") or []
        if any(str(v.get("name", "")).casefold() == name.casefold() for v in current):
            return
        body = {"update": {"fixVersions": [{"add": {"name": name}}]}}
        self.session.send("PUT", f"issue/{key}", body, issue=key)


def _key_number(key: str) -> int:
    number = key.rpartition("-")[2]
    return int(number) if number.isdigit() else 0
