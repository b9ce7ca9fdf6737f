"""A fake EWS endpoint for testing pixbridge-exchange (and its users) with the real exchangelib."""

from __future__ import annotations

from pixbridge_exchange.testing.server import ErrorInjection, FakeEws, RecordedRequest

__all__ = ["ErrorInjection", "FakeEws", "RecordedRequest"]
