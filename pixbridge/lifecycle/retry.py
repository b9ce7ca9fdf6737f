"""Retry timing shared by the lifecycle stages."""

from __future__ import annotations

__all__ = ["PassStopped", "backoff"]


class PassStopped(Exception):
    """A dependency is unavailable; the rest of this pass would fail the same way."""


def backoff(attempt: int, first: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt number *attempt* + 1 (never less than *retry_after*)."""
    delay = min(cap, first * 2.0 ** max(0, attempt - 1))
    return max(delay, retry_after or 0.0)
