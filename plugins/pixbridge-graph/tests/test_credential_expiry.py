"""When the app's client secret or certificate expires: settings, the certificate's notAfter,
and the warning a running pixbridge logs ahead of it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pixbridge_graph
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pixbridge_graph import GraphSender, GraphSource
from pixbridge_graph.testing import FakeGraph, TlsFiles, adapter_settings
from pydantic import ValidationError

from pixbridge.adapters import AdapterContext
from pixbridge.observability.credentials import CredentialExpiry
from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock

REPO = Path(__file__).resolve().parents[3]
TEMPLATES = REPO / "settings" / "templates"
SAMPLE = REPO / "settings" / "samples" / "01-en-request.eml"

BASE = {"tenant_id": "pix.example", "client_id": "app", "mailbox": "support@pix.example"}


def app_certificate(not_after: datetime) -> tuple[bytes, bytes]:
    """A self-signed app certificate valid until *not_after*: (certificate PEM, key PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pixbridge app")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - timedelta(days=365))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def test_the_secret_expiry_date_is_parsed_and_reported(adapter_context: AdapterContext) -> None:
    values = {**BASE, "client_secret": "s3cret-value", "client_secret_expires": "2026-03-31"}
    source = GraphSource(GraphSource.Settings.model_validate(values), adapter_context)
    sender = GraphSender(GraphSender.Settings.model_validate(values), adapter_context)
    # Never opened: the adapter whose secret expired cannot open, and still tells its expiry.
    [expiry] = source.credential_expiries()
    assert expiry.expires_at == datetime(2026, 3, 31, tzinfo=UTC)
    assert (expiry.adapter, expiry.credential, expiry.source) == (
        "graph",
        "client_secret",
        "settings",
    )
    assert "adapters.graph.client_secret and its expiry date in " in expiry.renew
    assert "adapters.graph.client_secret_expires" in expiry.renew
    assert "s3cret-value" not in repr(expiry)
    [expiry] = sender.credential_expiries()
    assert (expiry.adapter, expiry.credential) == ("graph-sender", "client_secret")


def test_without_a_date_nothing_is_known(adapter_context: AdapterContext) -> None:
    values = {**BASE, "client_secret": "s"}
    assert (
        GraphSource(
            GraphSource.Settings.model_validate(values), adapter_context
        ).credential_expiries()
        == []
    )


def test_a_secret_date_beside_a_certificate_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="with certificate_file the expiry is read from"):
        GraphSender.Settings.model_validate(
            {
                **BASE,
                "certificate_file": str(tmp_path / "app.pem"),
                "client_secret_expires": "2026-03-31",
            }
        )


def test_the_certificate_not_after_is_read(tmp_path: Path, adapter_context: AdapterContext) -> None:
    not_after = datetime(2026, 2, 1, 12, 34, 56, tzinfo=UTC)
    cert, key = app_certificate(not_after)
    later, _ = app_certificate(not_after + timedelta(days=400))
    path = tmp_path / "app.pem"
    path.write_bytes(key + cert + later)  # a chain after it: the first certificate is the app's
    values = {**BASE, "certificate_file": str(path)}
    [expiry] = GraphSource(
        GraphSource.Settings.model_validate(values), adapter_context
    ).credential_expiries()
    assert expiry == CredentialExpiry(
        "graph", "certificate_file", not_after, "certificate", expiry.renew
    )
    assert str(path) in expiry.renew and "adapters.graph.certificate_file" in expiry.renew


def test_an_unreadable_certificate_tells_no_date(
    tmp_path: Path, adapter_context: AdapterContext
) -> None:
    # The sign-in and doctor report such a file; the expiry check only stays quiet.
    garbled = tmp_path / "garbled.pem"
    garbled.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
    keyonly = tmp_path / "key.pem"
    keyonly.write_bytes(app_certificate(datetime(2027, 1, 1, tzinfo=UTC))[1])
    for path in (tmp_path / "missing.pem", garbled, keyonly):
        values = {**BASE, "certificate_file": str(path)}
        sender = GraphSender(GraphSender.Settings.model_validate(values), adapter_context)
        assert sender.credential_expiries() == [], path


def test_a_running_pixbridge_warns_before_the_certificate_expires(
    tls: TlsFiles, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(datetime(2026, 1, 15, 9, 0, tzinfo=UTC))
    cert, key = app_certificate(datetime(2026, 1, 20, tzinfo=UTC))  # in 4 days 15 hours
    path = tmp_path / "app.pem"
    path.write_bytes(key + cert)
    fake = FakeGraph(tls, mailbox="support@pix.example", client_secret=None, certificate_pem=cert)
    fake.start()
    settings = adapter_settings(fake, client_secret=None, certificate_file=str(path))
    h = Harness(
        tmp_path / "h",
        templates_dir=TEMPLATES,
        clock=clock,
        pipeline={
            "mail_source": "graph",
            "mail_sender": "graph-sender",
            "tracker": "local",
            "license_validators": [],
            "publishers": [],
        },
        adapters={"graph": settings, "graph-sender": settings},
        extra_plugins=[("graph", pixbridge_graph)],
    )
    try:
        fake.mailbox.deliver(SAMPLE.read_bytes())
        with caplog.at_level(logging.WARNING, logger="pixbridge.credentials"):
            result = h.run()
        assert (result.accepted, result.sent) == (1, 1)  # the certificate still works
    finally:
        h.close()
        fake.stop()
    told = sorted(r.getMessage() for r in caplog.records if r.name == "pixbridge.credentials")
    assert [m.split(" (certificate) ")[0] for m in told] == [
        "adapters.graph-sender.certificate_file",
        "adapters.graph.certificate_file",
    ]
    assert all(
        "expires 2026-01-20 00:00 UTC, in 4 days: upload a new certificate" in m for m in told
    )
