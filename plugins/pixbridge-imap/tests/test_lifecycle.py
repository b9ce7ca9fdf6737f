"""The lifecycle over a real Dovecot and a real SMTP server, with connections cut mid-command."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pixbridge_imap
import pixbridge_postgres
import pytest
from pixbridge_imap.testing import Dovecot, DroppingProxy, SmtpServer

from pixbridge.testing.contracts.mail import message_id_of
from pixbridge.testing.harness import Harness

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

REPO = Path(__file__).resolve().parents[3]
TEMPLATES = REPO / "settings" / "templates"


def customer_mail(n: int) -> bytes:
    """A customer's request, each from its own sender so no acknowledgement cap applies."""
    return (
        f"From: Customer {n} <customer{n}@customer.example>\r\n"
        "To: support@pix.example\r\n"
        f"Subject: Export crashes, case {n}\r\n"
        "Date: Mon, 12 Jan 2026 09:14:05 +0000\r\n"
        f"Message-ID: <case-{n}.{id(customer_mail)}@customer.example>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "The export crashes every time.\r\nWindows 11 Pro 23H2\r\n"
    ).encode()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_settings(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """``[store]`` settings on a fresh database of each backend (PostgreSQL: a new schema on
    the real server of ``pixbridge_postgres.testing``; the test fails, never skips, without it)."""
    if request.param == "sqlite":
        yield {"backend": "sqlite"}
        return
    from pixbridge_postgres.testing import fresh_schema

    with fresh_schema() as (url, schema):
        yield {"backend": "postgresql", "url": url, "schema": schema}


@pytest.fixture
def proxy(dovecot: Dovecot) -> Iterator[DroppingProxy]:
    relay = DroppingProxy(dovecot.port)
    yield relay
    relay.close()


@pytest.fixture
def harness(
    tmp_path: Path,
    dovecot: Dovecot,
    mailbox: tuple[str, str],
    smtp_server: SmtpServer,
    proxy: DroppingProxy,
    store_settings: dict[str, Any],
) -> Iterator[Harness]:
    h = Harness(
        tmp_path,
        templates_dir=TEMPLATES,
        pipeline={
            "mail_source": "imap",
            "mail_sender": "smtp",
            "tracker": "local",
            "license_validators": [],
            "publishers": [],
        },
        adapters={
            "imap": dovecot.settings(*mailbox, port=proxy.port, timeout=10),
            "smtp": smtp_server.settings(),
        },
        store=store_settings,
        extra_plugins=[("imap", pixbridge_imap), ("postgres", pixbridge_postgres)],
    )
    yield h
    h.close()


def _folder_ids(admin: Any, folder: str) -> list[str | None]:
    admin.select_folder(folder, readonly=True)
    uids = admin.search(["ALL"])
    fetched = admin.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
    return [message_id_of(fetched[uid][b"BODY[]"]) for uid in sorted(fetched)]


def test_cut_connections_lose_nothing_and_repeat_nothing(
    harness: Harness,
    dovecot: Dovecot,
    mailbox: tuple[str, str],
    smtp_server: SmtpServer,
    proxy: DroppingProxy,
) -> None:
    """Cut mid-fetch, after a MOVE was done, and before a MOVE reached the server."""
    admin = dovecot.admin(*mailbox)
    sent_ids = []

    def deliver(numbers: range) -> None:
        for n in numbers:
            raw = customer_mail(n)
            admin.append("INBOX", raw)
            sent_ids.append(message_id_of(raw))

    deliver(range(4))
    proxy.arm("down", b"BODY[]")  # the first FETCH answer is cut in the middle
    first = harness.run()
    assert not proxy.armed and first.errors >= 1 and first.accepted == 0

    proxy.arm("down", b"COPYUID")  # the server moved the message; its answer is lost
    harness.run()
    assert not proxy.armed

    deliver(range(4, 7))
    proxy.arm("up", b"UID MOVE")  # the MOVE never reaches the server
    harness.run()
    assert not proxy.armed
    for _ in range(3):  # further passes finish whatever the cuts interrupted
        harness.run()
    assert proxy.drops == 3

    # One stored message and one request per delivered message, nothing fetched twice.
    refs = [m.source_ref for m in harness.app.store.messages()]
    assert len(refs) == 7 and len(set(refs)) == 7
    assert len(harness.keys()) == 7
    # One acknowledgement per message, in reply to it.
    parser = BytesParser(policy=policy.default)
    acks = [parser.parsebytes(raw) for raw in smtp_server.recorder.messages()]
    assert Counter(str(a["In-Reply-To"]) for a in acks) == Counter(sent_ids)
    assert all(str(a["Subject"]).startswith("[SUP-") for a in acks)
    # The mailbox: INBOX empty, every message in Processed exactly once, none deleted.
    assert _folder_ids(admin, "INBOX") == []
    assert Counter(_folder_ids(admin, "Processed")) == Counter(sent_ids)
    admin.logout()
