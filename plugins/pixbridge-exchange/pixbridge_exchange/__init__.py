"""pixbridge-exchange: an on-premises Exchange mailbox (``exchange``) and sender over EWS.

Registered through the ``pixbridge`` entry point ``exchange``; see README.md for the settings.
"""

from __future__ import annotations

import pixbridge
from pixbridge.registry import AdapterRegistry
from pixbridge_exchange.sender import ExchangeSender
from pixbridge_exchange.settings import ExchangeSettings, SenderSettings, SourceSettings
from pixbridge_exchange.source import ExchangeSource

__all__ = [
    "ExchangeSender",
    "ExchangeSettings",
    "ExchangeSource",
    "SenderSettings",
    "SourceSettings",
    "register_adapters",
]


@pixbridge.hookimpl
def register_adapters(registry: AdapterRegistry) -> None:
    """Register the ``exchange`` mail source and the ``exchange-sender`` mail sender."""
    registry.add(ExchangeSource)
    registry.add(ExchangeSender)
