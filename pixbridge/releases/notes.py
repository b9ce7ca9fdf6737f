"""Release notes in Markdown and plain text, in English and Russian.

They are rendered from the build's change entries (grouped by kind, in Keep a Changelog order)
and from the requests that waited for this build (key and summary), with the Jinja2 templates
``release-notes.<language>.<md|txt>`` in the templates folder, so wording and layout are the
vendor's to change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import jinja2

from pixbridge.errors import ConfigError, ConfigProblem
from pixbridge.releases.changes import LANGUAGES, ChangeEntry, Kind
from pixbridge.releases.version import Version

__all__ = ["FORMATS", "FixedRequest", "escape_markdown", "render_notes"]

FORMATS = ("md", "txt")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


@dataclass(frozen=True)
class FixedRequest:
    """A customer's request answered by the build."""

    key: str
    summary: str


def escape_markdown(text: str) -> str:
    """*text* shown as text in Markdown: customers' words never become markup or links."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _environment(folder: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = escape_markdown
    return env


def render_notes(
    templates_dir: Path,
    *,
    product: str,
    version: Version,
    released: date,
    changes: Sequence[ChangeEntry],
    fixed: Iterable[FixedRequest],
    new_generation: bool,
) -> Mapping[tuple[str, str], str]:
    """The notes keyed by (language, format), for every language in ``LANGUAGES`` and format."""
    env = _environment(templates_dir)
    fixed = list(fixed)
    notes: dict[tuple[str, str], str] = {}
    for language in LANGUAGES:
        sections = [
            {
                "kind": kind.value,
                "items": [
                    {"title": c.title[language], "requests": list(c.requests)}
                    for c in changes
                    if c.kind is kind
                ],
            }
            for kind in Kind
        ]
        values = {
            "product": product,
            "version": str(version),
            "generation": version.generation,
            "build": version.build,
            "date": released.isoformat(),
            "new_generation": new_generation,
            "sections": [s for s in sections if s["items"]],
            "fixed": [{"key": f.key, "summary": f.summary} for f in fixed],
        }
        for fmt in FORMATS:
            name = f"release-notes.{language}.{fmt}"
            try:
                text = env.get_template(name).render(**values)
            except jinja2.TemplateNotFound:
                raise ConfigError(
                    [ConfigProblem(str(templates_dir / name), "release-notes template is missing")]
                ) from None
            notes[(language, fmt)] = text.strip() + "\n"
    return notes
