"""Choosing the store backend: ``[store]`` settings, the registry, ``config check``, doctor."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent
from typing import Any

import pixbridge_postgres
import pytest
from click.testing import CliRunner

from pixbridge import hookimpl
from pixbridge.cli import commands  # noqa: F401 - registers the built-in commands
from pixbridge.cli.main import cli
from pixbridge.errors import ConfigError, PluginError
from pixbridge.lifecycle.app import build_app, check_configuration
from pixbridge.plugins import load_plugins
from pixbridge.registry import AdapterRegistry
from pixbridge.settings import load_settings
from pixbridge.store.config import StoreConfig, open_sqlite, store_secrets
from pixbridge.store.sqlite import SqliteDatabase

POSTGRES = [("postgres", pixbridge_postgres)]


pytestmark = pytest.mark.usefixtures("clean_environment")


def _write(path: Path, text: str) -> Path:
    path.write_text(dedent(text).lstrip(), encoding="utf-8")
    return path


def _problems(path: Path, extra: Any = ()) -> dict[str, str]:
    plugins = load_plugins(autoload=False, extra=extra)
    _, problems = check_configuration(load_settings([path]), plugins)
    return {p.message: p.where for p in problems}


def test_the_default_store_is_sqlite_in_the_data_directory(tmp_path: Path) -> None:
    app = build_app(load_settings([], data_dir=tmp_path / "var"), autoload=False)
    try:
        assert app.store_config is not None and app.store_config.backend == "sqlite"
        db = app.store.db
        assert isinstance(db, SqliteDatabase) and db.path == tmp_path / "var" / "state.sqlite3"
        assert app.ctx.store is app.store
    finally:
        app.close()


def test_an_unknown_backend_names_the_setting_and_the_installed_choices(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.toml", '[store]\nbackend = "mysql"\n')
    problems = _problems(path)
    [(message, where)] = problems.items()
    assert where == f"{path}:2 store.backend"
    assert message.startswith("no store backend named 'mysql' (installed: sqlite)")
    [message] = _problems(path, POSTGRES)
    assert "(installed: postgresql, sqlite)" in message
    with pytest.raises(ConfigError, match="store backend named 'mysql'"):
        build_app(load_settings([path]), autoload=False)


def test_a_url_written_into_a_settings_file_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "p.toml",
        """
        [store]
        backend = "postgresql"
        url = "postgresql://pixbridge:hunter22@db/pixbridge"
        """,
    )
    [(message, where)] = _problems(path, POSTGRES).items()
    assert where == f"{path}:3 store.url"
    assert "not written into settings files" in message and '"$env"' in message
    assert "hunter22" not in message


def test_the_url_comes_from_a_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(
        tmp_path / "p.toml",
        """
        [store]
        backend = "postgresql"
        url = { "$env" = "TEST_STORE_URL" }
        schema = "support"
        """,
    )
    [(message, where)] = _problems(path, POSTGRES).items()
    assert (message, where) == (
        "environment variable TEST_STORE_URL is not set",
        f"{path}:3 store.url",
    )
    monkeypatch.setenv("TEST_STORE_URL", "postgresql://u:s3cret-pw@db.example/pix")
    assert _problems(path, POSTGRES) == {}
    plugins = load_plugins(autoload=False, extra=POSTGRES)
    from pixbridge.lifecycle.app import _check

    _, config, _ = _check(load_settings([path]), plugins)
    assert config is not None and config.schema == "support" and config.url is not None
    assert config.url.get_secret_value() == "postgresql://u:s3cret-pw@db.example/pix"
    assert "s3cret" not in repr(config)
    assert store_secrets(config) == ["postgresql://u:s3cret-pw@db.example/pix", "s3cret-pw"]


def test_the_backend_checks_its_own_settings_without_connecting(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.toml", '[store]\nbackend = "postgresql"\n')
    [(message, where)] = _problems(path, POSTGRES).items()
    assert where == f"{path}:1 store"
    assert message.startswith('backend "postgresql" needs url = { "$env"')
    bad = _write(tmp_path / "s.toml", '[store]\nschema = "drop table; --"\n')
    with pytest.raises(ConfigError, match=r"store\.schema"):
        load_settings([bad])


def test_environment_variables_choose_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXBRIDGE_STORE__BACKEND", "postgresql")
    monkeypatch.setenv("PIXBRIDGE_STORE__URL", "postgresql://u@db/pix")
    monkeypatch.setenv("PIXBRIDGE_STORE__SCHEMA", "support")
    settings = load_settings([])
    assert settings.store.backend == "postgresql" and settings.store.schema_name == "support"
    plugins = load_plugins(autoload=False, extra=POSTGRES)
    assert check_configuration(settings, plugins)[1] == []


def test_store_backends_are_registered_through_the_hook_and_names_are_unique() -> None:
    registry = load_plugins(autoload=False).registry
    sqlite = registry.store_backend("sqlite")
    assert (sqlite.plugin, sqlite.distribution) == ("pixbridge.builtins.defaults", "pixbridge")
    assert sqlite.factory is open_sqlite
    with pytest.raises(
        PluginError, match=r"no store backend named 'x' is installed \(installed: sqlite\)"
    ):
        registry.store_backend("x")

    class Clash:
        @hookimpl
        def register_adapters(self, registry: AdapterRegistry) -> None:
            registry.add_store_backend("sqlite", open_sqlite)

    with pytest.raises(PluginError, match="two store backends are named 'sqlite'"):
        load_plugins(autoload=False, extra=[("clash", Clash())])


def test_the_postgres_plugin_is_found_by_its_entry_point() -> None:
    entry = load_plugins().registry.store_backend("postgresql")
    assert entry.plugin == "postgres" and entry.distribution == "pixbridge-postgres"


def test_a_store_backend_of_a_plugin_opens_the_apps_store(
    tmp_path: Path, store_settings: dict[str, Any]
) -> None:
    settings = load_settings([], data_dir=tmp_path / "var", store=store_settings)
    app = build_app(settings, autoload=False, extra_plugins=POSTGRES)
    try:
        assert app.store.db.dialect == store_settings["backend"]
        assert app.store.db.schema_version == 6
    finally:
        app.close()


def test_doctor_reports_the_store(
    tmp_path: Path, store_settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ["[pipeline]", "license_validators = []", "publishers = []", "[store]"]
    lines.append(f'backend = "{store_settings["backend"]}"')
    if "url" in store_settings:
        monkeypatch.setenv("TEST_STORE_URL", store_settings["url"])
        lines += ['url = { "$env" = "TEST_STORE_URL" }', f'schema = "{store_settings["schema"]}"']
    path = _write(tmp_path / "p.toml", "\n".join(lines) + "\n")
    result = CliRunner().invoke(cli, ["--settings", str(path), "--data-dir", "var", "doctor"])
    assert result.exit_code == 0, result.output
    [line] = [ln for ln in result.output.splitlines() if "store" in ln]
    assert line.startswith("ok   store ") and line.endswith("(schema version 6)")


def test_doctor_says_when_the_server_cannot_be_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    monkeypatch.setenv("TEST_STORE_URL", "postgresql://pix:pw-never-shown@127.0.0.1:1/pix")
    path = _write(
        tmp_path / "p.toml",
        """
        [pipeline]
        license_validators = []
        publishers = []
        [store]
        backend = "postgresql"
        url = { "$env" = "TEST_STORE_URL" }
        """,
    )
    result = CliRunner().invoke(cli, ["--settings", str(path), "--data-dir", "var", "doctor"])
    assert result.exit_code == 1
    assert "FAIL store postgresql:" in result.output
    assert "cannot connect to PostgreSQL database pix on 127.0.0.1:1" in result.output
    assert "check [store] url" in result.output
    assert "pw-never-shown" not in result.output


def test_the_sqlite_factory_uses_the_data_directory(tmp_path: Path) -> None:
    db = open_sqlite(StoreConfig("sqlite", tmp_path / "data"))
    try:
        assert db.describe() == f"SQLite database {tmp_path / 'data' / 'state.sqlite3'}"
    finally:
        db.close()
