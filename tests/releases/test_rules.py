"""Reading a distribution folder, and the release rules against earlier releases."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from release_helpers import DOCS, entry, make_dist

from pixbridge.releases import Code, Version
from pixbridge.releases.distribution import read_distribution
from pixbridge.releases.rules import check_rules
from pixbridge.releases.state import ReleaseRow


def recorded(version: str, changes: list[dict[str, Any]] | None = None) -> ReleaseRow:
    v = Version.parse(version)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    manifest = {"files": [], "changes": changes or [], "notes": {}}
    return ReleaseRow(1, "PIX", v.generation, v.build, version, "x", manifest, "published", at, at)


def codes(dist_dir: Path, version: str, history: list[ReleaseRow]) -> list[Code]:
    dist = read_distribution(dist_dir, "PIX", Version.parse(version))
    return [p.code for p in check_rules(dist, history)]


def test_distribution_files_have_their_sha256(tmp_path: Path) -> None:
    dist_dir = make_dist(tmp_path, "4.13")
    (dist_dir / "SHA256SUMS").write_text("stale", encoding="utf-8")
    (dist_dir / "RELEASE-NOTES.en.md").write_text("generated", encoding="utf-8")
    dist = read_distribution(dist_dir, "PIX", Version(4, 13))
    names = [f.name for f in dist.files]
    assert names == sorted([*DOCS, "pix-4.13.tar.gz", "pix-setup-4.13.exe"])
    setup = next(f for f in dist.files if f.name == "pix-setup-4.13.exe")
    data = (dist_dir / setup.name).read_bytes()
    assert (setup.sha256, setup.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert [f.name for f in dist.installers] == ["pix-4.13.tar.gz", "pix-setup-4.13.exe"]
    assert dist.documents == {"CHANGES": ("CHANGES.md",), "COMPATIBILITY": ("COMPATIBILITY.md",),
                              "INSTALL": ("INSTALL.md",)}  # fmt: skip
    assert [c.name for c in dist.changes] == ["fix.toml"]


def test_documents_beside_the_distribution_are_published_too(tmp_path: Path) -> None:
    dist_dir = make_dist(tmp_path, "5.20", docs=())
    for name in ("CHANGES.ru.pdf", "COMPATIBILITY.txt", "INSTALL.html", "NOTES.md"):
        (dist_dir.parent / name).write_bytes(b"document")
    dist = read_distribution(dist_dir, "PIX", Version(5, 20))
    names = {f.name for f in dist.files}
    assert {"CHANGES.ru.pdf", "COMPATIBILITY.txt", "INSTALL.html"} <= names
    assert "NOTES.md" not in names
    assert check_rules(dist, [recorded("4.19")]) == []


def test_identity_covers_files_and_change_entries(tmp_path: Path) -> None:
    dist_dir = make_dist(tmp_path, "4.13")
    first = read_distribution(dist_dir, "PIX", Version(4, 13)).identity
    assert read_distribution(dist_dir, "PIX", Version(4, 13)).identity == first
    (dist_dir / "changes" / "fix.toml").write_text(entry(en="Other words"), encoding="utf-8")
    second = read_distribution(dist_dir, "PIX", Version(4, 13)).identity
    assert second != first
    (dist_dir / "pix-4.13.tar.gz").write_bytes(b"rebuilt")
    assert read_distribution(dist_dir, "PIX", Version(4, 13)).identity not in (first, second)


def test_hidden_files_and_folders_in_the_distribution_are_refused(tmp_path: Path) -> None:
    dist_dir = make_dist(tmp_path, "4.13")
    (dist_dir / ".DS_Store").write_bytes(b"x")
    (dist_dir / "extras").mkdir()
    problems = check_rules(read_distribution(dist_dir, "PIX", Version(4, 13)), [])
    assert [p.code for p in problems] == [Code.DIST_BAD_FILE, Code.DIST_BAD_FILE]
    assert "remove it" in problems[0].message and "flat" in problems[1].message


def test_missing_or_empty_distribution_is_refused(tmp_path: Path) -> None:
    assert Code.DIST_MISSING in codes(tmp_path / "nowhere", "4.13", [])
    dist_dir = make_dist(tmp_path, "4.13", installers={})
    assert codes(dist_dir, "4.13", []) == [Code.DIST_EMPTY]


def test_a_valid_next_build_passes(tmp_path: Path) -> None:
    dist_dir = make_dist(tmp_path, "4.13", docs=())
    assert codes(dist_dir, "4.13", [recorded("4.11"), recorded("4.12")]) == []


@pytest.mark.parametrize("version", ["4.12", "4.11", "5.12"])
def test_build_numbers_strictly_increase_across_generations(tmp_path: Path, version: str) -> None:
    dist_dir = make_dist(tmp_path, version)
    problems = check_rules(
        read_distribution(dist_dir, "PIX", Version.parse(version)), [recorded("4.12")]
    )
    assert [p.code for p in problems] == [Code.BUILD_NOT_INCREASING]
    assert "use 13 or higher" in problems[0].message


def test_generation_never_goes_backwards(tmp_path: Path) -> None:
    dist_dir = make_dist(tmp_path, "4.21")
    history = [recorded("4.12"), recorded("5.20")]
    problems = check_rules(read_distribution(dist_dir, "PIX", Version(4, 21)), history)
    assert [p.code for p in problems] == [Code.GENERATION_REGRESSION]
    assert "below 5, the generation of the latest build 5.20" in problems[0].message


@pytest.mark.parametrize("missing", DOCS)
def test_a_new_generation_needs_its_three_documents(tmp_path: Path, missing: str) -> None:
    dist_dir = make_dist(tmp_path, "5.13", docs=tuple(d for d in DOCS if d != missing))
    problems = check_rules(read_distribution(dist_dir, "PIX", Version(5, 13)), [recorded("4.12")])
    assert [p.code for p in problems] == [Code.GENERATION_DOCS_MISSING]
    base = missing.removesuffix(".md")
    assert f"add a non-empty {base}.md" in problems[0].message
    assert "generation 5 of PIX is new" in problems[0].message


def test_an_empty_document_does_not_count(tmp_path: Path) -> None:
    dist_dir = make_dist(tmp_path, "5.13")
    (dist_dir / "INSTALL.md").write_bytes(b"")
    assert codes(dist_dir, "5.13", [recorded("4.12")]) == [Code.GENERATION_DOCS_MISSING]


def test_the_first_release_of_a_product_is_a_new_generation(tmp_path: Path) -> None:
    dist_dir = make_dist(tmp_path, "1.1", docs=())
    assert codes(dist_dir, "1.1", []) == [Code.GENERATION_DOCS_MISSING] * 3


def test_every_build_needs_a_change_entry(tmp_path: Path) -> None:
    dist_dir = make_dist(tmp_path, "4.13", changes={}, docs=())
    problems = check_rules(read_distribution(dist_dir, "PIX", Version(4, 13)), [recorded("4.12")])
    assert [p.code for p in problems] == [Code.NO_CHANGES]
    assert str(dist_dir / "changes" / "my-change.toml") in problems[0].message


def test_a_change_entry_ships_only_once(tmp_path: Path) -> None:
    dist_dir = make_dist(tmp_path, "4.13", docs=())
    digest = hashlib.sha256((dist_dir / "changes" / "fix.toml").read_bytes()).hexdigest()
    history = [recorded("4.12", [{"name": "fix.toml", "sha256": digest}])]
    problems = check_rules(read_distribution(dist_dir, "PIX", Version(4, 13)), history)
    assert [p.code for p in problems] == [Code.CHANGE_ALREADY_RELEASED]
    assert "already shipped in PIX 4.12" in problems[0].message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    dist_dir = make_dist(tmp_path, "3.5", changes={"bad.toml": "kind = 1"}, docs=())
    found = codes(dist_dir, "3.5", [recorded("4.12")])
    assert sorted(set(found)) == sorted(
        {Code.BAD_CHANGE_ENTRY, Code.BUILD_NOT_INCREASING, Code.GENERATION_REGRESSION}
    )
    assert Code.NO_CHANGES not in found  # a broken entry is reported as itself
