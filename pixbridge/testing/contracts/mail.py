"""Contract test suites for mail adapters: one for mail sources, one for mail senders.

Every mail adapter, bundled or third-party, runs these against itself. Subclass the suite in a
class whose name starts with ``Test`` and supply an ``adapter`` fixture yielding an opened
adapter (closed afterwards), plus the one backend-specific helper each suite asks for::

    from pixbridge.testing.contracts.mail import MailSourceContract

    class TestMyMailbox(MailSourceContract):
        @pytest.fixture
        def adapter(self, adapter_context):
            source = MyMailbox(MyMailbox.Settings(...), adapter_context)
            source.open()
            yield source
            source.close()

        def deliver(self, adapter, raw):
            ...  # put *raw* into the mailbox the way mail really arrives there

Class attributes relax a rule where a backend cannot keep it (say why where you set one).
The suites are named without ``Test`` so pytest collects them only through a subclass.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from email import policy
from email.parser import BytesParser
from typing import ClassVar

import pytest
from pydantic import BaseModel, ValidationError

from pixbridge.adapters import Adapter, AdapterKind, MailSender, MailSource
from pixbridge.errors import PermanentAdapterError
from pixbridge.models import MailOutcome, OutgoingMail
from pixbridge.registry import AdapterRegistry

__all__ = ["MailSenderContract", "MailSourceContract", "message_id_of", "sample_message"]

_UNKNOWN_SETTING = "surely_not_a_setting_of_this_adapter"


def sample_message(
    message_id: str | None = None,
    *,
    subject: str = "Licence error on start-up",
    sender: str = "customer@example.com",
    to: str = "support@example.com",
    body: bytes | None = None,
) -> bytes:
    """A small RFC 5322 message with CRLF line ends and an 8-bit body.

    :param message_id: With angle brackets; a fresh unique one when omitted.
    :param body: Raw body bytes; by default UTF-8 text with umlauts and a lone Latin-1 byte,
        to catch a backend that decodes and re-encodes what it stores.
    """
    message_id = message_id or f"<{uuid.uuid4().hex}@contract.example.com>"
    if body is None:
        body = (
            "Grüße aus Köln,\r\nthe licence check fails (Fehler 0x17) since today.\r\n".encode()
            + b"caf\xe9 \xe2\x80\x94 a Latin-1 byte among UTF-8 ones\r\n"
            + b".\r\n"
            + b"From the log: OK\r\n"
        )
    head = (
        f"From: Customer <{sender}>\r\n"
        f"To: {to}\r\n"
        f"Subject: {subject}\r\n"
        "Date: Thu, 15 Jan 2026 09:00:00 +0100\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


def message_id_of(raw: bytes) -> str | None:
    """The Message-ID header of *raw* with white space removed, or None."""
    headers = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    value = headers.get("Message-ID")
    return None if value is None else "".join(str(value).split())


def _body_of(raw: bytes) -> bytes:
    """The body of *raw* with line ends made uniform, for header-equivalent comparison."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        _, found, body = raw.partition(separator)
        if found:
            return body.replace(b"\r\n", b"\n")
    return b""


def _assert_identity(adapter: Adapter, kind: AdapterKind, contract: type[Adapter]) -> None:
    cls = type(adapter)
    assert isinstance(adapter, contract), f"{cls.__qualname__} is not a {contract.__name__}"
    name = getattr(cls, "name", None)
    assert isinstance(name, str) and name, f"{cls.__qualname__} has no `name`"
    assert name == name.strip() and " " not in name, f"adapter name {name!r} has white space"
    assert cls.kind is kind, f"{cls.__qualname__}.kind is {cls.kind!r}, expected {kind!r}"
    # The registry's own checks: concrete class, name, Settings keeping extra="forbid".
    AdapterRegistry().add(cls)


def _assert_settings_reject_unknown_keys(adapter: Adapter) -> None:
    settings_cls = type(adapter).Settings
    assert settings_cls.model_config.get("extra") == "forbid", (
        f"{type(adapter).__qualname__}.Settings must keep extra='forbid'"
    )
    current = adapter.settings
    values = current.model_dump(round_trip=True) if isinstance(current, BaseModel) else {}
    with pytest.raises(ValidationError) as excinfo:
        settings_cls.model_validate({**values, _UNKNOWN_SETTING: 1})
    assert _UNKNOWN_SETTING in str(excinfo.value), "the error should name the unknown key"


class MailSourceContract:
    """What every :class:`~pixbridge.adapters.MailSource` must do.

    Supply an ``adapter`` fixture (an opened, empty mailbox) and implement :meth:`deliver`.
    """

    ordered: ClassVar[bool] = True
    """``pending()`` returns messages oldest first; set False only if the backend cannot tell."""
    preserves_bytes: ClassVar[bool] = True
    """``read()`` returns the delivered bytes exactly; False for a store that rewrites MIME."""
    exact_sizes: ClassVar[bool] = True
    """``InboundRef.size``, when given, is the length of what ``read()`` returns."""

    def deliver(self, adapter: MailSource, raw: bytes) -> None:
        """Put *raw* into the mailbox by the backend's own means (an MTA, an APPEND, a copy).

        Successive calls are successive arrivals: a later delivery must count as newer.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement deliver(adapter, raw) for its backend"
        )

    # ------------------------------------------------------------ helpers

    def _deliver_messages(self, adapter: MailSource, count: int) -> list[bytes]:
        raws = [sample_message(subject=f"Contract message {n}") for n in range(count)]
        for raw in raws:
            self.deliver(adapter, raw)
        return raws

    def _refs(self, adapter: MailSource) -> list[str]:
        return [item.ref for item in adapter.pending()]

    def _ref_by_message_id(self, adapter: MailSource) -> dict[str, str]:
        found: dict[str, str] = {}
        for ref in self._refs(adapter):
            message_id = message_id_of(adapter.read(ref))
            assert message_id is not None, f"read({ref!r}) returned a message without Message-ID"
            found[message_id] = ref
        return found

    def _assert_same_message(self, got: bytes, raw: bytes) -> None:
        if self.preserves_bytes:
            assert got == raw, "read() must return the delivered bytes exactly (CRLF, 8-bit)"
        else:
            assert message_id_of(got) == message_id_of(raw)
            assert _body_of(got) == _body_of(raw), "read() changed the message body"

    # ------------------------------------------------------------ identity and settings

    def test_name_and_kind(self, adapter: MailSource) -> None:
        """The adapter has a name, is a mail source and passes the registry's checks."""
        _assert_identity(adapter, AdapterKind.MAIL_SOURCE, MailSource)

    def test_settings_reject_unknown_keys(self, adapter: MailSource) -> None:
        """A misspelt settings key is an error, not silently ignored."""
        _assert_settings_reject_unknown_keys(adapter)

    # ------------------------------------------------------------ pending and read

    def test_empty_mailbox_has_nothing_pending(self, adapter: MailSource) -> None:
        """A new mailbox has no pending mail."""
        assert list(adapter.pending()) == []

    def test_delivered_message_is_pending_and_read_exactly(self, adapter: MailSource) -> None:
        """A delivered message appears once, and ``read()`` returns its bytes."""
        raw = sample_message()
        self.deliver(adapter, raw)
        pending = list(adapter.pending())
        assert len(pending) == 1, f"expected one pending message, got {pending!r}"
        self._assert_same_message(adapter.read(pending[0].ref), raw)

    def test_size_is_the_length_read(self, adapter: MailSource) -> None:
        """``InboundRef.size``, when the backend gives one, is the size of the message."""
        raw = sample_message()
        self.deliver(adapter, raw)
        (item,) = adapter.pending()
        if item.size is not None and self.exact_sizes:
            assert item.size == len(adapter.read(item.ref))

    def test_pending_and_read_change_nothing(self, adapter: MailSource) -> None:
        """Listing and reading leave the mailbox as it was: the same refs, in the same order."""
        self._deliver_messages(adapter, 3)
        first = self._refs(adapter)
        for ref in first:
            adapter.read(ref)
        second = self._refs(adapter)
        assert len(first) == 3
        assert len(set(first)) == 3, f"refs must be unique: {first!r}"
        assert second == first, "pending() returned other refs after listing and reading"

    def test_refs_are_stable_and_each_reads_its_own_message(self, adapter: MailSource) -> None:
        """Each ref reads back the message it stands for, every time."""
        raws = self._deliver_messages(adapter, 3)
        by_id = self._ref_by_message_id(adapter)
        for raw in raws:
            message_id = message_id_of(raw)
            assert message_id in by_id, f"{message_id} was delivered but is not pending"
            self._assert_same_message(adapter.read(by_id[message_id]), raw)
        assert self._ref_by_message_id(adapter) == by_id

    def test_identical_deliveries_are_two_messages(self, adapter: MailSource) -> None:
        """A mailbox does not merge two arrivals of the same bytes; deduplication is ours."""
        raw = sample_message()
        self.deliver(adapter, raw)
        self.deliver(adapter, raw)
        refs = self._refs(adapter)
        assert len(refs) == 2 and len(set(refs)) == 2, f"expected two refs, got {refs!r}"

    def test_pending_is_oldest_first(self, adapter: MailSource) -> None:
        """Messages come back in the order they arrived (or at least all of them do)."""
        raws = self._deliver_messages(adapter, 4)
        got = [message_id_of(adapter.read(ref)) for ref in self._refs(adapter)]
        expected = [message_id_of(raw) for raw in raws]
        if self.ordered:
            assert got == expected, "pending() must list the oldest message first"
        else:
            assert sorted(map(str, got)) == sorted(map(str, expected))

    def test_read_unknown_ref_is_permanent_error(self, adapter: MailSource) -> None:
        """Reading a ref that is not in the mailbox raises PermanentAdapterError."""
        self._deliver_messages(adapter, 1)
        with pytest.raises(PermanentAdapterError):
            adapter.read("no-such-message-0000")

    # ------------------------------------------------------------ acknowledge

    def test_acknowledge_processed_removes_only_that_message(self, adapter: MailSource) -> None:
        """A processed message leaves ``pending()``; the others stay."""
        self._deliver_messages(adapter, 2)
        first, second = self._refs(adapter)
        adapter.acknowledge(first, MailOutcome.PROCESSED)
        assert self._refs(adapter) == [second]

    def test_acknowledge_quarantined_removes_the_message(self, adapter: MailSource) -> None:
        """A quarantined message leaves ``pending()`` too."""
        self._deliver_messages(adapter, 1)
        (ref,) = self._refs(adapter)
        adapter.acknowledge(ref, MailOutcome.QUARANTINED, "contract test: over the size limit")
        assert self._refs(adapter) == []

    @pytest.mark.parametrize("outcome", list(MailOutcome))
    def test_acknowledge_twice_is_not_an_error(
        self, adapter: MailSource, outcome: MailOutcome
    ) -> None:
        """Acknowledging again (a retry after a crash) is harmless."""
        self._deliver_messages(adapter, 1)
        (ref,) = self._refs(adapter)
        adapter.acknowledge(ref, outcome, "contract test")
        adapter.acknowledge(ref, outcome, "contract test")
        assert self._refs(adapter) == []

    def test_read_after_acknowledge_is_permanent_error(self, adapter: MailSource) -> None:
        """Once moved out, a message can no longer be read through its ref."""
        self._deliver_messages(adapter, 1)
        (ref,) = self._refs(adapter)
        adapter.acknowledge(ref, MailOutcome.PROCESSED)
        with pytest.raises(PermanentAdapterError):
            adapter.read(ref)

    def test_mail_arriving_after_acknowledge_is_pending(self, adapter: MailSource) -> None:
        """Acknowledging does not hide mail that arrives later."""
        self._deliver_messages(adapter, 1)
        (ref,) = self._refs(adapter)
        adapter.acknowledge(ref, MailOutcome.PROCESSED)
        (raw,) = self._deliver_messages(adapter, 1)
        (new_ref,) = self._refs(adapter)
        assert new_ref != ref, "a new message must not reuse the ref of an acknowledged one"
        self._assert_same_message(adapter.read(new_ref), raw)

    # ------------------------------------------------------------ lifecycle

    def test_wait_returns_within_its_timeout(self, adapter: MailSource) -> None:
        """``wait()`` gives control back after its timeout even when nothing arrives."""
        started = time.monotonic()
        woken = adapter.wait(0.05)
        assert isinstance(woken, bool)
        assert time.monotonic() - started < 5

    def test_close_twice_is_safe(self, adapter: MailSource) -> None:
        """``close()`` may be called more than once."""
        adapter.close()
        adapter.close()


class MailSenderContract:
    """What every :class:`~pixbridge.adapters.MailSender` must do.

    Supply an ``adapter`` fixture (an opened sender) and implement :meth:`sent_messages`.
    """

    dedupes_by_message_id: ClassVar[bool] = True
    """Sending one Message-ID twice leaves one copy; False where the transport cannot (SMTP)."""
    preserves_bytes: ClassVar[bool] = True
    """What arrives is the sent bytes exactly; False where a server adds or rewrites headers."""

    def sent_messages(self, adapter: MailSender) -> list[bytes]:
        """Every message the backend delivered so far, read back by the backend's own means."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement sent_messages(adapter) for its backend"
        )

    # ------------------------------------------------------------ helpers

    @staticmethod
    def outgoing(
        message_id: str | None = None,
        *,
        recipients: Sequence[str] = ("customer@example.com",),
        raw: bytes | None = None,
    ) -> OutgoingMail:
        """An outgoing message from the support address, by default to one customer."""
        message_id = message_id or f"<{uuid.uuid4().hex}@pixbridge.example.com>"
        if raw is None:
            raw = sample_message(
                message_id,
                subject="[SUP-1] We received your request",
                sender="support@example.com",
                to=", ".join(recipients) or "undisclosed-recipients:;",
            )
        return OutgoingMail(
            message_id=message_id,
            sender="support@example.com",
            recipients=tuple(recipients),
            raw=raw,
        )

    def _delivered(self, adapter: MailSender) -> list[bytes]:
        # A sender that batches durability may deliver only at flush, as delivery calls it.
        if type(adapter).batches_durability:
            adapter.flush()
        return self.sent_messages(adapter)

    def _copies_of(self, adapter: MailSender, message_id: str) -> list[bytes]:
        wanted = "".join(message_id.split())
        return [raw for raw in self._delivered(adapter) if message_id_of(raw) == wanted]

    def _assert_refused(self, adapter: MailSender, mail: OutgoingMail) -> None:
        before = len(self._delivered(adapter))
        with pytest.raises(PermanentAdapterError):
            adapter.send(mail)
        assert len(self._delivered(adapter)) == before, "a refused message was delivered"

    # ------------------------------------------------------------ identity and settings

    def test_name_and_kind(self, adapter: MailSender) -> None:
        """The adapter has a name, is a mail sender and passes the registry's checks."""
        _assert_identity(adapter, AdapterKind.MAIL_SENDER, MailSender)

    def test_settings_reject_unknown_keys(self, adapter: MailSender) -> None:
        """A misspelt settings key is an error, not silently ignored."""
        _assert_settings_reject_unknown_keys(adapter)

    # ------------------------------------------------------------ delivery

    def test_sent_message_arrives_with_its_message_id(self, adapter: MailSender) -> None:
        """What is sent arrives, byte for byte where the backend allows."""
        mail = self.outgoing()
        adapter.send(mail)
        copies = self._copies_of(adapter, mail.message_id)
        assert len(copies) == 1, f"expected one copy of {mail.message_id}, got {len(copies)}"
        if self.preserves_bytes:
            assert copies[0] == mail.raw, "the delivered bytes differ from the sent ones"
        else:
            assert _body_of(copies[0]) == _body_of(mail.raw), "the body was changed"

    def test_two_messages_arrive_as_two(self, adapter: MailSender) -> None:
        """Different Message-IDs are different messages, even with the same text."""
        first, second = self.outgoing(), self.outgoing()
        adapter.send(first)
        adapter.send(second)
        assert len(self._copies_of(adapter, first.message_id)) == 1
        assert len(self._copies_of(adapter, second.message_id)) == 1

    def test_resending_a_message_id_leaves_one_copy(self, adapter: MailSender) -> None:
        """A resend after a crash does not duplicate the message (where it can be avoided)."""
        mail = self.outgoing()
        adapter.send(mail)
        adapter.flush()  # delivered (a batching sender's batch ended), then sent again
        adapter.send(mail)
        copies = self._copies_of(adapter, mail.message_id)
        if self.dedupes_by_message_id:
            assert len(copies) == 1, f"resending left {len(copies)} copies"
        else:
            assert len(copies) >= 1

    def test_a_sender_that_batches_durability_dedupes(self, adapter: MailSender) -> None:
        """Delivery records a batching sender's batch only after :meth:`~MailSender.flush`, so
        a crash sends the batch again: declaring ``batches_durability`` needs deduplication."""
        if type(adapter).batches_durability:
            assert self.dedupes_by_message_id, (
                f"{type(adapter).__name__} declares batches_durability but its contract says it "
                "cannot deduplicate a resend (dedupes_by_message_id = False)"
            )

    def test_flush_keeps_what_was_sent(self, adapter: MailSender) -> None:
        """``flush()`` after sends leaves every mail there once; with nothing sent it is
        harmless."""
        adapter.flush()
        first, second = self.outgoing(), self.outgoing()
        adapter.send(first)
        adapter.send(second)
        adapter.flush()
        adapter.flush()
        for mail in (first, second):
            assert len(self._copies_of(adapter, mail.message_id)) == 1

    def test_several_recipients_are_accepted(self, adapter: MailSender) -> None:
        """A message to several recipients is delivered."""
        mail = self.outgoing(recipients=("customer@example.com", "colleague@example.org"))
        adapter.send(mail)
        assert self._copies_of(adapter, mail.message_id)

    # ------------------------------------------------------------ refusals

    def test_no_recipients_is_refused(self, adapter: MailSender) -> None:
        """A message without recipients is refused with PermanentAdapterError."""
        self._assert_refused(adapter, self.outgoing(recipients=()))

    @pytest.mark.parametrize(
        "recipient",
        [
            "",
            "customer",
            "customer@",
            "@example.com",
            "Customer <customer@example.com>",
            "cus tomer@example.com",
            "customer@exa mple.com",
            "customer@@example.com",
            "customer@example.com, other@example.com",
            "customer@example.com\r\nBcc: victim@example.net",
        ],
    )
    def test_malformed_recipient_is_refused(self, adapter: MailSender, recipient: str) -> None:
        """A recipient that is not a bare address is refused, and nothing is sent."""
        mail = self.outgoing(recipients=("customer@example.com",))
        bad = OutgoingMail(mail.message_id, mail.sender, ("ok@example.com", recipient), mail.raw)
        self._assert_refused(adapter, bad)

    def test_message_id_must_match_the_header(self, adapter: MailSender) -> None:
        """``message_id`` and the Message-ID header must agree: resends are keyed on it."""
        mail = self.outgoing(raw=sample_message("<other@pixbridge.example.com>"))
        self._assert_refused(adapter, mail)

    def test_message_without_message_id_is_refused(self, adapter: MailSender) -> None:
        """A message without a Message-ID header is refused."""
        raw = sample_message().replace(b"Message-ID:", b"X-Not-Message-ID:")
        self._assert_refused(adapter, self.outgoing(raw=raw))
