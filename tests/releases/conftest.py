"""Fixtures for the release tests: a harness that publishes with the directory publisher."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lifecycle_helpers import TEMPLATES
from release_helpers import BASE_URL

from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make(tmp_path: Path, clock: FakeClock) -> Iterator[Callable[..., Harness]]:
    """Build harnesses that publish with the directory publisher (and any extra publishers)."""
    harnesses: list[Harness] = []

    def factory(
        publishers: tuple[str, ...] = ("directory",), plugins: tuple[Any, ...] = ()
    ) -> Harness:
        root = tmp_path / f"h{len(harnesses)}"
        adapters = {
            name: {"root": str(root / "published" / name), "base_url": f"{BASE_URL}/{name}"}
            for name in publishers
        }
        harness = Harness(
            root,
            templates_dir=TEMPLATES,
            clock=clock,
            extra_plugins=[(f"test-{n}", p) for n, p in enumerate(plugins)],
            pipeline={
                "mail_source": "maildir",
                "mail_sender": "maildir-outbox",
                "tracker": "local",
                "license_validators": [],
                "publishers": list(publishers),
            },
            adapters=adapters,
        )
        harnesses.append(harness)
        return harness

    yield factory
    for harness in harnesses:
        harness.close()


@pytest.fixture
def h(make: Callable[..., Harness]) -> Harness:
    return make()
