"""The imap mail source against a real Dovecot: push, reconnects, UIDVALIDITY, auth, TLS."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pixbridge_imap import ImapSource
from pixbridge_imap.source import NOTE_HEADER
from pixbridge_imap.testing import OAUTH_TOKEN, OAUTH_USER, Dovecot
from pydantic import ValidationError

from pixbridge.adapters import AdapterContext
from pixbridge.errors import NeedsCredentials, PermanentAdapterError, TransientAdapterError
from pixbridge.models import MailOutcome
from pixbridge.testing.contracts.mail import message_id_of, sample_message


@pytest.fixture
def make(
    dovecot: Dovecot, mailbox: tuple[str, str], adapter_context: AdapterContext
) -> Iterator[Any]:
    opened: list[ImapSource] = []

    def factory(**extra: Any) -> ImapSource:
        values = dovecot.settings(*mailbox)
        values.update(extra)
        source = ImapSource(ImapSource.Settings(**values), adapter_context)
        source.open()
        opened.append(source)
        return source

    yield factory
    for source in opened:
        source.close()


@pytest.fixture
def admin(dovecot: Dovecot, mailbox: tuple[str, str]) -> Iterator[Any]:
    client = dovecot.admin(*mailbox)
    yield client
    client.logout()


def _append_later(dovecot: Dovecot, mailbox: tuple[str, str], raw: bytes) -> threading.Thread:
    def append() -> None:
        threading.Event().wait(0.3)
        client = dovecot.admin(*mailbox)
        client.append("INBOX", raw)
        client.logout()

    thread = threading.Thread(target=append)
    thread.start()
    return thread


# ---------------------------------------------------------------- waiting


def test_idle_wakes_wait_when_mail_arrives(make: Any, dovecot: Dovecot, mailbox: Any) -> None:
    source = make()
    assert source.pending() == []
    thread = _append_later(dovecot, mailbox, sample_message())
    woken = source.wait(60)  # returns False only if no EXISTS arrived within a minute
    thread.join()
    assert woken is True
    assert len(source.pending()) == 1


def test_polling_wait_notices_mail_without_idle(make: Any, dovecot: Dovecot, mailbox: Any) -> None:
    source = make(idle=False, poll_interval=0.1)
    assert source.pending() == []
    thread = _append_later(dovecot, mailbox, sample_message())
    woken = source.wait(60)
    thread.join()
    assert woken is True


def test_wait_returns_false_when_nothing_arrives(make: Any) -> None:
    source = make()
    source.pending()
    assert source.wait(0.3) is False


def test_mail_arrived_since_listing_returns_at_once(make: Any, admin: Any) -> None:
    source = make()
    source.pending()
    admin.append("INBOX", sample_message())
    assert source.wait(60) is True


def test_idle_connection_cut_is_transient_then_recovers(make: Any, admin: Any) -> None:
    source = make()
    source.pending()
    timer = threading.Timer(0.3, lambda: source._client.socket().shutdown(2))
    timer.start()
    with pytest.raises(TransientAdapterError):
        source.wait(60)
    timer.join()
    admin.append("INBOX", sample_message())
    assert len(source.pending()) == 1  # reconnected by itself


# ---------------------------------------------------------------- reconnects and durability


def test_dropped_connection_between_calls_reconnects(make: Any, admin: Any) -> None:
    source = make()
    raw = sample_message()
    admin.append("INBOX", raw)
    (item,) = source.pending()
    source._client.socket().shutdown(2)  # the server or the network dropped us
    with pytest.raises(TransientAdapterError):
        source.read(item.ref)
    assert source.read(item.ref) == raw
    source._client.socket().shutdown(2)
    with pytest.raises(TransientAdapterError):
        source.acknowledge(item.ref, MailOutcome.PROCESSED)
    source.acknowledge(item.ref, MailOutcome.PROCESSED)
    assert source.pending() == []


def test_read_does_not_mark_seen(make: Any, admin: Any) -> None:
    source = make()
    admin.append("INBOX", sample_message())
    (item,) = source.pending()
    source.read(item.ref)
    admin.select_folder("INBOX", readonly=True)
    flags = admin.get_flags(admin.search(["ALL"]))
    assert all(b"\\Seen" not in f for f in flags.values())


def test_quarantine_keeps_the_reason_in_a_note(make: Any, admin: Any) -> None:
    source = make()
    raw = sample_message(subject="Huge log")
    admin.append("INBOX", raw)
    (item,) = source.pending()
    source.acknowledge(item.ref, MailOutcome.QUARANTINED, "over the size limit: 30 MB > 25 MB")
    source.acknowledge(item.ref, MailOutcome.QUARANTINED, "over the size limit: 30 MB > 25 MB")
    admin.select_folder("Quarantine", readonly=True)
    fetched = admin.fetch(admin.search(["ALL"]), ["BODY.PEEK[]"])
    bodies = [bytes(v[b"BODY[]"]) for _, v in sorted(fetched.items())]
    # The note is written before the move (a crash in between must not lose the reason), and
    # the second acknowledgement wrote no second note. The original is untouched.
    assert len(bodies) == 2 and bodies[1] == raw
    note = bodies[0].decode()
    assert f"{NOTE_HEADER}: {item.ref}" in note
    assert "over the size limit: 30 MB > 25 MB" in note
    assert f"In-Reply-To: {message_id_of(raw)}" in note


def test_changed_uidvalidity_refuses_old_refs(make: Any, admin: Any) -> None:
    admin.create_folder("Support")
    raw = sample_message()
    admin.append("Support", raw)
    source = make(inbox="Support")
    (old,) = source.pending()
    source.close()
    # Recreating the folder gives it a new UIDVALIDITY: old UIDs mean nothing any more.
    admin.delete_folder("Support")
    admin.create_folder("Support")
    admin.append("Support", raw)
    source.open()
    with pytest.raises(PermanentAdapterError, match="UIDVALIDITY"):
        source.read(old.ref)
    source.acknowledge(old.ref, MailOutcome.PROCESSED)  # skipped, not an error
    (new,) = source.pending()
    assert new.ref != old.ref and source.read(new.ref) == raw


# ---------------------------------------------------------------- folders and doctor


def test_missing_folders_are_created(make: Any, admin: Any) -> None:
    make(processed="Done", quarantine="Rejected")
    assert admin.folder_exists("Done") and admin.folder_exists("Rejected")


def test_folder_that_cannot_be_created_is_a_clear_error(make: Any) -> None:
    with pytest.raises(PermanentAdapterError, match="cannot create the processed folder"):
        make(processed="bad/name")


def test_missing_folder_without_create_is_an_error(make: Any) -> None:
    with pytest.raises(PermanentAdapterError, match="create_folders"):
        make(processed="Elsewhere", create_folders=False)


def test_check_reports_missing_folders_and_bad_logins(
    dovecot: Dovecot, mailbox: Any, adapter_context: AdapterContext
) -> None:
    settings = ImapSource.Settings(**dovecot.settings(*mailbox, processed="Nope", inbox="Absent"))
    problems = ImapSource(settings, adapter_context).check()
    assert len(problems) == 3
    assert "inbox: folder 'Absent'" in problems[0] and "processed: folder 'Nope'" in problems[1]
    assert "quarantine: folder 'Quarantine' does not exist (pixbridge creates it" in problems[2]
    wrong = ImapSource.Settings(**dovecot.settings(mailbox[0], "wrong"))
    (problem,) = ImapSource(wrong, adapter_context).check()
    assert "refused the login" in problem


# ---------------------------------------------------------------- authentication and TLS


def test_wrong_password_needs_credentials(make: Any, mailbox: Any) -> None:
    with pytest.raises(NeedsCredentials, match="refused the login"):
        make(password="wrong")


def test_unreachable_server_is_transient(make: Any) -> None:
    with pytest.raises(TransientAdapterError, match="cannot connect"):
        make(port=1)


def test_xoauth2_with_a_token_reference(make: Any) -> None:
    source = make(username=OAUTH_USER, password=None, auth="oauth2", oauth2_token=OAUTH_TOKEN)
    assert source.pending() == []


def test_xoauth2_with_a_token_command(make: Any) -> None:
    command = [sys.executable, "-c", f"print({OAUTH_TOKEN!r})"]
    source = make(username=OAUTH_USER, password=None, auth="oauth2", oauth2_token_command=command)
    assert source.pending() == []


def test_xoauth2_refused_token_needs_credentials(make: Any) -> None:
    with pytest.raises(NeedsCredentials):
        make(username=OAUTH_USER, password=None, auth="oauth2", oauth2_token="expired")


def test_failing_token_command_needs_credentials(make: Any) -> None:
    command = [sys.executable, "-c", "import sys; sys.exit('no refresh token')"]
    with pytest.raises(NeedsCredentials, match="no refresh token"):
        make(username=OAUTH_USER, password=None, auth="oauth2", oauth2_token_command=command)


def test_implicit_tls(make: Any, dovecot: Dovecot, admin: Any) -> None:
    admin.append("INBOX", sample_message())
    source = make(
        host="localhost",
        port=dovecot.tls_port,
        security="tls",
        tls_ca_file=dovecot.certificate.cert,
    )
    assert len(source.pending()) == 1
    assert source._client._imap.sock.version().startswith("TLS")


def test_starttls(make: Any, dovecot: Dovecot) -> None:
    source = make(host="localhost", security="starttls", tls_ca_file=dovecot.certificate.cert)
    assert source.pending() == []
    assert source._client._imap.sock.version().startswith("TLS")


def test_untrusted_certificate_is_refused(make: Any, dovecot: Dovecot) -> None:
    with pytest.raises(PermanentAdapterError, match="tls_ca_file"):
        make(host="localhost", port=dovecot.tls_port, security="tls")


# ---------------------------------------------------------------- settings


def test_plain_is_refused_for_a_remote_host() -> None:
    with pytest.raises(ValidationError, match="loopback"):
        ImapSource.Settings(host="mail.example.com", security="plain", username="u", password="p")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"auth": "password"}, "needs password"),
        ({"auth": "oauth2"}, "exactly one of"),
        ({"auth": "oauth2", "oauth2_token": "t", "oauth2_token_command": ["x"]}, "exactly one"),
        ({"password": "p", "processed": "INBOX"}, "three folders"),
    ],
)
def test_settings_say_what_is_missing(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ImapSource.Settings(host="mail.example.com", username="u", **values)


def test_malformed_ref_is_permanent(make: Any) -> None:
    source = make()
    for ref in ("", "1", "1:0", "a:b", "1:2:3"):
        with pytest.raises(PermanentAdapterError):
            source.read(ref)
