"""Retry timing shared by the lifecycle stages."""

from __future__ import annotations

__all__ = ["PassStopped", "backoff"]


class PassStopped(Exception):
    """A dependency is unavailable; the rest of this pass would fail the same way.

    Raised from the outage (its ``__cause__``), which the work item's own handling has logged
    and recorded already; the orchestrator counts it as the stage's error.
    """

    def __init__(self, handled: int = 0) -> None:
        super().__init__(handled)
        self.handled = handled
        """How many items the stage finished before it stopped."""


def backoff(attempt: int, first: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt number *attempt* + 1 (never less than *retry_after*)."""
    delay = min(cap, first * 2.0 ** max(0, attempt - 1))
    return max(delay, retry_after or 0.0)
