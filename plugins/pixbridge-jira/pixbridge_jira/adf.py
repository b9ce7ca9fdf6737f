"""Plain text to Atlassian Document Format (Jira Cloud) and back, losslessly.

Customer text becomes paragraphs of ``text`` nodes and ``hardBreak`` nodes only: no marks, no
links, no mentions, no media, whatever the text contains, so nothing in it can act as markup.
Blank lines separate paragraphs and single line breaks become ``hardBreak``; reading a document
built here gives back exactly the text it was built from.
"""

from __future__ import annotations

from typing import Any

__all__ = ["from_text", "is_document", "to_text"]

_PARAGRAPH_BREAK = "\n\n"


def from_text(text: str) -> dict[str, Any]:
    """An ADF document holding *text* as inert text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = []
    for chunk in text.split(_PARAGRAPH_BREAK):
        content: list[dict[str, Any]] = []
        for n, line in enumerate(chunk.split("\n")):
            if n:
                content.append({"type": "hardBreak"})
            if line:
                content.append({"type": "text", "text": line})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def is_document(value: object) -> bool:
    """True if *value* looks like an ADF document."""
    return isinstance(value, dict) and value.get("type") == "doc"


def to_text(doc: object) -> str:
    """The text of an ADF document (or a plain string, returned as it is).

    Nodes other than paragraphs, text and hard breaks, which agents may write in Jira's editor,
    contribute their text; block nodes are separated by a blank line.
    """
    if doc is None:
        return ""
    if isinstance(doc, str):
        return doc
    if not isinstance(doc, dict):
        return str(doc)
    return _PARAGRAPH_BREAK.join(_inline(block) for block in doc.get("content") or [])


def _inline(node: dict[str, Any]) -> str:
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        return str((node.get("attrs") or {}).get("text", ""))
    children = node.get("content") or []
    if kind in ("paragraph", "heading", "codeBlock", None):
        return "".join(_inline(child) for child in children)
    # Lists, tables, panels, quotes: one block per child.
    return "\n".join(_inline(child) for child in children)
