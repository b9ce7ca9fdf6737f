"""The version model and change entries."""

from __future__ import annotations

from pathlib import Path

import pytest
from lifecycle_helpers import REPO
from release_helpers import entry

from pixbridge.releases import Code, ReleaseRefused, Version
from pixbridge.releases.changes import Kind, load_changes
from pixbridge.releases.version import check_product


@pytest.mark.parametrize(
    ("text", "expected"), [("4.13", (4, 13)), ("1.1", (1, 1)), ("12.3456", (12, 3456))]
)
def test_version_parses_generation_and_build(text: str, expected: tuple[int, int]) -> None:
    version = Version.parse(text)
    assert (version.generation, version.build) == expected
    assert str(version) == text


@pytest.mark.parametrize(
    "text", ["", "4", "4.13.1", "v4.13", "4.x", "04.13", "4.013", "0.13", "4.0", " 4.13", "4.13\n"]
)
def test_bad_versions_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(ReleaseRefused) as info:
        Version.parse(text)
    [problem] = info.value.problems
    assert problem.code is Code.BAD_VERSION
    assert "e.g. 4.13" in problem.message


@pytest.mark.parametrize("product", ["", "../etc", "a/b", ".hidden", "PIX:TM", "PIX.", "x" * 200])
def test_unsafe_product_names_are_refused(product: str) -> None:
    with pytest.raises(ReleaseRefused) as info:
        check_product(product)
    assert info.value.problems[0].code is Code.BAD_PRODUCT


def test_change_entries_are_read_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.toml").write_text(entry(requests=("SUP-2", "SUP-2")), encoding="utf-8")
    (tmp_path / "a.toml").write_text(entry(kind="added", en="New  export\n"), encoding="utf-8")
    (tmp_path / "README.md").write_text("how to write entries", encoding="utf-8")
    (tmp_path / ".swp").write_text("editor junk", encoding="utf-8")
    entries, problems = load_changes(tmp_path)
    assert problems == []
    assert [(e.name, e.kind, e.title["en"], e.requests) for e in entries] == [
        ("a.toml", Kind.ADDED, "New export", ()),
        ("b.toml", Kind.FIXED, "Export fixed", ("SUP-2",)),
    ]
    assert all(len(e.sha256) == 64 for e in entries)


def test_missing_changes_folder_has_no_entries(tmp_path: Path) -> None:
    assert load_changes(tmp_path / "none") == ([], [])


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('kind = "improved"\n[title]\nen = "x"\nru = "y"\n', "is not one of added, changed"),
        ('kind = "fixed"\n', "has no [title] table"),
        ('kind = "fixed"\n[title]\nen = "x"\n', "[title] ru is missing"),
        ('kind = "fixed"\n[title]\nen = " "\nru = "y"\n', "[title] en is missing or empty"),
        ('kind = "fixed"\n[title]\nen = "x"\nru = "y"\nde = "z"\n', "[title] de is not a language"),
        ('kind = "fixed"\nrequests = "SUP-1"\n[title]\nen = "x"\nru = "y"\n', "must be a list"),
        (
            'kind = "fixed"\nrequests = ["sup 1"]\n[title]\nen = "x"\nru = "y"\n',
            "not a request key",
        ),
        ('kind = "fixed"\nticket = 1\n[title]\nen = "x"\nru = "y"\n', "unknown key 'ticket'"),
        ("kind = fixed\n", "cannot be read as UTF-8 TOML"),
    ],
)
def test_bad_change_entries_say_what_to_fix(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / "bad.toml").write_text(text, encoding="utf-8")
    entries, problems = load_changes(tmp_path)
    assert entries == []
    assert problems and all(p.code is Code.BAD_CHANGE_ENTRY for p in problems)
    assert any(says in p.message for p in problems), problems
    assert all(str(tmp_path / "bad.toml") in p.message for p in problems)


def test_other_files_in_the_changes_folder_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "fix.md").write_text("kind: fixed", encoding="utf-8")
    entries, [problem] = load_changes(tmp_path)
    assert entries == [] and "only change entries (*.toml files)" in problem.message


def test_the_example_entries_are_valid() -> None:
    entries, problems = load_changes(REPO / "settings" / "changes")
    assert problems == []
    assert len(entries) >= 2
