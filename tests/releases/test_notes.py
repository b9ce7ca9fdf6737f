"""Release notes: Markdown and text, English and Russian, from entries and fixed requests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from lifecycle_helpers import TEMPLATES

from pixbridge.errors import ConfigError
from pixbridge.releases import Version
from pixbridge.releases.changes import ChangeEntry, Kind
from pixbridge.releases.notes import FixedRequest, escape_markdown, render_notes

ENTRIES = [
    ChangeEntry(
        "a.toml", Kind.FIXED, {"en": "Export fixed", "ru": "Экспорт исправлен"}, ("SUP-1",)
    ),
    ChangeEntry("b.toml", Kind.ADDED, {"en": "CSV export", "ru": "Экспорт в CSV"}),
]


def render(new_generation: bool = False, templates: Path = TEMPLATES) -> dict[tuple[str, str], str]:
    return dict(
        render_notes(
            templates,
            product="PIX",
            version=Version(4, 13),
            released=date(2026, 2, 1),
            changes=ENTRIES,
            fixed=[FixedRequest("SUP-1", "Export [crashes](http://evil)")],
            new_generation=new_generation,
        )
    )


def test_markdown_in_english_groups_changes_in_keep_a_changelog_order() -> None:
    md = render()[("en", "md")]
    assert md.startswith("# PIX 4.13 - 2026-02-01\n")
    assert md.index("## Added") < md.index("- CSV export") < md.index("## Fixed")
    assert "- Export fixed (SUP-1)" in md
    assert "## Requests answered by this build" in md
    assert "Generation 4 begins" not in md


def test_customer_words_are_text_not_markdown() -> None:
    md = render()[("en", "md")]
    assert r"SUP-1: Export \[crashes\]\(http://evil\)" in md
    assert escape_markdown("a*b_c  d\n# e") == r"a\*b\_c d \# e"
    assert "SUP-1: Export [crashes](http://evil)" in render()[("en", "txt")]


def test_russian_notes_in_both_formats() -> None:
    notes = render(new_generation=True)
    assert set(notes) == {("en", "md"), ("en", "txt"), ("ru", "md"), ("ru", "txt")}
    assert (
        "## Исправлено" in notes[("ru", "md")]
        and "- Экспорт исправлен (SUP-1)" in notes[("ru", "md")]
    )
    assert "Добавлено:\n  * Экспорт в CSV" in notes[("ru", "txt")]
    assert "поколение 4" in notes[("ru", "txt")]
    assert "Generation 4 begins" in notes[("en", "txt")]
    assert "## " not in notes[("en", "txt")]


def test_missing_template_is_a_clear_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        render(templates=tmp_path)
    assert "release-notes.en.md" in str(info.value)
    assert "release-notes template is missing" in str(info.value)
