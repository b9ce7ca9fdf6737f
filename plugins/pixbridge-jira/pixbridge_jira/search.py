"""One JQL search, every page: ``/rest/api/3/search/jql`` on Cloud, ``/rest/api/2/search`` on DC.

Cloud removed the offset-paged ``/search`` (it answers 410) for the token-paged
``/search/jql``; Data Center has only the former. Both return ``issues`` with the fields asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pixbridge_jira.session import JiraSession

__all__ = ["search_issues"]


def search_issues(
    session: JiraSession,
    *,
    cloud: bool,
    jql: str,
    fields: str,
    expand: str | None = None,
    page_size: int = 50,
) -> list[dict[str, Any]]:
    """Every issue *jql* finds, with *fields* (comma-separated) and *expand*, in Jira's order."""
    issues: list[dict[str, Any]] = []
    if cloud:
        token: str | None = None
        while True:
            page = session.get(
                "search/jql", version="3", jql=jql, fields=fields, expand=expand,
                maxResults=page_size, nextPageToken=token,
            )  # fmt: skip
            issues.extend(page.get("issues", []))
            token = page.get("nextPageToken")
            if page.get("isLast", True) or not token:
                return issues
    while True:
        page = session.get(
            "search", jql=jql, fields=fields, expand=expand, startAt=len(issues),
            maxResults=page_size,
        )  # fmt: skip
        batch = page.get("issues", [])
        issues.extend(batch)
        if not batch or len(issues) >= int(page.get("total", 0)):
            return issues
