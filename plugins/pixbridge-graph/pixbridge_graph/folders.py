"""Finding (and creating) mail folders by path: ``inbox``, ``Processed``, ``Inbox/Support``.

The first segment of a path is a Graph well-known name (``inbox``, ``archive``...) or the
display name of a top-level folder; later segments are display names of child folders.
Exchange compares display names case-insensitively, and so does this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pixbridge.errors import PermanentAdapterError
from pixbridge_graph.errors import GraphRefused
from pixbridge_graph.settings import WELL_KNOWN_FOLDERS

if TYPE_CHECKING:
    from pixbridge_graph.client import GraphClient

__all__ = ["FolderMissing", "resolve_folder"]


class FolderMissing(PermanentAdapterError):
    """A folder the settings name does not exist (and may not be created)."""


def resolve_folder(client: GraphClient, path: str, *, create: bool, key: str) -> str:
    """The id of the folder at *path*; missing segments are created when *create* is set.

    :param key: the settings key naming the folder, for the error message.
    :raises FolderMissing: a segment is missing and *create* is false.
    """
    every = path.split("/")
    segments, first = every, every[0]
    if first.casefold() in WELL_KNOWN_FOLDERS:
        folder = client.get_json(f"/mailFolders/{first.casefold()}", params={"$select": "id"})
        parent: str | None = str(folder["id"])
        segments = segments[1:]
    else:
        parent = None  # the top of the mailbox
    for depth, name in enumerate(segments):
        found = _child(client, parent, name)
        if found is None:
            if not create:
                where = "/".join(every[: len(every) - len(segments) + depth + 1])
                raise FolderMissing(
                    f"{key}: the mailbox has no folder {where!r}; create it or fix the setting"
                )
            found = _create(client, parent, name)
        parent = found
    assert parent is not None  # a path has at least one segment
    return parent


def _children_path(parent: str | None) -> str:
    return "/mailFolders" if parent is None else f"/mailFolders/{quote(parent)}/childFolders"


def _child(client: GraphClient, parent: str | None, name: str) -> str | None:
    url: str | None = _children_path(parent)
    # Graph pages folders 10 at a time by default; includeHiddenFolders finds every one.
    params: dict[str, str] | None = {"$select": "id,displayName", "includeHiddenFolders": "true"}
    while url is not None:
        page: dict[str, Any] = client.get_json(url, params=params)
        for folder in page.get("value", []):
            if str(folder.get("displayName", "")).casefold() == name.casefold():
                return str(folder["id"])
        url, params = page.get("@odata.nextLink"), None
    return None


def _create(client: GraphClient, parent: str | None, name: str) -> str:
    try:
        response = client.request(
            "POST",
            _children_path(parent),
            json={"displayName": name},
            what=f"create folder {name!r}",
        )
    except GraphRefused as exc:
        if exc.status != 409:
            raise
        # Created meanwhile by another process (or by a retry whose answer was lost).
        found = _child(client, parent, name)
        if found is None:
            raise
        return found
    return str(response.json()["id"])
