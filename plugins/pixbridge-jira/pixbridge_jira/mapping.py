"""Translating between pixbridge's words and the Jira site's: statuses, priorities, visibility."""

from __future__ import annotations

from typing import Any

from pixbridge.models import RequestStatus
from pixbridge_jira.settings import JiraSettings

__all__ = ["Mapping"]

JSM_PUBLIC = "sd.public.comment"
"""The comment property Jira Service Management uses for internal comments."""


class Mapping:
    """The configured maps, with the reverse lookups reading needs."""

    def __init__(self, settings: JiraSettings) -> None:
        self.settings = settings
        self.cloud = settings.deployment == "cloud"
        self._status_of = {v.casefold(): RequestStatus(k) for k, v in settings.statuses.items()}
        self._level_of: dict[str, str] = {}
        for level, name in settings.priorities.items():
            self._level_of.setdefault(name.casefold(), level)

    def jira_status(self, status: RequestStatus) -> str:
        """The Jira status name *status* maps to."""
        return self.settings.statuses[status.value]

    def transition(self, status: RequestStatus) -> str:
        """The name of the transition that reaches *status*."""
        name = self.settings.transitions.get(status.value)
        if not name:
            raise KeyError(
                f"adapters.jira.transitions has no transition for {status.value!r}; "
                "name the Jira transition that reaches it"
            )
        return name

    def status(self, jira_name: str | None) -> RequestStatus | None:
        """The pixbridge status of Jira status *jira_name*, ``None`` if it maps to none."""
        return self._status_of.get((jira_name or "").casefold())

    def jira_priority(self, level: str) -> str | None:
        """The Jira priority name for pixbridge level *level* (``None``: Jira's default)."""
        return self.settings.priorities.get(level)

    def level(self, jira_name: str | None) -> str:
        """The pixbridge level of Jira priority *jira_name* (lower-cased name when unmapped)."""
        name = (jira_name or "").casefold()
        return self._level_of.get(name, name)

    def internal(self, comment: dict[str, Any]) -> dict[str, Any]:
        """Mark a comment body (dict) internal the configured way."""
        s = self.settings
        if s.internal_comments == "jsm":
            props = comment.setdefault("properties", [])
            props.append({"key": JSM_PUBLIC, "value": {"internal": True}})
        elif self.cloud:
            comment["visibility"] = {
                "type": s.internal_comments,
                "value": s.internal_visibility,
                "identifier": s.internal_visibility,
            }
        else:
            comment["visibility"] = {"type": s.internal_comments, "value": s.internal_visibility}
        return comment

    @staticmethod
    def is_public(comment: dict[str, Any]) -> bool:
        """False for a comment restricted by visibility or marked internal by JSM."""
        if comment.get("visibility"):
            return False
        if comment.get("jsdPublic") is False:
            return False
        for prop in comment.get("properties") or []:
            if prop.get("key") == JSM_PUBLIC and (prop.get("value") or {}).get("internal"):
                return False
        return True

    def user(self, name: str) -> dict[str, str]:
        """A user reference: ``accountId`` on Cloud, ``name`` on Data Center."""
        return {"accountId": name} if self.cloud else {"name": name}

    @staticmethod
    def user_id(user: dict[str, Any] | None) -> str:
        """The id of a user as Jira returns one (account id on Cloud, name on DC)."""
        if not user:
            return ""
        return str(user.get("accountId") or user.get("name") or user.get("key") or "")
