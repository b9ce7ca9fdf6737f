"""Body text: HTML-only mail made readable with inscriptis (a kept library, not regexes)."""

from __future__ import annotations

from html.parser import HTMLParser

import inscriptis

__all__ = ["html_to_text"]


class _TextCollector(HTMLParser):
    """Last resort when inscriptis fails: the document's text nodes, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "tr", "li"):
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.chunks.append(data)


def html_to_text(html: str) -> str:
    if not html.strip():
        return ""
    try:
        return str(inscriptis.get_text(html)).strip()
    except Exception:
        collector = _TextCollector()
        collector.feed(html)
        collector.close()
        return "".join(collector.chunks).strip()
