"""Fixtures: a real Dovecot and a real SMTP server (aiosmtpd) on loopback.

Dovecot is installed by ``scripts/install-dovecot.sh`` when missing; if that fails (no network,
not root) the tests FAIL with the script's output rather than being skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pixbridge_imap.testing import (
    Certificate,
    Dovecot,
    ServerStartError,
    SmtpServer,
    make_certificate,
    running_dovecot,
    start_smtp,
)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """The self-signed certificate Dovecot and the TLS SMTP servers present."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def dovecot(certificate: Certificate) -> Iterator[Dovecot]:
    """Dovecot from Debian's packages, listening on loopback for the whole session."""
    try:
        with running_dovecot(certificate) as server:
            yield server
    except ServerStartError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def mailbox(dovecot: Dovecot) -> tuple[str, str]:
    """A fresh, empty mailbox user: (name, password)."""
    return dovecot.new_user()


@pytest.fixture(scope="session")
def smtp_session() -> Iterator[SmtpServer]:
    """One aiosmtpd with AUTH for the whole session."""
    controller, server = start_smtp()
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def smtp_server(smtp_session: SmtpServer) -> SmtpServer:
    """The session's SMTP server, its record emptied for this test."""
    with smtp_session.recorder.lock:
        smtp_session.recorder.received.clear()
    return smtp_session
