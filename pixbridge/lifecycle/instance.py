"""Who this process is among the pixbridge instances sharing one state store.

Every claim on a message or an outgoing mail, and every lease (the mailbox poller, the tracker
sync), names its holder. The name is stable across restarts: a process killed on this machine
comes back under the same name and carries on with its own claims at once, instead of waiting
for them to expire. A second process cannot take a name that a live one holds, because the
name is guarded by an exclusive ``flock`` on a file in the data directory, which the kernel
releases when its process dies, however it dies.

Names are ``[lifecycle] instance`` when set, else ``<host>-<n>`` with the lowest free *n*, so
workers started by ``pixbridge run --workers N`` are ``<host>-0`` ... ``<host>-<N-1>``. Instances
on other machines share the work through the store; their claims are taken over only after
``[lifecycle] claim_ttl`` seconds, so keep the machines' clocks in sync (NTP).
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Protocol

__all__ = ["ClaimStore", "ClaimedBatch", "Claims", "Instance", "InstanceTaken", "take_instance"]

_MAX_LOCAL = 64


class InstanceTaken(RuntimeError):
    """The instance name asked for is held by another live process."""


@dataclass
class Instance:
    """This process's instance name, held until :meth:`release` or the process ends."""

    name: str
    _lock: IO[bytes] | None = field(default=None, repr=False)

    def release(self) -> None:
        """Let the name go (another process may take it)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _try_lock(directory: Path, name: str) -> IO[bytes] | None:
    handle = (directory / f"{_safe(name)}.lock").open("a+b")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n".encode())
    handle.flush()
    return handle


def take_instance(data_dir: Path, configured: str | None = None, *, first: int = 0) -> Instance:
    """Take the configured instance name, or the lowest free ``<host>-<n>`` from *first* on.

    :raises InstanceTaken: *configured* is held by a live process, or all local names are.
    """
    directory = data_dir / "run"
    directory.mkdir(parents=True, exist_ok=True)
    if configured:
        lock = _try_lock(directory, configured)
        if lock is None:
            raise InstanceTaken(
                f"another pixbridge process is running as instance {configured!r} with data "
                f"directory {data_dir}; give this one another [lifecycle] instance name"
            )
        return Instance(configured, lock)
    host = _safe(socket.gethostname().split(".")[0] or "pixbridge")
    for n in range(first, _MAX_LOCAL):
        name = f"{host}-{n}"
        lock = _try_lock(directory, name)
        if lock is not None:
            return Instance(name, lock)
    raise InstanceTaken(
        f"{_MAX_LOCAL} pixbridge processes already run with data directory {data_dir}"
    )


@dataclass(frozen=True)
class Claims:
    """How the stages of one instance claim work: its name and how long a claim lasts."""

    holder: str
    ttl: timedelta
    batch: int = 20
    """Messages or mails claimed at a time: small, so instances share a backlog evenly."""


class ClaimedBatch:
    """A batch claimed by this instance, worked through one row at a time.

    A claim lasts ``ttl``; a batch that takes longer (a slow mail server, a tracker asking to
    wait) would let another instance take the rest and do it twice. So before each row, once
    half the lifetime has passed, the claims on the rows still to do are renewed, and a row
    another instance has taken meanwhile is left to it.
    """

    def __init__(
        self,
        store: ClaimStore,
        claims: Claims,
        table: str,
        ids: list[int],
        now: datetime,
    ) -> None:
        self.store, self.claims, self.table = store, claims, table
        self._todo = list(ids)
        self._held = set(ids)
        self._renewed = now

    def still_ours(self, row_id: int, now: datetime) -> bool:
        """Whether this instance still holds *row_id*, the next row it is about to work on."""
        if now - self._renewed >= self.claims.ttl / 2:
            todo = self._todo[self._todo.index(row_id) :]
            self._held = self.store.keep_claims(
                self.table, todo, self.claims.holder, now, self.claims.ttl
            )
            self._renewed = now
        return row_id in self._held


class ClaimStore(Protocol):
    """What :class:`ClaimedBatch` needs of the state store."""

    def keep_claims(
        self, table: str, ids: Sequence[int], holder: str, now: datetime, ttl: timedelta
    ) -> set[int]:
        """Renew *holder*'s claims on *ids*; the ids it still holds."""
        ...
