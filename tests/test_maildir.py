"""The built-in Maildir mailbox (``maildir``) and Maildir sender (``maildir-outbox``)."""

from __future__ import annotations

import errno
import itertools
import logging
import mailbox
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pixbridge.adapters import AdapterContext, MailSender, MailSource
from pixbridge.builtins import maildir as maildir_plugin
from pixbridge.builtins.maildir import MaildirSender, MaildirSource, is_addr_spec
from pixbridge.errors import PermanentAdapterError, TransientAdapterError
from pixbridge.models import MailOutcome, OutgoingMail
from pixbridge.plugins import BUILTIN_PLUGINS, ESSENTIAL_PLUGINS, load_plugins
from pixbridge.registry import AdapterRegistry
from pixbridge.testing.contracts.mail import (
    MailSenderContract,
    MailSourceContract,
    message_id_of,
    sample_message,
)

MODULE = "pixbridge.builtins.maildir"

_delivery_number = itertools.count()


def deliver(root: Path, raw: bytes, *, subdir: str = "new", name: str | None = None) -> Path:
    """Deliver *raw* into the Maildir *root* as an MTA does: write in ``tmp/``, rename."""
    # Zero-padded so that deliveries within one file-system timestamp tick sort by name in
    # arrival order, as pending() breaks mtime ties by name.
    name = name or f"{time.time_ns():020d}.M{next(_delivery_number):06d}P{os.getpid()}.test"
    tmp = root / "tmp" / name.partition(":")[0]
    tmp.write_bytes(raw)
    final = root / subdir / name
    os.rename(tmp, final)
    return final


def tree(root: Path) -> list[str]:
    """Every path under *root*, relative, sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def source(adapter_context: AdapterContext) -> Iterator[MaildirSource]:
    adapter = MaildirSource(MaildirSource.Settings(poll_interval=0.01), adapter_context)
    adapter.open()
    yield adapter
    adapter.close()


@pytest.fixture
def sender(adapter_context: AdapterContext) -> Iterator[MaildirSender]:
    adapter = MaildirSender(MaildirSender.Settings(), adapter_context)
    adapter.open()
    yield adapter
    adapter.close()


def read_sent(adapter: MaildirSender) -> list[bytes]:
    """The files delivered into the sent Maildir (``new/`` and ``cur/``), oldest name first."""
    found = []
    for sub in ("new", "cur"):
        for path in sorted((adapter.sent / sub).iterdir()):
            if not path.name.startswith("."):
                found.append(path.read_bytes())
    return found


# ---------------------------------------------------------------- the contracts


class TestMaildirSource(MailSourceContract):
    @pytest.fixture
    def adapter(self, source: MaildirSource) -> MaildirSource:
        return source

    def deliver(self, adapter: MailSource, raw: bytes) -> None:
        assert isinstance(adapter, MaildirSource)
        deliver(adapter.inbox, raw)


class TestMaildirSender(MailSenderContract):
    @pytest.fixture
    def adapter(self, sender: MaildirSender) -> MaildirSender:
        return sender

    def sent_messages(self, adapter: MailSender) -> list[bytes]:
        assert isinstance(adapter, MaildirSender)
        return read_sent(adapter)


# ---------------------------------------------------------------- registration and set-up


def test_plugin_registers_both_adapters() -> None:
    registry = AdapterRegistry()
    maildir_plugin.register_adapters(registry)
    assert [entry.name for entry in registry.all()] == ["maildir", "maildir-outbox"]
    assert registry.get("maildir", MaildirSource.kind).cls is MaildirSource
    assert registry.get("maildir-outbox", MaildirSender.kind).cls is MaildirSender


def test_loaded_as_a_builtin_plugin() -> None:
    others = [m for m in BUILTIN_PLUGINS if m not in ESSENTIAL_PLUGINS and m != MODULE]
    plugins = load_plugins(autoload=False, disable=others)
    providers = {entry.name: entry.plugin for entry in plugins.registry.all()}
    assert providers == {"maildir": MODULE, "maildir-outbox": MODULE}


def test_init_creates_nothing_on_disk(adapter_context: AdapterContext, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    MaildirSource(MaildirSource.Settings(), adapter_context)
    MaildirSource(MaildirSource.Settings(inbox=elsewhere / "in"), adapter_context)
    MaildirSender(MaildirSender.Settings(), adapter_context)
    MaildirSender(MaildirSender.Settings(sent=elsewhere / "sent"), adapter_context)
    assert tree(adapter_context.data_dir) == []
    assert not elsewhere.exists()


def test_open_creates_the_maildirs(source: MaildirSource, sender: MaildirSender) -> None:
    data = source.context.data_dir
    for root in ("inbox", "processed", "quarantine", "sent"):
        for sub in ("tmp", "new", "cur"):
            assert (data / "mail" / root / sub).is_dir(), f"{root}/{sub}"
    assert (data / "mail" / "quarantine" / "reasons").is_dir()
    source.open()  # again: nothing to do, no error
    sender.open()


def test_relative_paths_use_the_data_dir_absolute_ones_do_not(
    adapter_context: AdapterContext, tmp_path: Path
) -> None:
    settings = MaildirSource.Settings(inbox=Path("in"), processed=tmp_path / "done")
    adapter = MaildirSource(settings, adapter_context)
    assert adapter.inbox == adapter_context.data_dir / "in"
    assert adapter.processed == tmp_path / "done"
    assert adapter.quarantine == adapter_context.data_dir / "mail" / "quarantine"


def test_check_reports_missing_maildirs_until_opened(adapter_context: AdapterContext) -> None:
    adapter = MaildirSource(MaildirSource.Settings(), adapter_context)
    problems = adapter.check()
    assert problems and all("does not exist" in p for p in problems)
    adapter.open()
    assert adapter.check() == []
    outbox = MaildirSender(MaildirSender.Settings(), adapter_context)
    assert outbox.check()
    outbox.open()
    assert outbox.check() == []


# ---------------------------------------------------------------- the mailbox


def test_message_in_cur_with_info_suffix_is_found(source: MaildirSource) -> None:
    raw = sample_message()
    deliver(source.inbox, raw, subdir="cur", name="1768467600.M1P1.host:2,S")
    (item,) = source.pending()
    assert item.ref == "1768467600.M1P1.host"
    assert item.size == len(raw)
    assert source.read(item.ref) == raw
    source.acknowledge(item.ref, MailOutcome.PROCESSED)
    assert tree(source.processed / "cur") == ["1768467600.M1P1.host:2,S"]


def test_message_from_new_gets_an_empty_info_in_cur(source: MaildirSource) -> None:
    deliver(source.inbox, sample_message(), name="plain")
    source.acknowledge("plain", MailOutcome.PROCESSED)
    assert tree(source.processed / "cur") == ["plain:2,"]
    assert tree(source.inbox / "new") == []


def test_tmp_dot_files_and_folders_are_ignored(source: MaildirSource) -> None:
    (source.inbox / "tmp" / "being-delivered").write_bytes(sample_message())
    (source.inbox / "new" / ".hidden").write_bytes(sample_message())
    (source.inbox / "cur" / ".dovecot.index").write_bytes(b"\0\0")
    (source.inbox / "new" / "a-folder").mkdir()
    (source.inbox / "new" / "a-link").symlink_to(source.inbox / "tmp" / "being-delivered")
    assert source.pending() == []


def test_pending_orders_by_mtime_then_name(source: MaildirSource) -> None:
    for name, mtime in (("b", 100), ("a", 200), ("c", 100), ("d", 50)):
        path = deliver(source.inbox, sample_message(), name=name)
        os.utime(path, (mtime, mtime))
    assert [item.ref for item in source.pending()] == ["d", "b", "c", "a"]


def test_ref_survives_a_reader_flagging_the_message(source: MaildirSource) -> None:
    raw = sample_message()
    deliver(source.inbox, raw, name="k1")
    assert [i.ref for i in source.pending()] == ["k1"]
    # A mail reader marks it seen: moves it from new/ to cur/ and adds flags.
    os.rename(source.inbox / "new" / "k1", source.inbox / "cur" / "k1:2,S")
    assert [i.ref for i in source.pending()] == ["k1"]
    os.rename(source.inbox / "cur" / "k1:2,S", source.inbox / "cur" / "k1:2,RS")
    assert source.read("k1") == raw  # the location remembered by pending() is stale now
    source.acknowledge("k1", MailOutcome.PROCESSED)
    assert tree(source.processed / "cur") == ["k1:2,RS"]


@pytest.mark.parametrize("ref", ["", "../inbox", "a/b", ".hidden", "..", "x\0y"])
def test_refs_that_are_not_maildir_names_are_refused(source: MaildirSource, ref: str) -> None:
    with pytest.raises(PermanentAdapterError):
        source.read(ref)
    with pytest.raises(PermanentAdapterError):
        source.acknowledge(ref, MailOutcome.PROCESSED)


def test_acknowledging_an_unknown_ref_is_not_an_error(source: MaildirSource) -> None:
    source.acknowledge("never-delivered", MailOutcome.PROCESSED)
    source.acknowledge("never-delivered", MailOutcome.QUARANTINED, "why not")
    assert tree(source.processed / "cur") == []
    assert tree(source.reasons_dir) == []


def test_acknowledging_with_the_other_outcome_later_moves_nothing(source: MaildirSource) -> None:
    deliver(source.inbox, sample_message(), name="m")
    source.acknowledge("m", MailOutcome.PROCESSED)
    source.acknowledge("m", MailOutcome.QUARANTINED, "late")
    assert tree(source.processed / "cur") == ["m:2,"]
    assert tree(source.quarantine / "cur") == []


def test_quarantine_writes_the_reason_beside_the_message(source: MaildirSource) -> None:
    raw = sample_message()
    deliver(source.inbox, raw, name="q1")
    reason = "message too large: 41 MB > 25 MB — Nachricht zu groß"
    source.acknowledge("q1", MailOutcome.QUARANTINED, reason)
    assert (source.quarantine / "cur" / "q1:2,").read_bytes() == raw
    assert (source.reasons_dir / "q1.txt").read_text(encoding="utf-8") == reason
    assert tree(source.reasons_dir) == ["q1.txt"]  # no temporary file left behind
    source.acknowledge("q1", MailOutcome.QUARANTINED, "a second, different reason")
    assert (source.reasons_dir / "q1.txt").read_text(encoding="utf-8") == reason


def test_processing_writes_no_reason(source: MaildirSource) -> None:
    deliver(source.inbox, sample_message(), name="p1")
    source.acknowledge("p1", MailOutcome.PROCESSED, "ignored for processed mail")
    assert tree(source.reasons_dir) == []


def test_processed_maildir_is_readable_with_the_mailbox_module(source: MaildirSource) -> None:
    raws = {}
    for n in range(3):
        raw = sample_message(subject=f"Message {n}")
        deliver(source.inbox, raw, name=f"key{n}")
        raws[f"key{n}"] = raw
    for item in source.pending():
        source.acknowledge(item.ref, MailOutcome.PROCESSED)
    box = mailbox.Maildir(source.processed, create=False)
    assert sorted(box.keys()) == sorted(raws)
    for key, raw in raws.items():
        assert box.get_bytes(key) == raw
        assert box[key]["Message-ID"] == message_id_of(raw)
    quarantine = mailbox.Maildir(source.quarantine, create=False)
    assert len(quarantine) == 0


def test_a_second_delivery_under_a_used_name_does_not_overwrite(source: MaildirSource) -> None:
    first, second = sample_message(), sample_message()
    deliver(source.inbox, first, name="same")
    source.acknowledge("same", MailOutcome.PROCESSED)
    deliver(source.inbox, second, name="same")
    assert [i.ref for i in source.pending()] == ["same"]
    source.acknowledge("same", MailOutcome.PROCESSED)
    assert source.pending() == []
    assert (source.processed / "cur" / "same:2,").read_bytes() == first
    assert (source.processed / "cur" / "same.dup1:2,").read_bytes() == second


def test_a_failed_move_is_transient_and_keeps_the_message(
    source: MaildirSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(source.inbox, sample_message(), name="stuck")

    def cross_device(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link", str(src))

    monkeypatch.setattr(os, "rename", cross_device)
    with pytest.raises(TransientAdapterError, match="one file system"):
        source.acknowledge("stuck", MailOutcome.PROCESSED)
    monkeypatch.undo()
    assert [i.ref for i in source.pending()] == ["stuck"]


def test_read_of_a_message_gone_meanwhile_is_permanent(source: MaildirSource) -> None:
    path = deliver(source.inbox, sample_message(), name="gone")
    source.pending()
    os.rename(path, source.inbox.parent / "elsewhere")
    with pytest.raises(PermanentAdapterError, match="no longer"):
        source.read("gone")


def test_pending_without_inbox_is_transient(adapter_context: AdapterContext) -> None:
    adapter = MaildirSource(MaildirSource.Settings(), adapter_context)
    with pytest.raises(TransientAdapterError, match="missing"):
        adapter.pending()


def test_wait_wakes_up_on_delivery(source: MaildirSource) -> None:
    assert source.wait(0.05) is False
    timer = threading.Timer(0.1, deliver, args=(source.inbox, sample_message()))
    timer.start()
    started = time.monotonic()
    try:
        assert source.wait(10) is True
    finally:
        timer.join()
    assert time.monotonic() - started < 5
    assert len(source.pending()) == 1


def test_many_messages_go_through(source: MaildirSource) -> None:
    raws = [sample_message(subject=f"Bulk {n}") for n in range(300)]
    for raw in raws:
        deliver(source.inbox, raw)
    pending = source.pending()
    assert len(pending) == 300
    for item, raw in zip(pending, raws, strict=True):
        assert source.read(item.ref) == raw
        source.acknowledge(item.ref, MailOutcome.PROCESSED)
    assert source.pending() == []
    assert len(os.listdir(source.processed / "cur")) == 300


# ---------------------------------------------------------------- the sender


def outgoing(message_id: str = "<ack-1@pixbridge.example.com>", **kwargs: object) -> OutgoingMail:
    raw = sample_message(message_id, sender="support@example.com", to="customer@example.com")
    values: dict[str, object] = {
        "message_id": message_id,
        "sender": "support@example.com",
        "recipients": ("customer@example.com",),
        "raw": raw,
    }
    values.update(kwargs)
    return OutgoingMail(**values)  # type: ignore[arg-type]


def test_sent_file_is_named_by_the_message_id(sender: MaildirSender) -> None:
    mail = outgoing()
    sender.send(mail)
    name = MaildirSender.filename_for(mail.message_id)
    assert tree(sender.sent / "new") == [], "in new/ before its bytes were synced"
    sender.flush()
    assert tree(sender.sent / "new") == [name]
    assert (sender.sent / "new" / name).read_bytes() == mail.raw
    assert tree(sender.sent / "tmp") == []
    assert MaildirSender.filename_for("ack-1@pixbridge.example.com") == name


def test_a_batch_is_synced_at_flush_files_first_then_their_names(
    sender: MaildirSender, synced: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    new = str((sender.sent / "new").resolve())
    renamed: list[str] = []
    real_link = os.link

    def link(src: Any, dst: Any) -> None:
        renamed.append(f"{len(synced)} synced before {Path(dst).name}")
        real_link(src, dst)

    monkeypatch.setattr(os, "link", link)
    mails = [outgoing(f"<m{n}@x.example>") for n in range(3)]
    for mail in mails:
        sender.send(mail)
    assert synced == [] and renamed == []
    sender.flush()
    # Every file is synced before any is renamed (complete or absent after a power cut) ...
    assert len(synced) == 4 and all("/tmp/" in path for path in synced[:3])
    assert renamed == [f"3 synced before {MaildirSender.filename_for(m.message_id)}" for m in mails]
    assert synced[3:] == [new]  # ... and the three new names with one directory sync
    sender.flush()  # nothing written since
    assert len(synced) == 4
    assert read_sent(sender) == sorted(
        (m.raw for m in mails), key=lambda raw: MaildirSender.filename_for(message_id_of(raw))
    )


def test_a_resend_is_flushed_too(sender: MaildirSender, synced: list[str]) -> None:
    # Written before a crash that came before the flush: its name may not be on disk yet.
    sender.send(outgoing())
    sender.flush()
    synced.clear()
    sender.send(outgoing())
    assert synced == []
    sender.flush()
    assert synced == [str((sender.sent / "new").resolve())]


def test_a_resend_before_the_flush_writes_nothing_more(sender: MaildirSender) -> None:
    mail = outgoing()
    sender.send(mail)
    sender.send(mail)
    assert len(tree(sender.sent / "tmp")) == 1
    sender.flush()
    assert read_sent(sender) == [mail.raw] and tree(sender.sent / "tmp") == []


def test_closing_gives_up_what_was_not_flushed(
    sender: MaildirSender, adapter_context: AdapterContext
) -> None:
    # Never recorded as sent (delivery records after the flush): it is sent again later.
    mail = outgoing()
    sender.send(mail)
    sender.close()
    sender.flush()
    assert read_sent(sender) == []
    again = MaildirSender(sender.settings, adapter_context)
    again.open()
    again.send(mail)
    again.flush()
    assert read_sent(sender) == [mail.raw]


def test_opening_removes_what_a_dead_sender_left_in_tmp(
    sender: MaildirSender, adapter_context: AdapterContext
) -> None:
    tmp = sender.sent / "tmp"
    name = MaildirSender.filename_for("<ack-1@pixbridge.example.com>")
    stale, fresh, foreign = (
        tmp / f"{name}.4242.deadbeef",
        tmp / f"{name}.4243.0badf00d",
        tmp / "1700000000.M1P2.host",  # someone else's file in the Maildir: not ours to remove
    )
    for path in (stale, fresh, foreign):
        path.write_bytes(b"From: x")
    two_hours_ago = time.time() - 7200
    for path in (stale, foreign):
        os.utime(path, (two_hours_ago, two_hours_ago))
    again = MaildirSender(sender.settings, adapter_context)
    again.open()
    assert sorted(p.name for p in tmp.iterdir()) == sorted([fresh.name, foreign.name])


def test_a_failed_flush_is_transient_and_tried_again(
    sender: MaildirSender, monkeypatch: pytest.MonkeyPatch, synced: list[str]
) -> None:
    sender.send(outgoing())
    working_fsync = os.fsync

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(TransientAdapterError, match="Input/output error"):
        sender.flush()
    monkeypatch.setattr(os, "fsync", working_fsync)
    # Not delivered, nothing left behind: delivery sends the mail again.
    assert tree(sender.sent / "tmp") == [] and read_sent(sender) == []
    synced.clear()
    sender.send(outgoing())
    sender.flush()
    assert synced[1:] == [str((sender.sent / "new").resolve())]
    assert read_sent(sender) == [outgoing().raw]


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_sync_failing_in_a_batch_leaves_nothing_open_or_behind(
    sender: MaildirSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _open_fds()
    mails = [outgoing(f"<m{n}@x.example>") for n in range(5)]
    for mail in mails:
        sender.send(mail)
    real_fsync, calls, finished = os.fsync, [], []

    def first_fails(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(errno.EIO, "Input/output error")
        time.sleep(0.05)  # the others are still syncing when the failure comes back
        try:
            real_fsync(fd)
        except OSError as exc:  # EBADF: its descriptor was closed under it
            finished.append(exc.strerror)
            raise
        finished.append("synced")

    monkeypatch.setattr(os, "fsync", first_fails)
    with pytest.raises(TransientAdapterError, match="Input/output error"):
        sender.flush()
    # Every other file's sync ran to its end before the descriptors were closed.
    assert finished == ["synced"] * 4
    monkeypatch.undo()
    assert _open_fds() == before
    assert tree(sender.sent / "tmp") == [] and read_sent(sender) == []
    for mail in mails:  # delivery's next attempt
        sender.send(mail)
    sender.flush()
    assert len(read_sent(sender)) == 5


def test_a_file_system_gone_read_only_still_gives_a_transient_error(
    sender: MaildirSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _open_fds()
    for n in range(3):
        sender.send(outgoing(f"<m{n}@x.example>"))

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    def read_only(self: Path, missing_ok: bool = False) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(os, "fsync", broken)
    monkeypatch.setattr(Path, "unlink", read_only)
    with pytest.raises(TransientAdapterError, match="Input/output error"):
        sender.flush()
    monkeypatch.undo()
    assert _open_fds() == before


def test_a_copy_put_into_new_meanwhile_is_kept(
    sender: MaildirSender, caplog: pytest.LogCaptureFixture
) -> None:
    # Another instance sent the same mail after a claim expired, and a reader may have seen it.
    mail = outgoing()
    sender.send(mail)
    name = MaildirSender.filename_for(mail.message_id)
    (sender.sent / "new" / name).write_bytes(b"the other instance's copy")
    with caplog.at_level(logging.INFO):
        sender.flush()
    assert read_sent(sender) == [b"the other instance's copy"]
    assert tree(sender.sent / "tmp") == []
    assert "kept that copy" in caplog.text


def test_a_resend_with_other_content_before_the_flush_keeps_the_first(
    sender: MaildirSender, caplog: pytest.LogCaptureFixture
) -> None:
    first = outgoing()
    sender.send(first)
    with caplog.at_level(logging.WARNING):
        sender.send(outgoing(raw=first.raw.replace("Grüße".encode(), b"Hello")))
    sender.flush()
    assert read_sent(sender) == [first.raw]
    assert "different content" in caplog.text


def test_closing_leaves_no_descriptor_open(sender: MaildirSender) -> None:
    before = _open_fds()
    for n in range(3):
        sender.send(outgoing(f"<m{n}@x.example>"))
    assert _open_fds() == before + 3
    sender.close()
    assert _open_fds() == before


def test_sent_maildir_is_readable_with_the_mailbox_module(sender: MaildirSender) -> None:
    sender.send(outgoing("<a@x.example>"))
    sender.send(outgoing("<b@x.example>"))
    sender.flush()
    box = mailbox.Maildir(sender.sent, create=False)
    assert sorted(m["Message-ID"] for m in box) == ["<a@x.example>", "<b@x.example>"]


def test_leftover_in_tmp_after_a_crash_is_not_sent(sender: MaildirSender) -> None:
    mail = outgoing()
    name = MaildirSender.filename_for(mail.message_id)
    # What a crash between writing and renaming leaves behind:
    (sender.sent / "tmp" / f"{name}.4242.deadbeef").write_bytes(mail.raw[:100])
    assert read_sent(sender) == []
    sender.send(mail)
    sender.flush()
    assert read_sent(sender) == [mail.raw]
    sender.send(mail)
    sender.flush()
    assert read_sent(sender) == [mail.raw]


def test_failed_link_leaves_nothing_behind(
    sender: MaildirSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(src))

    monkeypatch.setattr(os, "link", no_space)
    sender.send(outgoing())
    with pytest.raises(TransientAdapterError, match="No space"):
        sender.flush()
    monkeypatch.undo()
    assert tree(sender.sent / "tmp") == []
    assert read_sent(sender) == []


def test_resend_finds_a_copy_a_reader_flagged(sender: MaildirSender) -> None:
    mail = outgoing()
    sender.send(mail)
    sender.flush()
    name = MaildirSender.filename_for(mail.message_id)
    os.rename(sender.sent / "new" / name, sender.sent / "cur" / f"{name}:2,S")
    sender.send(mail)
    assert read_sent(sender) == [mail.raw]


def _age(directory: Path, seconds: float) -> None:
    """Make *directory* look last changed *seconds* ago (old enough to cache its listing)."""
    then = time.time() - seconds
    os.utime(directory, (then, then))


def test_cur_is_listed_again_only_when_it_changed(
    sender: MaildirSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader's cur/ grows with every mail sent; each send must not scan all of it."""
    cur = sender.sent / "cur"
    for n in range(3):
        sender.send(outgoing(f"<old-{n}@pixbridge.example.com>"))
    sender.flush()
    for entry in list((sender.sent / "new").iterdir()):
        entry.rename(cur / f"{entry.name}:2,S")
    _age(cur, 60)
    scans: list[str] = []
    real = os.scandir

    def counted(path: Any) -> Any:
        scans.append(str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", counted)
    for n in range(5):
        sender.send(outgoing(f"<new-{n}@pixbridge.example.com>"))
    sender.flush()
    assert scans.count(str(cur)) == 1
    # A reader flags one more: cur/ changed, so the resend of that mail is still recognised.
    mail = outgoing("<new-0@pixbridge.example.com>")
    name = MaildirSender.filename_for(mail.message_id)
    os.rename(sender.sent / "new" / name, cur / f"{name}:2,RS")
    sender.send(mail)
    assert len(read_sent(sender)) == 8
    assert not (sender.sent / "new" / name).exists()
    assert scans.count(str(cur)) == 2


def test_a_listing_of_a_just_changed_cur_is_not_kept(sender: MaildirSender) -> None:
    """Within the timestamp granularity a change can leave cur/'s time as it was."""
    cur = sender.sent / "cur"
    mail = outgoing()
    sender.send(outgoing("<first@pixbridge.example.com>"))  # lists cur/, which is brand new
    sender.send(mail)
    sender.flush()
    name = MaildirSender.filename_for(mail.message_id)
    stamp = os.stat(cur).st_mtime_ns
    os.rename(sender.sent / "new" / name, cur / f"{name}:2,S")
    os.utime(cur, ns=(stamp, stamp))  # the move in the same tick: the time did not change
    sender.send(mail)
    assert not (sender.sent / "new" / name).exists(), "the flagged copy was not found"
    assert len(read_sent(sender)) == 2


def test_resend_with_other_content_keeps_the_first_and_warns(
    sender: MaildirSender, caplog: pytest.LogCaptureFixture
) -> None:
    first = outgoing()
    sender.send(first)
    sender.flush()
    changed = outgoing(raw=first.raw.replace("Grüße".encode(), b"Hello"))
    with caplog.at_level(logging.WARNING):
        sender.send(changed)
    sender.flush()
    assert read_sent(sender) == [first.raw]
    assert "different content" in caplog.text


def test_refusals_say_what_is_wrong(sender: MaildirSender) -> None:
    with pytest.raises(PermanentAdapterError, match="no recipients"):
        sender.send(outgoing(recipients=()))
    with pytest.raises(
        PermanentAdapterError, match=re.escape("'Ann <ann@example.com>' is not an e-mail")
    ):
        sender.send(outgoing(recipients=("Ann <ann@example.com>",)))
    with pytest.raises(PermanentAdapterError, match="must be the same"):
        sender.send(outgoing("<mismatch@example.com>", raw=outgoing().raw))
    with pytest.raises(PermanentAdapterError, match="2 Message-ID headers"):
        sender.send(outgoing(raw=b"Message-ID: <ack-1@pixbridge.example.com>\r\n" + outgoing().raw))
    with pytest.raises(PermanentAdapterError, match="header section"):
        sender.send(outgoing(raw=b"\r\njust a body\r\n"))
    with pytest.raises(PermanentAdapterError, match="no content"):
        sender.send(outgoing(raw=b""))
    with pytest.raises(PermanentAdapterError, match="line break"):
        sender.send(outgoing(sender="support@example.com\r\nBcc: x@example.net"))
    assert read_sent(sender) == []


@pytest.mark.parametrize("linesep", [b"\r\n", b"\n"])
def test_only_the_header_section_is_checked(sender: MaildirSender, linesep: bytes) -> None:
    # A "Message-ID:" line in the body (a quoted bounce, say) is not a second header.
    raw = outgoing().raw.replace(b"\r\n", linesep) + b"Message-ID: <other@example.net>" + linesep
    sender.send(outgoing(raw=raw))
    sender.flush()
    assert read_sent(sender) == [raw]
    late = b"X-Note: hi" + linesep + linesep + b"body" + linesep + b"Message-ID: <ack-1@x>"
    with pytest.raises(PermanentAdapterError, match="0 Message-ID headers"):
        sender.send(outgoing(raw=late))


def test_folded_message_id_header_matches(sender: MaildirSender) -> None:
    header = b"Message-ID: <ack-1@pixbridge.example.com>"
    folded = b"Message-ID:\r\n <ack-1@pixbridge.example.com>"
    raw = outgoing().raw.replace(header, folded)
    assert raw != outgoing().raw
    sender.send(outgoing(raw=raw))
    sender.flush()
    assert read_sent(sender) == [raw]


@pytest.mark.parametrize(
    "address",
    [
        "customer@example.com",
        "first.last+support@mail.example.co.uk",
        "o'brien@example.ie",
        '"john doe"@example.com',
        "user@[192.0.2.1]",
        "jürgen@bücher.example",
        "root@localhost",
    ],
)
def test_plausible_addresses(address: str) -> None:
    assert is_addr_spec(address)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "plain",
        ".lead@example.com",
        "trail.@example.com",
        "two..dots@example.com",
        "user@-example.com",
        "user@example..com",
        "user@example.com.",
        "x" * 65 + "@example.com",
        "user@" + "a" * 250 + ".com",
        "user\t@example.com",
        "user@exam\u00a0ple.com",
        "user@example.com\n",
        "<user@example.com>",
    ],
)
def test_implausible_addresses(address: str) -> None:
    assert not is_addr_spec(address)
