"""Retry timing shared by the lifecycle stages."""

from __future__ import annotations

from pixbridge.errors import AdapterError, NeedsCredentials, TransientAdapterError

__all__ = ["PASSING", "PassStopped", "backoff", "retry_after"]

PASSING: tuple[type[AdapterError], ...] = (TransientAdapterError, NeedsCredentials)
"""Errors that are not a work item's fault and pass: an outage, or credentials an operator
must mend (a token expired, a permission withdrawn). Work meeting one waits with backoff; it is
never counted towards giving the item up."""


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


def retry_after(error: AdapterError) -> float | None:
    """The wait *error* asks for (``Retry-After``), if it is an outage that says."""
    return error.retry_after if isinstance(error, TransientAdapterError) else None
