"""Fixtures shared by the core tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The third-party mail corpus beside the checkout (``../shared/corpus``)."""
    if not CORPUS.is_dir():
        pytest.skip(f"mail corpus not found at {CORPUS}")
    return CORPUS
