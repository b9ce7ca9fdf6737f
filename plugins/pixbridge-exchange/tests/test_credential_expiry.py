"""``oauth2_client_secret_expires``: parsed, refused where it means nothing, and reported by both
adapters (unopened) to pixbridge's expiry warnings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pixbridge_exchange
import pytest
from pixbridge_exchange import ExchangeSender, ExchangeSource, SenderSettings, SourceSettings
from pydantic import ValidationError

from pixbridge.adapters import AdapterContext
from pixbridge.observability.credentials import credential_expiries
from pixbridge.testing.harness import Harness

REPO = Path(__file__).resolve().parents[3]
TEMPLATES = REPO / "settings" / "templates"

OAUTH2: dict[str, Any] = {
    "service_endpoint": "https://mail.pix.example/EWS/Exchange.asmx",
    "mailbox": "support@pix.example",
    "auth": "oauth2",
    "oauth2_client_id": "app",
    "oauth2_tenant_id": "tenant",
    "oauth2_client_secret": "s3cret-value",
}


def test_the_date_is_parsed_and_reported(adapter_context: AdapterContext) -> None:
    values = {**OAUTH2, "oauth2_client_secret_expires": "2026-03-31"}
    source = ExchangeSource(SourceSettings(**values), adapter_context)
    [expiry] = source.credential_expiries()
    assert expiry.expires_at == datetime(2026, 3, 31, tzinfo=UTC)
    assert (expiry.adapter, expiry.credential, expiry.source) == (
        "exchange",
        "oauth2_client_secret",
        "settings",
    )
    assert "adapters.exchange.oauth2_client_secret_expires" in expiry.renew
    assert "s3cret-value" not in repr(expiry)
    sender = ExchangeSender(SenderSettings(**values), adapter_context)
    assert [(e.adapter, e.expires_at) for e in sender.credential_expiries()] == [
        ("exchange-sender", datetime(2026, 3, 31, tzinfo=UTC))
    ]


def test_without_a_date_nothing_is_known(adapter_context: AdapterContext) -> None:
    assert ExchangeSource(SourceSettings(**OAUTH2), adapter_context).credential_expiries() == []


def test_the_date_is_refused_without_oauth2() -> None:
    with pytest.raises(ValidationError, match='is for auth = "oauth2", not "ntlm"'):
        SenderSettings(
            service_endpoint="https://mail.pix.example/EWS/Exchange.asmx",
            auth="ntlm",
            oauth2_client_secret_expires="2026-03-31",
        )


def test_pixbridge_sees_both_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EWS_SECRET", "s3cret-value")
    table = {
        **OAUTH2,
        "oauth2_client_secret": {"$env": "EWS_SECRET"},
        "oauth2_client_secret_expires": "2026-03-31",
    }
    h = Harness(
        tmp_path,
        templates_dir=TEMPLATES,
        pipeline={
            "mail_source": "exchange",
            "mail_sender": "exchange-sender",
            "tracker": "local",
            "license_validators": [],
            "publishers": [],
        },
        adapters={
            "exchange": table,
            "exchange-sender": {**table, "oauth2_client_secret_expires": "2026-02-28"},
        },
        extra_plugins=[("exchange", pixbridge_exchange)],
    )
    try:
        found = [(e.adapter, e.credential, e.expires_at.date()) for e in credential_expiries(h.app)]
    finally:
        h.close()
    assert found == [
        ("exchange-sender", "oauth2_client_secret", date(2026, 2, 28)),
        ("exchange", "oauth2_client_secret", date(2026, 3, 31)),
    ]
