"""``[triage]`` settings: defaults, and clear errors naming what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixbridge.errors import ConfigError
from pixbridge.settings import load_settings


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "pixbridge.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings([path])


def test_defaults_follow_the_regulation() -> None:
    triage = load_settings([]).triage
    assert triage.required == ["description", "attachments", "os_version", "serial"]
    assert triage.priority_map["blocker"] == "Highest"
    assert triage.assignment.strategy == "rules"


def test_triage_section_is_read_from_the_file(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        '[triage]\nrequired = ["os_version"]\n[triage.levels]\n"vip.example" = "premium"\n'
        '[triage.assignment]\nstrategy = "round_robin"\n[triage.assignment.teams]\ntm = ["anna"]\n',
    )
    triage = settings.triage  # type: ignore[attr-defined]
    assert triage.required == ["os_version"]
    assert triage.levels == {"vip.example": "premium"}
    assert triage.assignment.teams == {"tm": ["anna"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[triage]\nrequired = ["os", "serial"]\n', "unknown required item(s) os"),
        ('[triage]\nserial_patterns = ["(unclosed"]\n', "not a valid regular expression"),
        ('[triage.priority_map]\nurgent = "Highest"\n', "unknown priority level(s) urgent"),
        ('[triage.assignment]\nstrategy = "lottery"\n', "unknown strategy 'lottery'"),
        (
            '[triage.assignment]\nproduct_teams = { "PIX Task Mining" = "tm" }\n',
            "team(s) tm not defined",
        ),
        ("[triage]\ncolour = 1\n", "Extra inputs are not permitted"),
    ],
)
def test_bad_triage_settings_say_what_to_fix(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    assert message in str(info.value)
    assert "pixbridge.toml" in str(info.value)
