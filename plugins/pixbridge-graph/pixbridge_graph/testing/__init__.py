"""Test support for the Graph adapters: a fake Graph and Entra ID over HTTPS on loopback."""

from __future__ import annotations

from pixbridge_graph.testing.fake_graph import FakeGraph, Recorded, adapter_settings
from pixbridge_graph.testing.fake_mailbox import FakeMailbox, FakeMessage
from pixbridge_graph.testing.tls import TlsFiles, make_tls, self_signed_pem

__all__ = [
    "FakeGraph",
    "FakeMailbox",
    "FakeMessage",
    "Recorded",
    "TlsFiles",
    "adapter_settings",
    "make_tls",
    "self_signed_pem",
]
