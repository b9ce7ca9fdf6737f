"""Errors the adapters catch by type, kept apart from :mod:`pixbridge_graph.client`.

The client module imports requests and tenacity; this one does not, so the adapters can name
these errors in ``except`` clauses without importing the HTTP stack when pixbridge starts.
"""

from __future__ import annotations

from pixbridge.errors import PermanentAdapterError

__all__ = ["GraphRefused"]


class GraphRefused(PermanentAdapterError):
    """Graph refused a request with a 4xx other than 401/403/429."""

    def __init__(self, message: str, *, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
