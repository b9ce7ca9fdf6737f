"""Harnesses with metrics attached, as ``pixbridge run --metrics`` attaches them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lifecycle_helpers import TEMPLATES

from pixbridge.observability.metrics import Metrics
from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """The harness's clock."""
    return FakeClock()


@pytest.fixture
def observed(tmp_path: Path, clock: FakeClock) -> Iterator[Any]:
    """Build a harness with :class:`Metrics` watching its orchestrator; closed afterwards."""
    made: list[Harness] = []

    def factory(**kw: Any) -> tuple[Harness, Metrics]:
        h = Harness(tmp_path / f"h{len(made)}", templates_dir=TEMPLATES, clock=clock, **kw)
        made.append(h)
        return h, Metrics.watching(h.orchestrator)

    yield factory
    for h in made:
        h.close()
