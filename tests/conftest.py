"""Fixtures shared by the core tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pixbridge.store.state import StateStore
from pixbridge.testing.harness import Harness

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The third-party mail corpus beside the checkout (``../shared/corpus``)."""
    if not CORPUS.is_dir():
        pytest.skip(f"mail corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PIXBRIDGE_* variable of the developer's shell leaks in; no settings/ in the cwd.

    For tests of how settings are found and layered; use it with
    ``pytestmark = pytest.mark.usefixtures("clean_environment")``.
    """
    for name in list(os.environ):
        if name.startswith("PIXBRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files fsynced from now on, in order (their resolved paths)."""
    files: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        files.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return files


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    """pixbridge on the embedded default under *tmp_path*, with the shipped templates."""
    made = Harness(tmp_path, templates_dir=REPO / "settings" / "templates")
    yield made
    made.close()


# ---------------------------------------------------------------------------------- state store

STORE_BACKENDS = ("sqlite", "postgresql")
"""Every store backend the store tests run on. PostgreSQL is a real server (pixbridge-postgres's
``fresh_schema``: one new schema per test); it must be reachable, the tests never skip it."""


@pytest.fixture(params=STORE_BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> str:
    """The store backend of this test run: ``sqlite`` or ``postgresql``."""
    return str(request.param)


@pytest.fixture
def store_settings(store_backend: str) -> Iterator[dict[str, Any]]:
    """``[store]`` settings (as keyword overrides) for the backend, on a fresh database."""
    if store_backend == "sqlite":
        yield {"backend": "sqlite"}
        return
    from pixbridge_postgres.testing import fresh_schema

    with fresh_schema() as (url, schema):
        yield {"backend": "postgresql", "url": url, "schema": schema}


@pytest.fixture
def open_store(
    store_settings: dict[str, Any], tmp_path: Path
) -> Iterator[Callable[[], StateStore]]:
    """Opens another :class:`StateStore` (a connection of its own) on the test's database:
    call it twice for two instances. Every store it opened is closed afterwards."""
    opened: list[StateStore] = []

    def make() -> StateStore:
        if store_settings["backend"] == "sqlite":
            store = StateStore(tmp_path / "state.sqlite3")
        else:
            from pixbridge_postgres.database import PostgresDatabase

            db = PostgresDatabase(store_settings["url"], schema=store_settings["schema"])
            store = StateStore(db)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], StateStore]) -> StateStore:
    """A fresh state store on each backend in turn."""
    return open_store()
