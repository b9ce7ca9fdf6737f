"""The pytest plugin registered under ``pytest11``: fixtures for testing pixbridge plugins."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pixbridge.adapters import AdapterContext

# Contract suites live in an installed package, which pytest does not rewrite by default; without
# this a failing contract check would show a bare AssertionError.
pytest.register_assert_rewrite("pixbridge.testing.contracts")


class FakeClock:
    """A clock that stands still until told to move; for tests of time rules."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 15, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The frozen current time."""
        return self.current

    def advance(self, **delta: float) -> None:
        """Move the clock forward, e.g. ``advance(hours=2)``."""
        self.current += timedelta(**delta)


@pytest.fixture
def fake_clock() -> FakeClock:
    """A :class:`FakeClock` starting at 2026-01-15 09:00 UTC."""
    return FakeClock()


@pytest.fixture
def adapter_context(tmp_path: Path, fake_clock: FakeClock) -> Iterator[AdapterContext]:
    """An :class:`~pixbridge.adapters.AdapterContext` over a fresh data directory."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    yield AdapterContext(data_dir=data_dir, clock=fake_clock)
