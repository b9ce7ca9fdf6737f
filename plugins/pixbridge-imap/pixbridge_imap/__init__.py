"""pixbridge-imap: an IMAP mailbox (``imap``) and an SMTP sender (``smtp``) for pixbridge.

Registered through the ``pixbridge`` entry point ``imap``; see README.md for the settings.
"""

from __future__ import annotations

import pixbridge
from pixbridge.registry import AdapterRegistry
from pixbridge_imap.settings import ImapSettings, Security, SmtpSettings
from pixbridge_imap.smtp import SmtpSender
from pixbridge_imap.source import ImapSource

__all__ = [
    "ImapSettings",
    "ImapSource",
    "Security",
    "SmtpSender",
    "SmtpSettings",
    "register_adapters",
]


@pixbridge.hookimpl
def register_adapters(registry: AdapterRegistry) -> None:
    """Register the ``imap`` mail source and the ``smtp`` mail sender."""
    registry.add(ImapSource)
    registry.add(SmtpSender)
