"""The embedded default mailbox: Maildirs under the data directory, needing no mail server.

Two adapters, registered by this built-in plugin like any external one:

- ``maildir`` (:class:`MaildirSource`) reads customer mail that anything (an MTA's local
  delivery, ``fetchmail``, a script, ``cp``) delivers into the Maildir ``<data_dir>/mail/inbox``,
  and on acknowledgement moves each message into ``mail/processed`` or ``mail/quarantine``. It
  never deletes a message.
- ``maildir-outbox`` (:class:`MaildirSender`) "sends" mail by writing each message into the
  Maildir ``<data_dir>/mail/sent``, where a person, a script or a test can pick it up.

Durability follows the Maildir rules (write in ``tmp/``, fsync, rename into ``new/``) and
``notes/reliability-security.md`` §1: every rename is followed by an fsync of the directories
involved, so a crash leaves each message in exactly one place.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import suppress
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from pixbridge.adapters import AdapterContext, AdapterSettings, MailSender, MailSource
from pixbridge.errors import PermanentAdapterError, TransientAdapterError
from pixbridge.markers import hookimpl
from pixbridge.models import InboundRef, MailOutcome, OutgoingMail
from pixbridge.registry import AdapterRegistry

__all__ = ["MaildirSender", "MaildirSource", "is_addr_spec", "register_adapters"]

_SUBDIRS = ("tmp", "new", "cur")
_WAITING = ("new", "cur")
_SYNC_EVERY = 100
"""Acknowledgements between two fsyncs of the Maildir directories they changed."""
_SYNC_THREADS = 4
"""Threads syncing a batch of sent files at once."""
_STALE_TMP_SECONDS = 3600
_OUR_TMP = re.compile(r"[0-9a-f]{64}\.\d+\.[0-9a-f]{8}")
"""The sender's files in ``tmp/``: unique name, process id, random part."""
_INFO_SEP = ":"
"""Separates a Maildir unique name from its info (``:2,FLAGS``), as in :mod:`mailbox`."""
_EMPTY_INFO = ":2,"


# ---------------------------------------------------------------- file-system helpers


def _resolve(data_dir: Path, path: Path) -> Path:
    """*path* from the settings, relative paths taken against the data directory."""
    path = path.expanduser()
    return path if path.is_absolute() else data_dir / path


def _fsync_dir(path: str | Path) -> None:
    """Make the entries of directory *path* (creations, renames) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(path: Path) -> None:
    """Create *path* and any missing parents, fsyncing each parent so the new entry survives."""
    missing: list[Path] = []
    probe = path
    while not probe.is_dir():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            if not directory.is_dir():
                raise
            continue
        _fsync_dir(directory.parent)


def _ensure_maildir(root: Path) -> None:
    """Create the Maildir ``root`` with its ``tmp``, ``new`` and ``cur`` if any is missing."""
    for sub in _SUBDIRS:
        _make_dirs(root / sub)


def _write_durably(directory: Path, name: str, data: bytes) -> Path:
    """Write *data* to ``directory/name`` atomically: a temporary file, fsync, rename, fsync.

    The temporary file is a dot-file in the same directory (rename cannot cross file systems);
    readers ignore dot-files. It is removed again if anything fails before the rename.
    """
    tmp = directory / f".{secrets.token_hex(8)}.tmp"  # short: *name* may be near NAME_MAX
    final = directory / name
    _write_file(tmp, data)
    try:
        os.rename(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(directory)
    return final


def _write_file(path: Path, data: bytes) -> None:
    """Create *path* (which must not exist), write *data* and fsync it; no partial file stays."""
    fd = _create_file(path, data)
    try:
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


def _link_new(tmp: Path, final: Path) -> bool:
    """Give the synced file *tmp* its name *final* in ``new/``; False if *final* existed.

    A link, not a rename, as Maildir delivery does: a rename would silently replace a copy
    another instance put there meanwhile, which a reader may already have seen. Where the file
    system has no hard links, a rename.
    """
    try:
        os.link(tmp, final)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        os.rename(tmp, final)
    return True


def _create_file(path: Path, data: bytes) -> int:
    """Create *path* (which must not exist) and write *data*, not synced; its open descriptor.

    If the write fails the file is removed again.
    """
    # 0o600: mail is personal data; this is what MTAs' local delivery does too.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    return fd


def _io_error(exc: OSError, doing: str) -> TransientAdapterError:
    """An adapter error for a failed file operation.

    File-system failures (disk full, permissions, a file system mounted read-only, the data
    directory split across file systems) are about the deployment, not about the message: once
    an operator fixes them the same call succeeds, so they are transient, never a reason to
    give up on a message.
    """
    detail = exc.strerror or str(exc)
    where = f" ({exc.filename})" if exc.filename else ""
    hint = ""
    if exc.errno == errno.EXDEV:
        hint = (
            "; the inbox and the processed/quarantine Maildirs must be on one file system "
            "(messages are moved with rename())"
        )
    return TransientAdapterError(f"{doing}: {detail}{where}{hint}")


# ---------------------------------------------------------------- addresses and messages

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010FFFF]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_QUOTED_LOCAL = r'"(?:[^"\\]|\\.)*"'
_LABEL_CHAR = r"A-Za-z0-9\u0080-\U0010FFFF"
_LABEL = rf"[{_LABEL_CHAR}](?:[{_LABEL_CHAR}-]{{0,61}}[{_LABEL_CHAR}])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"
_DOMAIN_LITERAL = r"\[[^\[\]\\\s]+\]"
_ADDR_SPEC = re.compile(rf"(?P<local>{_DOT_ATOM}|{_QUOTED_LOCAL})@(?:{_DOMAIN}|{_DOMAIN_LITERAL})")


def is_addr_spec(address: str) -> bool:
    """True when *address* is a plausible bare address (RFC 5321/5322 addr-spec, RFC 6531 UTF-8).

    ``user@example.com`` passes; a display name (``Ann <ann@example.com>``), a missing local
    part or domain, white space outside a quoted local part, control characters and line
    breaks (header injection) do not. Single-label domains (``root@localhost``) are accepted,
    as an MTA accepts them.
    """
    if not address or len(address.encode("utf-8", "surrogatepass")) > 254:
        return False
    for char in address:
        if char != " " and (char.isspace() or unicodedata.category(char).startswith("C")):
            return False
    match = _ADDR_SPEC.fullmatch(address)
    if match is None:
        return False
    local = match.group("local")
    domain = address[match.end("local") + 1 :]
    return len(local.encode("utf-8", "surrogatepass")) <= 64 and len(domain) <= 253


def _normalise_message_id(value: str) -> str:
    """A Message-ID without folding white space and without its angle brackets."""
    compact = "".join(value.split())
    if compact.startswith("<") and compact.endswith(">"):
        compact = compact[1:-1]
    return compact


def _validate_outgoing(mail: OutgoingMail) -> str:
    """Check *mail* as a mail server would before accepting it; return its normalised Message-ID.

    :raises PermanentAdapterError: saying what is wrong with the message.
    """
    if not mail.recipients:
        raise PermanentAdapterError(
            f"outgoing message {mail.message_id!r} has no recipients; nothing can be delivered"
        )
    for recipient in mail.recipients:
        if not is_addr_spec(recipient):
            raise PermanentAdapterError(
                f"outgoing message {mail.message_id!r}: recipient {recipient!r} is not an e-mail "
                "address (expected a bare addr-spec such as customer@example.com)"
            )
    if "\r" in mail.sender or "\n" in mail.sender:
        raise PermanentAdapterError(
            f"outgoing message {mail.message_id!r}: sender {mail.sender!r} contains a line break"
        )
    wanted = _normalise_message_id(mail.message_id)
    if not wanted:
        raise PermanentAdapterError("outgoing message has an empty message_id")
    if not isinstance(mail.raw, bytes) or not mail.raw.strip():
        raise PermanentAdapterError(f"outgoing message {mail.message_id!r} has no content (raw)")
    # Only the header section is parsed: the parser would otherwise split the whole body into
    # lines just to skip it, which was a tenth of sending's cost.
    blank = [at for at in (mail.raw.find(b"\r\n\r\n"), mail.raw.find(b"\n\n")) if at >= 0]
    head = mail.raw[: min(blank)] if blank else mail.raw
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(head)
    if not headers.keys():
        raise PermanentAdapterError(
            f"outgoing message {mail.message_id!r}: raw does not start with a header section, "
            "so it is not an RFC 5322 message"
        )
    found = [str(value) for value in headers.get_all("Message-ID", [])]
    if len(found) != 1:
        raise PermanentAdapterError(
            f"outgoing message {mail.message_id!r}: raw has {len(found)} Message-ID headers; "
            "it needs exactly one, equal to message_id"
        )
    if _normalise_message_id(found[0]) != wanted:
        raise PermanentAdapterError(
            f"outgoing message {mail.message_id!r}: its Message-ID header is {found[0].strip()!r}; "
            "the header and message_id must be the same (the ID makes resending idempotent)"
        )
    return wanted


# ---------------------------------------------------------------- the mailbox


def _ref_of(filename: str) -> str:
    """The Maildir unique name of *filename*: what stays the same when a reader adds flags."""
    return filename.partition(_INFO_SEP)[0]


class MaildirSource(MailSource):
    """Customer mail delivered into a Maildir; acknowledged mail moves to two other Maildirs.

    A message's ref is its Maildir unique name (the file name without ``:2,FLAGS``), so it stays
    the same when a mail reader marks the message seen or moves it from ``new/`` to ``cur/``.
    """

    name: ClassVar[str] = "maildir"

    class Settings(AdapterSettings):
        """Where the three Maildirs are; relative paths are taken against the data directory."""

        inbox: Path = Path("mail/inbox")
        """Where new mail is delivered (``new/`` or ``cur/``)."""
        processed: Path = Path("mail/processed")
        """Where handled messages are moved. Must be on the inbox's file system."""
        quarantine: Path = Path("mail/quarantine")
        """Where rejected messages are moved, with the reason in ``reasons/<ref>.txt``."""
        poll_interval: float = Field(default=0.5, gt=0, le=60)
        """Seconds between looks at the inbox while :meth:`MaildirSource.wait` waits."""

    def __init__(self, settings: MaildirSource.Settings, context: AdapterContext) -> None:
        super().__init__(settings, context)
        self.inbox = _resolve(context.data_dir, settings.inbox)
        self.processed = _resolve(context.data_dir, settings.processed)
        self.quarantine = _resolve(context.data_dir, settings.quarantine)
        self.poll_interval = settings.poll_interval
        self._where: dict[str, str] = {}
        """Where :meth:`pending` last saw each ref, so reading and acknowledging need no scan."""
        self._unsynced: set[str] = set()
        """Directories changed by acknowledgements and not yet fsynced."""
        self._moves_since_sync = 0
        self._stats: dict[str, tuple[int, int, int]] = {}
        """(inode, mtime, size) per file path seen by :meth:`pending`.

        Maildir files are written once and never changed in place, so while a path keeps its
        inode its time and size are known: listing a big inbox again needs no stat() calls.
        """

    @property
    def reasons_dir(self) -> Path:
        """The folder holding one ``<ref>.txt`` per quarantined message, with the reason."""
        return self.quarantine / "reasons"

    def open(self) -> None:
        """Create the inbox, processed and quarantine Maildirs where they are missing."""
        try:
            for root in (self.inbox, self.processed, self.quarantine):
                _ensure_maildir(root)
            _make_dirs(self.reasons_dir)
        except OSError as exc:
            raise _io_error(exc, "cannot create the Maildirs of the maildir mailbox") from exc

    def close(self) -> None:
        """Make the moves so far durable and forget cached file locations."""
        self._sync_moves()
        self._where.clear()

    def _sync_moves(self) -> None:
        """fsync the directories that acknowledgements renamed files in or out of."""
        try:
            while self._unsynced:
                _fsync_dir(self._unsynced.pop())
        except OSError as exc:
            raise _io_error(exc, "cannot make the moves of acknowledged messages durable") from exc
        self._moves_since_sync = 0

    def check(self) -> list[str]:
        """Missing or unwritable Maildirs, and Maildirs that a rename cannot reach."""
        problems: list[str] = []
        for label, root in (
            ("inbox", self.inbox),
            ("processed", self.processed),
            ("quarantine", self.quarantine),
        ):
            for sub in _SUBDIRS:
                directory = root / sub
                if not directory.is_dir():
                    problems.append(
                        f"[adapters.maildir] {label}: {directory} does not exist "
                        "(it is created when pixbridge starts)"
                    )
                elif not os.access(directory, os.W_OK | os.X_OK):
                    problems.append(f"[adapters.maildir] {label}: {directory} is not writable")
        inbox_dev = _device_of(self.inbox)
        for label, root in (("processed", self.processed), ("quarantine", self.quarantine)):
            if inbox_dev is not None and _device_of(root) not in (None, inbox_dev):
                problems.append(
                    f"[adapters.maildir] {label}: {root} is on another file system than the "
                    f"inbox {self.inbox}; messages are moved with rename(), so put them on one"
                )
        return problems

    def pending(self) -> list[InboundRef]:
        """The messages in ``new/`` and ``cur/``, oldest first (modification time, then name).

        ``tmp/`` (deliveries still being written) and dot-files are ignored. Nothing is changed.
        """
        self._sync_moves()
        found: dict[str, tuple[int, str, str, int]] = {}
        known = self._stats
        seen: dict[str, tuple[int, int, int]] = {}
        for sub in _WAITING:
            directory = self.inbox / sub
            try:
                entries = os.scandir(directory)
            except FileNotFoundError as exc:
                raise TransientAdapterError(
                    f"the Maildir folder {directory} is missing; is the data directory "
                    "mounted? (pixbridge creates it at start-up)"
                ) from exc
            except OSError as exc:
                raise _io_error(exc, "cannot list the maildir inbox") from exc
            with entries:
                for entry in entries:
                    name = entry.name
                    if name.startswith("."):
                        continue
                    path = entry.path
                    try:
                        if not entry.is_file(follow_symlinks=False):
                            continue
                        facts = known.get(path)
                        if facts is None or facts[0] != entry.inode():
                            stat = entry.stat(follow_symlinks=False)
                            facts = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
                    except FileNotFoundError:
                        continue  # moved away (acknowledged, or a reader flagged it) meanwhile
                    seen[path] = facts
                    ref = _ref_of(name)
                    if ref in found:
                        continue  # a reader mid-move from new/ to cur/: one message, one ref
                    found[ref] = (facts[1], name, path, facts[2])
        self._stats = seen
        ordered = sorted(found.items(), key=lambda item: (item[1][0], item[1][1]))
        self._where = {ref: info[2] for ref, info in ordered}
        return [InboundRef(ref, info[3]) for ref, info in ordered]

    def read(self, ref: str) -> bytes:
        """The message's bytes exactly as delivered."""
        self._check_ref(ref)
        for fresh in (False, True):
            path = self._locate(ref, fresh=fresh)
            if path is None:
                break
            try:
                with open(path, "rb") as handle:
                    return handle.read()
            except FileNotFoundError:
                continue  # a mail reader moved it between finding and opening: look again
            except OSError as exc:
                raise _io_error(exc, f"cannot read message {ref!r}") from exc
        raise PermanentAdapterError(f"message {ref!r} is no longer in the Maildir {self.inbox}")

    def acknowledge(self, ref: str, outcome: MailOutcome, reason: str = "") -> None:
        """Move the message into ``processed/cur/`` or ``quarantine/cur/`` with one rename.

        For quarantine the reason is written first, to ``quarantine/reasons/<ref>.txt``, so a
        quarantined message never lacks its reason even after a crash. A ref that is no longer
        in the inbox (already moved, or never there) is not an error.
        """
        self._check_ref(ref)
        target = self.processed if outcome is MailOutcome.PROCESSED else self.quarantine
        log = self.context.logger
        for fresh in (False, True):
            source = self._locate(ref, fresh=fresh)
            if source is None:
                log.debug("maildir: %s is not in the inbox (already acknowledged)", ref)
                return
            try:
                if outcome is MailOutcome.QUARANTINED:
                    _write_durably(self.reasons_dir, f"{ref}.txt", reason.encode("utf-8"))
                destination = self._destination(target, os.path.basename(source))
                os.rename(source, destination)
            except OSError as exc:
                if isinstance(exc, FileNotFoundError) and not os.path.lexists(source):
                    continue  # moved meanwhile (a reader flagged it): find it again
                raise _io_error(exc, f"cannot move message {ref!r} to {target}") from exc
            self._where.pop(ref, None)
            # The directories are synced in batches (see _sync_moves): the state store records
            # the acknowledgement, so a move lost to a power cut only leaves an already-handled
            # message in the inbox, where its ref is known and it is never processed again.
            self._unsynced.update((os.path.dirname(destination), os.path.dirname(source)))
            self._moves_since_sync += 1
            if self._moves_since_sync >= _SYNC_EVERY:
                self._sync_moves()
            log.debug("maildir: %s moved to %s", ref, destination)
            return
        log.debug("maildir: %s vanished while being acknowledged", ref)

    def wait(self, timeout: float) -> bool:
        """Wait until the inbox changes or *timeout* seconds pass; True if it changed.

        Looks at the modification times of ``new/`` and ``cur/`` every ``poll_interval``
        seconds, so a delivery is noticed within that interval rather than a full poll period.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        before = self._signature()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(self.poll_interval, remaining))
            if self._signature() != before:
                return True

    # ------------------------------------------------------------ internals

    def _signature(self) -> tuple[int, ...]:
        """Modification times of the waiting folders; a delivery or move changes them."""
        times: list[int] = []
        for sub in _WAITING:
            try:
                times.append(os.stat(self.inbox / sub).st_mtime_ns)
            except OSError:
                times.append(-1)
        return tuple(times)

    def _check_ref(self, ref: str) -> None:
        """Refuse refs that could name a file outside the inbox (``..``, ``a/b``)."""
        if not ref or ref.startswith(".") or "/" in ref or "\0" in ref or os.sep in ref:
            raise PermanentAdapterError(f"{ref!r} is not a message ref of the maildir mailbox")

    def _locate(self, ref: str, *, fresh: bool) -> str | None:
        """The file holding *ref* in the inbox, or None.

        The location remembered by :meth:`pending` is tried first; *fresh* skips it. Then the
        names a delivery or a reader gives (``new/ref``, ``cur/ref:2,…``) are looked for.
        """
        if not fresh:
            known = self._where.get(ref)
            if known is not None and os.path.lexists(known):
                return known
        direct = os.path.join(self.inbox, "new", ref)
        if os.path.lexists(direct):
            return direct
        prefix = ref + _INFO_SEP
        for sub in ("cur", "new"):
            try:
                entries = os.scandir(self.inbox / sub)
            except FileNotFoundError:
                continue
            with entries:
                for entry in entries:
                    if entry.name == ref or entry.name.startswith(prefix):
                        return entry.path
        return None

    def _destination(self, target: Path, filename: str) -> str:
        """Where to move *filename* in Maildir *target*: ``cur/`` keeps its flags, never clobbers.

        A file of that name already there is a different message delivered under the same unique
        name (a rename leaves no copy behind, so it is not this one): keep both.
        """
        ref, sep, info = filename.partition(_INFO_SEP)
        suffix = sep + info if sep else _EMPTY_INFO
        folder = os.path.join(target, "cur")
        destination = os.path.join(folder, f"{ref}{suffix}")
        attempt = 0
        while os.path.lexists(destination):
            attempt += 1
            destination = os.path.join(folder, f"{ref}.dup{attempt}{suffix}")
        if attempt:
            self.context.logger.warning(
                "maildir: %s already holds a message named %s; kept both, this one as %s",
                target,
                ref,
                os.path.basename(destination),
            )
        return destination


def _device_of(path: Path) -> int | None:
    """The device of *path* or of its nearest existing parent (None if nothing exists)."""
    probe = path
    while True:
        try:
            return os.stat(probe).st_dev
        except OSError:
            if probe.parent == probe:
                return None
            probe = probe.parent


# ---------------------------------------------------------------- the sender


class _Listing:
    """The unique names in a Maildir's ``cur/`` with their file names, listed again only when
    the directory has changed since.

    A mail client that reads the sent Maildir moves every file into ``cur/``, so scanning it on
    each send grew with every mail ever sent. A directory's modification time can stay the same
    across a change made within the file system's timestamp granularity, so a listing is kept
    only once the directory is older than :attr:`settle_ns` (as git treats its "racily clean"
    index entries); a younger directory is listed each time.
    """

    settle_ns: ClassVar[int] = 2_000_000_000

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime_ns: int | None = None
        self._names: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        """The file name in ``cur/`` holding unique name *name* (flags or not), or None."""
        try:
            mtime_ns = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return None
        if mtime_ns != self._mtime_ns:
            listed_at = time.time_ns()
            with os.scandir(self.path) as entries:
                self._names = {_ref_of(entry.name): entry.name for entry in entries}
            settled = listed_at - mtime_ns > self.settle_ns
            self._mtime_ns = mtime_ns if settled else None
        return self._names.get(name)


class MaildirSender(MailSender):
    """Outgoing mail written into a Maildir (``<data_dir>/mail/sent``) instead of being sent.

    Each message becomes one file in ``new/``, named after a hash of its Message-ID: sending the
    same Message-ID again (a resend after a crash) finds the file and writes nothing. The file
    holds ``mail.raw`` byte for byte; the envelope (sender, recipients) is not recorded.

    Mail is made durable a batch at a time (:attr:`batches_durability`): :meth:`send` writes the
    file into ``tmp/``, and :meth:`flush` syncs the batch's files together, links them into
    ``new/`` and syncs ``new/`` once. A file is never in ``new/`` before its bytes are on disk,
    so a power cut leaves each mail complete or absent, never torn.
    """

    name: ClassVar[str] = "maildir-outbox"
    batches_durability: ClassVar[bool] = True

    class Settings(AdapterSettings):
        """Where the sent Maildir is; a relative path is taken against the data directory."""

        sent: Path = Path("mail/sent")
        """The Maildir receiving every outgoing message in ``new/``."""

    def __init__(self, settings: MaildirSender.Settings, context: AdapterContext) -> None:
        super().__init__(settings, context)
        self.sent = _resolve(context.data_dir, settings.sent)
        self._read = _Listing(self.sent / "cur")
        self._unsynced = False
        """Whether ``new/`` has entries that a power cut could still lose (see :meth:`flush`)."""
        self._pending: dict[str, tuple[Path, int]] = {}
        """Written since the last flush: unique name -> (its file in ``tmp/``, open for sync)."""
        self._syncs: ThreadPoolExecutor | None = None

    def open(self) -> None:
        """Create the sent Maildir if it is missing; remove what dead processes left in tmp/."""
        try:
            _ensure_maildir(self.sent)
        except OSError as exc:
            raise _io_error(exc, "cannot create the sent Maildir") from exc
        self._remove_stale_tmp()

    def close(self) -> None:
        """Give up mail sent since the last flush: never recorded as sent, it is sent again.

        Its files stay in ``tmp/``, as after a crash, until :meth:`open` removes them.
        """
        for _, fd in self._pending.values():
            os.close(fd)
        self._pending.clear()
        if self._syncs is not None:
            self._syncs.shutdown()
            self._syncs = None

    def check(self) -> list[str]:
        """A missing or unwritable sent Maildir."""
        problems = []
        for sub in _SUBDIRS:
            directory = self.sent / sub
            if not directory.is_dir():
                problems.append(
                    f"[adapters.maildir-outbox] sent: {directory} does not exist "
                    "(it is created when pixbridge starts)"
                )
            elif not os.access(directory, os.W_OK | os.X_OK):
                problems.append(f"[adapters.maildir-outbox] sent: {directory} is not writable")
        return problems

    @staticmethod
    def filename_for(message_id: str) -> str:
        """The Maildir unique name of the message with *message_id* (angle brackets optional)."""
        digest = hashlib.sha256(_normalise_message_id(message_id).encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def send(self, mail: OutgoingMail) -> None:
        """Write *mail* into ``tmp/``; :meth:`flush` syncs it and moves it into ``new/``.

        :raises PermanentAdapterError: no recipients, a recipient that is not an address, or a
            ``raw`` whose Message-ID header is missing or differs from ``mail.message_id``.
        :raises TransientAdapterError: the file could not be written (disk full, permissions).
        """
        _validate_outgoing(mail)
        name = self.filename_for(mail.message_id)
        existing = self._find(name)
        if existing is not None:
            # Written before a crash, perhaps never flushed: the batch's flush covers it too.
            self._unsynced = True
            self._note_resend(mail, existing)
            return
        tmp = self.sent / "tmp" / f"{name}.{os.getpid()}.{secrets.token_hex(4)}"
        try:
            self._pending[name] = (tmp, _create_file(tmp, mail.raw))
        except OSError as exc:
            raise _io_error(exc, f"cannot write message {mail.message_id!r} to {tmp}") from exc
        self.context.logger.debug("maildir-outbox: %s written to %s", mail.message_id, tmp)

    def flush(self) -> None:
        """Put every mail sent since the last flush into ``new/``, durably: its files synced
        (together), linked into ``new/``, and ``new/`` synced once.

        :raises TransientAdapterError: a sync or link failed; the mails not yet in ``new/``
            are dropped (delivery sends them again, and finds those that made it).
        """
        pending = list(self._pending.items())
        self._pending.clear()
        new = self.sent / "new"
        try:
            # Concurrent syncs share the file system's journal commits: on the development
            # machine 20 files took a third of the time they take one after another.
            self._sync_all([fd for _, (_, fd) in pending])
            for name, (tmp, _) in pending:
                if not _link_new(tmp, new / name):
                    self.context.logger.info(
                        "maildir-outbox: %s was put into new/ meanwhile; kept that copy", name
                    )
                self._unsynced = True
            if self._unsynced:
                _fsync_dir(new)
                self._unsynced = False
        except OSError as exc:
            raise _io_error(exc, f"cannot put the mail sent into {new} on disk") from exc
        finally:
            # Linked or not, a file's name in tmp/ has served its purpose; removing it is
            # tidying only, so its failure (a file system gone read-only) must not hide the
            # error above or leave the other descriptors open.
            for _, (tmp, fd) in pending:
                with suppress(OSError):
                    os.close(fd)
                with suppress(OSError):
                    tmp.unlink(missing_ok=True)
        for name, _ in pending:
            self.context.logger.debug("maildir-outbox: %s is in %s", name, new)

    def _sync_all(self, fds: list[int]) -> None:
        """fsync every one of *fds*; the first failure is raised once all of them are done
        (a descriptor must not be closed while a thread still syncs it)."""
        if len(fds) <= 1:  # no thread for a single file
            for fd in fds:
                os.fsync(fd)
            return
        if self._syncs is None:
            self._syncs = ThreadPoolExecutor(_SYNC_THREADS, "maildir-outbox-sync")
        syncs = [self._syncs.submit(os.fsync, fd) for fd in fds]
        wait(syncs)
        for sync in syncs:
            sync.result()

    def _remove_stale_tmp(self) -> None:
        """Remove our files in ``tmp/`` older than an hour: a process that stopped between a
        send and its flush left them (a live one flushes within a pass)."""
        cutoff = time.time() - _STALE_TMP_SECONDS
        try:
            with os.scandir(self.sent / "tmp") as entries:
                for entry in entries:
                    if not _OUR_TMP.fullmatch(entry.name):
                        continue
                    with suppress(FileNotFoundError):  # another instance's, flushed meanwhile
                        if entry.stat().st_mtime < cutoff:
                            os.unlink(entry.path)
        except OSError as exc:
            self.context.logger.warning("maildir-outbox: cannot clean %s: %s", self.sent, exc)

    def _find(self, name: str) -> Path | None:
        """The sent file named *name*: waiting for the flush, in ``new/``, or in ``cur/`` if a
        reader flagged it."""
        if name in self._pending:
            return self._pending[name][0]
        direct = self.sent / "new" / name
        if os.path.lexists(direct):
            return direct
        read = self._read.get(name)
        return None if read is None else self.sent / "cur" / read

    def _note_resend(self, mail: OutgoingMail, existing: Path) -> None:
        """Log a resend; warn when the same Message-ID came with different content."""
        log = self.context.logger
        try:
            same = existing.read_bytes() == mail.raw
        except OSError:
            same = True  # moved by a reader meanwhile; the resend is still a resend
        if same:
            log.info("maildir-outbox: %s was already sent; not written again", mail.message_id)
        else:
            log.warning(
                "maildir-outbox: %s was already sent with different content; kept the first (%s)",
                mail.message_id,
                existing,
            )


@hookimpl
def register_adapters(registry: AdapterRegistry) -> None:
    """Register the ``maildir`` mailbox and the ``maildir-outbox`` sender."""
    registry.add(MaildirSource)
    registry.add(MaildirSender)
