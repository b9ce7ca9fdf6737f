"""The ``imap`` mail source: customer mail in an IMAP folder, moved out once pixbridge has it.

- A message's ref is ``"<UIDVALIDITY>:<UID>"`` (RFC 9051 §2.3.1.1: a UID means something only
  with its UIDVALIDITY). A ref from an older UIDVALIDITY is refused by :meth:`ImapSource.read`.
- Reading uses ``BODY.PEEK[]``: the message is not marked ``\\Seen``, the mailbox is unchanged.
- Acknowledging moves the one message with ``UID MOVE`` (RFC 6851), or where the server lacks
  MOVE with ``UID COPY`` + ``UID STORE +FLAGS (\\Deleted)`` + ``UID EXPUNGE`` (RFC 4315). A plain
  ``EXPUNGE``, which would remove every message anyone flagged deleted, is never sent.
- A quarantined message is followed in the quarantine folder by a short text note (its own
  message, ``X-Pixbridge-Quarantine-Of: <ref>``) saying why; the original is moved untouched.
- :meth:`ImapSource.wait` uses IDLE (RFC 2177) when offered, otherwise it polls.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import re
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from functools import partial
from typing import Any, ClassVar, TypeVar

from pixbridge.adapters import AdapterContext, MailSource
from pixbridge.errors import AdapterError, PermanentAdapterError, TransientAdapterError
from pixbridge.models import InboundRef, MailOutcome
from pixbridge_imap.connection import CONNECTION_ERRORS, close, connect, translate
from pixbridge_imap.settings import ImapSettings

__all__ = ["NOTE_HEADER", "ImapSource", "parse_ref"]

T = TypeVar("T")

NOTE_HEADER = "X-Pixbridge-Quarantine-Of"
"""Header of a quarantine note naming the ref of the message it explains."""

_REF = re.compile(r"([1-9][0-9]{0,9}):([1-9][0-9]{0,9})")
_CHUNK = 500


def parse_ref(ref: str) -> tuple[int, int]:
    """``(uidvalidity, uid)`` of *ref*; :class:`PermanentAdapterError` if it is not a ref."""
    match = _REF.fullmatch(ref)
    if match is None:
        raise PermanentAdapterError(
            f"{ref!r} is not a message ref of the imap mailbox (expected UIDVALIDITY:UID)"
        )
    return int(match.group(1)), int(match.group(2))


def _chunks(items: Sequence[int], size: int = _CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _one_line(text: str, limit: int = 200) -> str:
    """*text* on one line (no CR/LF can reach a header), shortened to *limit* characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class ImapSource(MailSource):
    """Customer mail in an IMAP folder; handled mail moves to a processed or quarantine folder."""

    name: ClassVar[str] = "imap"
    Settings: ClassVar[type[ImapSettings]] = ImapSettings
    secret_fields: ClassVar[tuple[str, ...]] = ("password", "oauth2_token")

    def __init__(self, settings: ImapSettings, context: AdapterContext) -> None:
        super().__init__(settings, context)
        self.settings: ImapSettings = settings
        self._client: Any = None
        self._uidvalidity: int | None = None
        self._newest_uid = 0
        """The highest UID :meth:`pending` listed: :meth:`wait` wakes for anything newer."""

    # ------------------------------------------------------------ connection

    def open(self) -> None:
        """Connect, log in, create missing folders and select the inbox."""
        self._session()

    def close(self) -> None:
        """Log out. Safe to call more than once."""
        client, self._client = self._client, None
        if client is not None:
            close(client)

    def _drop(self) -> None:
        """Forget a connection that failed; the next call opens a new one."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.socket().close()

    def _session(self) -> Any:
        """The logged-in connection with the inbox selected, (re)connecting if needed."""
        if self._client is None:
            client = connect(self.settings)
            try:
                translate(self.settings, "preparing the folders", lambda: self._prepare(client))
            except BaseException:
                self._client = client
                self._drop()
                raise
            self._client = client
        return self._client

    def _run(self, doing: str, call: Callable[[Any], T]) -> T:
        """Run *call* on the session; a lost connection is dropped and reported as transient."""
        client = self._session()
        try:
            return translate(self.settings, doing, lambda: call(client))
        except TransientAdapterError:
            self._drop()
            raise

    def _prepare(self, client: Any) -> None:
        settings = self.settings
        for label, folder in (
            ("processed", settings.processed),
            ("quarantine", settings.quarantine),
        ):
            if client.folder_exists(folder):
                continue
            if not settings.create_folders:
                raise PermanentAdapterError(
                    f"the {label} folder {folder!r} does not exist on {settings.host}; create it "
                    "or set [adapters.imap] create_folders = true"
                )
            try:
                client.create_folder(folder)
            except CONNECTION_ERRORS:
                raise
            except Exception as exc:  # a NO answer: no permission, bad name, quota
                if client.folder_exists(folder):
                    continue  # created meanwhile by another client
                raise PermanentAdapterError(
                    f"cannot create the {label} folder {folder!r} on {settings.host}: {exc}; "
                    f"create it yourself or set [adapters.imap] {label} to an existing folder"
                ) from exc
        self._select(client)

    def _select(self, client: Any) -> None:
        inbox = self.settings.inbox
        if not client.folder_exists(inbox):
            raise PermanentAdapterError(
                f"the inbox folder {inbox!r} does not exist on {self.settings.host}; "
                "check [adapters.imap] inbox"
            )
        info = client.select_folder(inbox)
        validity = int(info[b"UIDVALIDITY"])
        if self._uidvalidity is not None and validity != self._uidvalidity:
            self.context.logger.warning(
                "imap: UIDVALIDITY of %s changed from %s to %s; every message there gets a new "
                "ref and is accepted again (duplicates are caught by Message-ID)",
                inbox,
                self._uidvalidity,
                validity,
            )
            self._newest_uid = 0
        self._uidvalidity = validity

    @property
    def _move_capable(self) -> bool:
        return self.settings.move == "auto" and bool(self._client.has_capability("MOVE"))

    # ------------------------------------------------------------ doctor

    def check(self) -> list[str]:
        """Connect and log in on a connection of its own; report missing folders."""
        prefix = "[adapters.imap]"
        try:
            client = connect(self.settings)
        except AdapterError as exc:
            return [f"{prefix} {exc}"]
        problems: list[str] = []
        try:
            for label, folder in (
                ("inbox", self.settings.inbox),
                ("processed", self.settings.processed),
                ("quarantine", self.settings.quarantine),
            ):
                exists = translate(
                    self.settings,
                    f"looking for {folder!r}",
                    partial(client.folder_exists, folder),
                )
                if not exists:
                    hint = (
                        "pixbridge creates it at start-up"
                        if label != "inbox" and self.settings.create_folders
                        else "create it or change the setting"
                    )
                    problems.append(f"{prefix} {label}: folder {folder!r} does not exist ({hint})")
        except AdapterError as exc:
            problems.append(f"{prefix} {exc}")
        finally:
            close(client)
        return problems

    # ------------------------------------------------------------ the contract

    def pending(self) -> list[InboundRef]:
        """Messages in the inbox not flagged ``\\Deleted``, in UID (arrival) order, with sizes."""

        def listing(client: Any) -> list[InboundRef]:
            # A SEARCH covers only messages the server has announced to this session; NOOP
            # makes it announce what arrived since the last command.
            client.noop()
            uids = sorted(int(u) for u in client.search(["UNDELETED"]))
            sizes: dict[int, int | None] = {}
            for chunk in _chunks(uids):
                for uid, item in client.fetch(list(chunk), ["RFC822.SIZE"]).items():
                    size = item.get(b"RFC822.SIZE")
                    sizes[int(uid)] = int(size) if size is not None else None
            if uids:
                self._newest_uid = max(self._newest_uid, uids[-1])
            validity = self._uidvalidity
            # A message expunged by someone else between SEARCH and FETCH is simply gone.
            return [InboundRef(f"{validity}:{uid}", sizes[uid]) for uid in uids if uid in sizes]

        return self._run(f"listing {self.settings.inbox!r}", listing)

    def read(self, ref: str) -> bytes:
        """The raw bytes of message *ref* (``BODY.PEEK[]``: the message stays unseen).

        :raises PermanentAdapterError: *ref* is malformed, from another UIDVALIDITY, or gone.
        """
        validity, uid = parse_ref(ref)

        def fetch(client: Any) -> bytes:
            self._check_validity(validity, ref)
            item = client.fetch([uid], ["BODY.PEEK[]"]).get(uid)
            body = None if item is None else item.get(b"BODY[]")
            if body is None:
                raise PermanentAdapterError(
                    f"message {ref} is no longer in {self.settings.inbox!r} on {self.settings.host}"
                )
            return bytes(body)

        return self._run(f"fetching message {ref}", fetch)

    def _check_validity(self, validity: int, ref: str) -> None:
        if validity != self._uidvalidity:
            raise PermanentAdapterError(
                f"message ref {ref} belongs to UIDVALIDITY {validity}, but {self.settings.inbox!r} "
                f"now has UIDVALIDITY {self._uidvalidity}: the server renumbered the folder, so the "
                "UID may name another message. Its messages are listed again under new refs"
            )

    def acknowledge(self, ref: str, outcome: MailOutcome, reason: str = "") -> None:
        """Move message *ref* to the processed or quarantine folder; nothing if it is gone.

        A ref from an older UIDVALIDITY is logged and skipped: the message (if still there) has
        a new ref, is accepted again, recognised as a duplicate and moved under that ref.
        """
        validity, uid = parse_ref(ref)
        target = (
            self.settings.processed
            if outcome is MailOutcome.PROCESSED
            else self.settings.quarantine
        )

        def move(client: Any) -> None:
            from imapclient import DELETED  # not at module top: pixbridge's start-up time

            log = self.context.logger
            if validity != self._uidvalidity:
                log.warning("imap: %s is from an older UIDVALIDITY; not moved", ref)
                return
            flags = client.get_flags([uid]).get(uid)
            if flags is None:
                log.debug("imap: %s is no longer in the inbox (already acknowledged)", ref)
                return
            if DELETED in flags:
                # An earlier COPY + STORE was cut short before its UID EXPUNGE: finish it.
                self._expunge(client, uid)
                return
            if outcome is MailOutcome.QUARANTINED:
                self._write_note(client, ref, uid, reason)
            if self._move_capable:
                client.move([uid], target)
            else:
                client.copy([uid], target)
                client.add_flags([uid], [DELETED], silent=True)
                self._expunge(client, uid)
            log.debug("imap: %s moved to %s", ref, target)

        self._run(f"moving message {ref} to {target!r}", move)

    def _expunge(self, client: Any, uid: int) -> None:
        if client.has_capability("UIDPLUS"):
            client.uid_expunge([uid])
        else:
            # Without UIDPLUS only a plain EXPUNGE could remove it, and that would also remove
            # whatever else anyone flagged \Deleted: leave it flagged (pending() skips it).
            self.context.logger.info(
                "imap: %s has no UIDPLUS; UID %s stays flagged \\Deleted in %s",
                self.settings.host,
                uid,
                self.settings.inbox,
            )

    # ------------------------------------------------------------ quarantine notes

    def _write_note(self, client: Any, ref: str, uid: int, reason: str) -> None:
        """APPEND a note saying why *ref* was quarantined, unless one is already there."""
        quarantine = self.settings.quarantine
        client.select_folder(quarantine, readonly=True)
        try:
            existing = client.search(["HEADER", NOTE_HEADER, ref])
        finally:
            self._select(client)
        if existing:
            return  # written by an attempt that was cut short before the move
        item = client.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid) or {}
        headers = BytesHeaderParser(policy=policy.default).parsebytes(
            bytes(item.get(b"BODY[HEADER]", b""))
        )
        client.append(quarantine, self.note_for(ref, reason, headers))

    def note_for(self, ref: str, reason: str, original: Any) -> bytes:
        """The quarantine note for *ref*: a small text message threaded to the original."""
        note = EmailMessage(policy=policy.SMTP)
        subject = _one_line(str(original.get("Subject", "") or "(no subject)"))
        message_id = _one_line(str(original.get("Message-ID", "") or ""), 998)
        digest = hashlib.sha256(f"{self.settings.host}|{ref}".encode()).hexdigest()[:24]
        note["From"] = "pixbridge <pixbridge@pixbridge.invalid>"
        note["Subject"] = f"Quarantined by pixbridge: {subject}"
        note["Date"] = email.utils.format_datetime(self.context.clock.now())
        note["Message-ID"] = f"<quarantine.{digest}@pixbridge.invalid>"
        if message_id.startswith("<") and message_id.endswith(">") and " " not in message_id:
            note["In-Reply-To"] = message_id
            note["References"] = message_id
        note[NOTE_HEADER] = ref
        note["Auto-Submitted"] = "auto-generated"
        note.set_content(
            f"pixbridge moved the message {message_id or '(without Message-ID)'}\n"
            f"(ref {ref} in {self.settings.inbox}) to this folder because:\n\n"
            f"{reason or '(no reason given)'}\n",
            cte="8bit" if not reason.isascii() else "7bit",
        )
        return note.as_bytes()

    # ------------------------------------------------------------ waiting

    def wait(self, timeout: float) -> bool:
        """Block until new mail arrives (True) or *timeout* seconds pass (False).

        With IDLE the server wakes us with ``EXISTS``; otherwise the inbox is looked at every
        ``poll_interval`` seconds. Mail that arrived since the last :meth:`pending` returns True
        at once.

        IDLE is entered in rounds with a look at the inbox between them, the first round one
        second long and each next one twice as long, up to ``idle_renew``: a message delivered
        while the server was setting up IDLE may not be announced (seen with Dovecot 2.3 when
        the APPEND and the IDLE overlap), and the look after the first round catches it.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        use_idle = self.settings.idle and self._run("reading capabilities", self._can_idle)
        round_length = 1.0
        while True:
            if self._run("looking for new mail", self._arrived):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if not use_idle:
                time.sleep(min(self.settings.poll_interval, remaining))
                continue
            period = min(remaining, round_length)
            if self._run("waiting in IDLE", partial(self._idle, period=period)):
                return True
            round_length = min(round_length * 2, self.settings.idle_renew)

    @staticmethod
    def _can_idle(client: Any) -> bool:
        return bool(client.has_capability("IDLE"))

    def _arrived(self, client: Any) -> bool:
        """Whether the inbox holds a message newer than the last listing."""
        # imaplib keeps unsolicited EXISTS answers in a dict; one that comes in with the
        # commands below announces a message the SEARCH may have missed.
        untagged = client._imap.untagged_responses
        untagged.pop("EXISTS", None)
        client.noop()
        newest = self._newest_uid
        found = client.search(["UID", f"{newest + 1}:*", "UNDELETED"])
        if any(int(uid) > newest for uid in found):
            return True
        return bool(untagged.pop("EXISTS", None))

    @staticmethod
    def _idle(client: Any, *, period: float) -> bool:
        """One IDLE round of *period* seconds; True if the server announced new mail."""
        client.idle()
        end = time.monotonic() + period
        try:
            while True:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                responses = client.idle_check(timeout=remaining)
                if any(len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                    return True
                if any(r and r[0] == b"BYE" for r in responses):
                    raise ConnectionResetError("the server said BYE during IDLE")
                if not responses and end - time.monotonic() > 0.05:
                    _raise_if_closed(client)  # woken early with nothing to read: EOF
        finally:
            client.idle_done()


def _raise_if_closed(client: Any) -> None:
    """idle_check() returns nothing both on a timeout and on EOF: tell the two apart."""
    sock = client.socket()
    try:
        data = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return
    if not data:
        raise ConnectionResetError("the IMAP server closed the connection during IDLE")
