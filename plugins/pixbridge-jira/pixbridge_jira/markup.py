"""Escaping customer text for Jira Data Center's wiki renderer, reversibly.

Jira Server/DC renders descriptions and comments as wiki markup, so raw customer text could
make links (``[x|javascript:...]``), images (``!http://evil/x.png!``), mentions (``[~admin]``),
macros (``{noformat}``, ``{html}``) or headings. :func:`escape` makes every such character
literal: a backslash before each markup character, HTML character references for the
backslash itself and for a line that starts a heading or quote (``h1.``, ``bq.``).
:func:`unescape` gives back exactly the original text.
"""

from __future__ import annotations

import re

__all__ = ["SPECIAL", "escape", "unescape"]

SPECIAL = frozenset("{}[]!|*_+-^~?#")
"""Characters with a meaning in Jira wiki markup, escaped with a backslash."""

_BLOCK_START = re.compile(r"^([ \t]*)(h[1-6]|bq)\.", re.MULTILINE)
_ENTITY_LIKE = re.compile(r"&(?=#\d+;|amp;)")
_UNESCAPE = re.compile(r"\\([{}\[\]!|*_+\-^~?#])|&#(\d+);|&amp;")


def escape(text: str) -> str:
    """*text* as wiki markup that renders as exactly this text."""
    # A literal "&#92;" or "&amp;" in the text would otherwise be read back as an escape.
    text = _ENTITY_LIKE.sub("&amp;", text)
    out = []
    for char in text:
        if char in SPECIAL:
            out.append("\\" + char)
        elif char == "\\":
            # "\\" is a forced line break in wiki markup, so a backslash is written as a reference.
            out.append("&#92;")
        else:
            out.append(char)
    escaped = "".join(out)
    return _BLOCK_START.sub(
        lambda m: f"{m.group(1)}&#{ord(m.group(2)[0])};{m.group(2)[1:]}.", escaped
    )


def unescape(markup: str) -> str:
    """The text :func:`escape` was given (other markup is returned as written)."""

    def one(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(1)
        if match.group(2) is not None:
            return chr(int(match.group(2)))
        return "&"

    return _UNESCAPE.sub(one, markup)
