"""Human names of the missing items, from the files beside the templates."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lifecycle_helpers import TEMPLATES

from pixbridge.errors import ConfigError
from pixbridge.triage.labels import label_items


def test_shipped_names_in_both_languages() -> None:
    english = label_items(["serial", "os_version"], "en", TEMPLATES)
    russian = label_items(["serial", "os_version"], "ru", TEMPLATES)
    assert all(name not in ("serial", "os_version") for name in english + russian)
    assert english != russian


def test_falls_back_to_english_then_to_the_code(tmp_path: Path) -> None:
    (tmp_path / "missing_items.en.toml").write_text('serial = "the serial number"\n')
    (tmp_path / "missing_items.de.toml").write_text('os_version = "die Windows-Version"\n')
    assert label_items(["os_version", "serial", "log"], "de", tmp_path) == [
        "die Windows-Version",
        "the serial number",
        "log",
    ]
    assert label_items(["serial"], "fr", tmp_path) == ["the serial number"]  # no French file


def test_a_directory_in_place_of_a_names_file_is_no_names(tmp_path: Path) -> None:
    (tmp_path / "missing_items.de.toml").mkdir()
    (tmp_path / "missing_items.en.toml").write_text('serial = "the serial number"\n')
    assert label_items(["serial", "log"], "de", tmp_path) == ["the serial number", "log"]


def test_a_reworded_file_is_read_again(tmp_path: Path) -> None:
    names = tmp_path / "missing_items.en.toml"
    names.write_text('serial = "the serial number"\n')
    assert label_items(["serial"], "en", tmp_path) == ["the serial number"]
    names.write_text('serial = "your kit number"\n')
    stat = names.stat()
    os.utime(names, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert label_items(["serial"], "en", tmp_path) == ["your kit number"]


def test_a_broken_file_names_itself(tmp_path: Path) -> None:
    (tmp_path / "missing_items.en.toml").write_text("serial = \n")
    with pytest.raises(ConfigError, match=r"missing_items\.en\.toml"):
        label_items(["serial"], "en", tmp_path)
