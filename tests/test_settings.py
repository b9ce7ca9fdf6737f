"""Settings: the shipped file, precedence, problems reported at once with file:line, secrets."""

from __future__ import annotations

import json
import os
from pathlib import Path
from textwrap import dedent
from typing import ClassVar

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, SecretStr

from pixbridge import hookimpl
from pixbridge.adapters import AdapterSettings, LicenseValidator
from pixbridge.errors import ConfigError, ConfigProblem
from pixbridge.lifecycle.app import check_configuration
from pixbridge.models import LicenseQuery, LicenseResult, LicenseVerdict
from pixbridge.plugins import PluginSet, load_plugins
from pixbridge.registry import AdapterRegistry
from pixbridge.settings import Settings, load_settings, settings_problems

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "settings" / "pixbridge.toml"


pytestmark = pytest.mark.usefixtures("clean_environment")


def _write(path: Path, text: str) -> Path:
    path.write_text(dedent(text).lstrip(), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------- shipped file


def test_the_shipped_settings_file_loads_and_passes_the_check() -> None:
    settings = load_settings([SHIPPED])
    assert settings.settings_files == (SHIPPED,)
    assert settings.support.address == "support@pix.example"
    assert settings.pipeline.mail_sender == "maildir-outbox"
    validated, problems = check_configuration(settings, load_plugins(autoload=False))
    assert problems == []
    # Every adapter the pipeline names has validated settings.
    pipeline = settings.pipeline
    wired = {pipeline.mail_source, pipeline.mail_sender, pipeline.tracker}
    wired |= {*pipeline.license_validators, *pipeline.publishers}
    assert wired <= set(validated)
    assert set(settings.adapters) <= set(validated)


def test_without_files_the_defaults_are_used(tmp_path: Path) -> None:
    settings = load_settings()  # the cwd has no settings/pixbridge.toml
    assert settings.settings_files == ()
    assert settings.data_dir == Path("var")
    assert settings.lifecycle.max_attempts == 5


def test_a_missing_file_and_bad_toml_are_reported_together(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.toml", "[lifecycle\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings([tmp_path / "absent.toml", bad])
    wheres = [p.where for p in excinfo.value.problems]
    assert wheres == [str(tmp_path / "absent.toml"), str(bad)]
    assert "not found" in excinfo.value.problems[0].message
    assert "not valid TOML" in excinfo.value.problems[1].message


# ---------------------------------------------------------------------------------- precedence


def test_environment_wins_over_the_file_and_keywords_win_over_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(
        tmp_path / "pixbridge.toml",
        """
        data_dir = "from-file"

        [lifecycle]
        max_attempts = 5
        poll_interval = 12
        """,
    )
    from_file = load_settings([path])
    assert (from_file.data_dir, from_file.lifecycle.max_attempts) == (Path("from-file"), 5)

    monkeypatch.setenv("PIXBRIDGE_LIFECYCLE__MAX_ATTEMPTS", "3")
    monkeypatch.setenv("PIXBRIDGE_DATA_DIR", str(tmp_path / "from-env"))
    from_env = load_settings([path])
    assert from_env.lifecycle.max_attempts == 3
    assert from_env.data_dir == tmp_path / "from-env"
    assert from_env.lifecycle.poll_interval == 12  # the rest of the table still comes from the file

    from_keywords = load_settings(
        [path], data_dir=tmp_path / "from-kw", lifecycle={"max_attempts": 9}
    )
    assert from_keywords.data_dir == tmp_path / "from-kw"
    assert from_keywords.lifecycle.max_attempts == 9
    assert from_keywords.lifecycle.poll_interval == 12
    # A keyword given as None (an option not used on the command line) changes nothing.
    assert load_settings([path], data_dir=None).data_dir == tmp_path / "from-env"


def test_later_files_override_earlier_ones_key_by_key(tmp_path: Path) -> None:
    base = _write(tmp_path / "base.toml", "[lifecycle]\nmax_attempts = 2\nbatch_size = 10\n")
    site = _write(tmp_path / "site.toml", "[lifecycle]\nbatch_size = 20\n")
    settings = load_settings([base, site])
    assert (settings.lifecycle.max_attempts, settings.lifecycle.batch_size) == (2, 20)


def test_the_settings_files_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _write(tmp_path / "a.toml", "[support]\nname = 'A'\n")
    b = _write(tmp_path / "b.toml", "[support]\naddress = 'b@x.example'\n")
    monkeypatch.setenv("PIXBRIDGE_SETTINGS", os.pathsep.join([str(a), str(b)]))
    settings = load_settings()
    assert settings.settings_files == (a, b)
    assert (settings.support.name, settings.support.address) == ("A", "b@x.example")


def test_a_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXBRIDGE_LIFECYCLE__MAX_ATTEMPTS", "zero")
    with pytest.raises(ConfigError) as excinfo:
        load_settings([])
    [problem] = excinfo.value.problems
    assert problem.where == "environment PIXBRIDGE_LIFECYCLE__MAX_ATTEMPTS"


# ---------------------------------------------------------------------------------- all at once

BROKEN = """
    # A settings file with three mistakes.
    data_dir = "var"

    [support]
    address = "support@pix.example"
    colour = "blue"

    [lifecycle]
    max_attempts = "many"
    poll_interval = -1
"""


def test_every_problem_is_reported_at_once_with_file_line_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path / "pixbridge.toml", BROKEN)
    with pytest.raises(ConfigError) as excinfo:
        load_settings([path])
    problems = {p.where: p.message for p in excinfo.value.problems}
    assert set(problems) == {
        f"{path}:6 support.colour",
        f"{path}:9 lifecycle.max_attempts",
        f"{path}:10 lifecycle.poll_interval",
    }
    assert "Extra inputs are not permitted" in problems[f"{path}:6 support.colour"]
    assert "integer" in problems[f"{path}:9 lifecycle.max_attempts"]
    assert "greater than 0" in problems[f"{path}:10 lifecycle.poll_interval"]
    # The message lists them all too.
    text = str(excinfo.value)
    assert text.startswith("3 problem(s) in the settings:")
    assert all(where in text for where in problems)


def test_a_table_header_with_a_comment_still_gives_the_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "pixbridge.toml",
        """
        [lifecycle]  # pacing of the orchestrator
        max_attempts = "many"
        """,
    )
    with pytest.raises(ConfigError) as excinfo:
        load_settings([path])
    assert [p.where for p in excinfo.value.problems] == [f"{path}:2 lifecycle.max_attempts"]


# ---------------------------------------------------------------------------------- adapter tables


class _SecretiveValidator(LicenseValidator):
    """A licence validator that needs a token."""

    name: ClassVar[str] = "secretive"
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)

    class Settings(AdapterSettings):
        token: SecretStr
        url: str = "https://licences.example"

    def validate(self, query: LicenseQuery) -> LicenseResult:
        return LicenseResult(LicenseVerdict.INDETERMINATE, self.name)


class _SecretivePlugin:
    @hookimpl
    def register_adapters(self, registry: AdapterRegistry) -> None:
        registry.add(_SecretiveValidator)


@pytest.fixture
def plugins() -> PluginSet:
    """The built-ins plus the test plugin providing the ``secretive`` adapter."""
    return load_plugins(autoload=False, extra=[("secretive-plugin", _SecretivePlugin())])


def _problems(
    settings: Settings, plugins: PluginSet
) -> tuple[dict[str, BaseModel], list[ConfigProblem]]:
    models = {entry.name: entry.cls.Settings for entry in plugins.registry.all()}
    return settings_problems(settings, models)


def test_adapter_table_problems_are_reported_together(tmp_path: Path, plugins: PluginSet) -> None:
    path = _write(
        tmp_path / "pixbridge.toml",
        """
        [adapters.nosuch]
        x = 1

        [adapters.secretive]
        bogus = 1
        token = "inline-secret"
        """,
    )
    _, problems = _problems(load_settings([path]), plugins)
    by_where = {p.where: p.message for p in problems}
    assert set(by_where) == {
        f"{path}:1 adapters.nosuch",
        f"{path}:5 adapters.secretive.bogus",
        f"{path}:6 adapters.secretive.token",
    }
    assert "no installed adapter is named 'nosuch'" in by_where[f"{path}:1 adapters.nosuch"]
    assert "secretive" in by_where[f"{path}:1 adapters.nosuch"]  # lists what is installed
    assert "Extra inputs are not permitted" in by_where[f"{path}:5 adapters.secretive.bogus"]
    inline = by_where[f"{path}:6 adapters.secretive.token"]
    assert "secrets are not written into settings files" in inline
    assert '"$env"' in inline
    assert "inline-secret" not in " ".join(by_where.values())  # never echo the secret


def test_a_missing_required_adapter_setting_is_reported(tmp_path: Path, plugins: PluginSet) -> None:
    path = _write(tmp_path / "pixbridge.toml", '[adapters.secretive]\nurl = "https://x"\n')
    _, problems = _problems(load_settings([path]), plugins)
    assert [(p.where, p.message) for p in problems] == [
        (f"{path}:1 adapters.secretive.token", "Field required")
    ]


def test_an_env_secret_reference_resolves(
    tmp_path: Path, plugins: PluginSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(
        tmp_path / "pixbridge.toml",
        '[adapters.secretive]\ntoken = { "$env" = "SECRETIVE_TOKEN" }\n',
    )
    monkeypatch.setenv("SECRETIVE_TOKEN", "t0ken")
    validated, problems = _problems(load_settings([path]), plugins)
    assert problems == []
    settings = validated["secretive"]
    assert isinstance(settings, _SecretiveValidator.Settings)
    assert settings.token.get_secret_value() == "t0ken"
    assert "t0ken" not in repr(settings)


def test_an_unset_env_secret_is_reported_once_with_file_and_line(
    tmp_path: Path, plugins: PluginSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(
        tmp_path / "pixbridge.toml",
        '[adapters.secretive]\ntoken = { "$env" = "SECRETIVE_TOKEN" }\n',
    )
    monkeypatch.delenv("SECRETIVE_TOKEN", raising=False)
    _, problems = _problems(load_settings([path]), plugins)
    # One cause, one problem, saying where the reference is and what to do.
    assert [(p.where, p.message) for p in problems] == [
        (f"{path}:2 adapters.secretive.token", "environment variable SECRETIVE_TOKEN is not set")
    ]


def test_a_file_secret_reference_reads_the_file(tmp_path: Path, plugins: PluginSet) -> None:
    secret = tmp_path / "token.txt"
    secret.write_text("from-a-file\n", encoding="utf-8")
    path = _write(
        tmp_path / "pixbridge.toml", f'[adapters.secretive]\ntoken = {{ "$file" = "{secret}" }}\n'
    )
    validated, problems = _problems(load_settings([path]), plugins)
    assert problems == []
    settings = validated["secretive"]
    assert isinstance(settings, _SecretiveValidator.Settings)
    assert settings.token.get_secret_value() == "from-a-file"


def test_an_unreadable_file_secret_is_reported(tmp_path: Path, plugins: PluginSet) -> None:
    missing = tmp_path / "absent.txt"
    path = _write(
        tmp_path / "pixbridge.toml", f'[adapters.secretive]\ntoken = {{ "$file" = "{missing}" }}\n'
    )
    _, problems = _problems(load_settings([path]), plugins)
    assert any(
        f"cannot read secret file {missing}" in p.message and "adapters.secretive.token" in p.where
        for p in problems
    )


def test_the_defaults_pass_the_check() -> None:
    # A fresh machine with no settings file runs the embedded default (GUIDE §2).
    _, problems = check_configuration(load_settings([]), load_plugins(autoload=False))
    assert problems == []


def test_the_pipeline_must_name_installed_adapters_of_the_right_kind(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "pixbridge.toml",
        """
        [pipeline]
        mail_sender = "maildir-outbox"
        tracker = "jira"
        license_validators = ["registry", "maildir"]
        """,
    )
    _, problems = check_configuration(load_settings([path]), load_plugins(autoload=False))
    messages = {p.message: p.where for p in problems}
    assert set(messages) == {
        "no tracker adapter named 'jira' (local)",
        "no license_validator adapter named 'maildir' (certificate, registry)",
    }
    # Like every other problem, these say which file and line to edit.
    assert messages["no tracker adapter named 'jira' (local)"] == f"{path}:3 pipeline.tracker"
    assert messages["no license_validator adapter named 'maildir' (certificate, registry)"] == (
        f"{path}:4 pipeline.license_validators"
    )


# ---------------------------------------------------------------------------------- config check


def _cli_runner() -> CliRunner:
    from pixbridge.cli import commands  # noqa: F401 - registers the built-in commands

    return CliRunner()


def test_config_check_accepts_the_shipped_file() -> None:
    from pixbridge.cli.main import cli

    result = _cli_runner().invoke(cli, ["--settings", str(SHIPPED), "config", "check"])
    assert result.exit_code == 0, result.output
    assert f"settings OK ({SHIPPED})" in result.stdout


def test_config_check_lists_every_problem_and_fails(tmp_path: Path) -> None:
    from pixbridge.cli.main import cli

    path = _write(tmp_path / "pixbridge.toml", BROKEN)
    result = _cli_runner().invoke(cli, ["--settings", str(path), "config", "check"])
    assert result.exit_code == 1
    assert "3 problem(s) in the settings:" in result.stderr
    for where in ("6 support.colour", "9 lifecycle.max_attempts", "10 lifecycle.poll_interval"):
        assert f"{path}:{where}" in result.stderr


def test_config_check_reports_adapter_problems_too(tmp_path: Path) -> None:
    from pixbridge.cli.main import cli

    path = _write(
        tmp_path / "pixbridge.toml",
        """
        [pipeline]
        mail_sender = "maildir-outbox"
        tracker = "no-such-tracker"

        [adapters.local]
        prefix = "SUP"
        colour = "blue"
        """,
    )
    result = _cli_runner().invoke(cli, ["--settings", str(path), "config", "check"])
    assert result.exit_code == 1
    assert "2 problem(s) in the settings:" in result.stderr
    assert f"{path}:7 adapters.local.colour" in result.stderr
    assert "pipeline.tracker: no tracker adapter named 'no-such-tracker'" in result.stderr


def test_config_check_json(tmp_path: Path) -> None:
    from pixbridge.cli.main import cli

    runner = _cli_runner()
    ok = runner.invoke(cli, ["--settings", str(SHIPPED), "config", "check", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout) == {"ok": True, "files": [str(SHIPPED)], "problems": []}

    path = _write(tmp_path / "pixbridge.toml", BROKEN)
    bad = runner.invoke(cli, ["--settings", str(path), "config", "check", "--json"])
    assert bad.exit_code == 1
    report = json.loads(bad.stdout)
    assert report["ok"] is False
    assert {p["where"] for p in report["problems"]} == {
        f"{path}:6 support.colour",
        f"{path}:9 lifecycle.max_attempts",
        f"{path}:10 lifecycle.poll_interval",
    }
    assert all(p["message"] for p in report["problems"])
