"""Named crash points for the crash-safety tests.

``PIXBRIDGE_CRASH_AT=<point>:<n>`` makes the process kill itself with SIGKILL the *n*-th time it
reaches ``crashpoint(<point>)``. Unset (always, in production) a crash point costs one
comparison. The tests kill pixbridge at every point over a batch of mail and check that, after
restarts, every message was handled exactly once.
"""

from __future__ import annotations

import os
import signal

__all__ = ["POINTS", "crashpoint"]

POINTS = (
    "after_accept",
    "before_create",
    "after_create",
    "after_tracker",
    "after_register",
    "after_comment",
    "before_mailbox_ack",
    "after_mailbox_ack",
    "before_send",
    "after_send",
    "after_sync_change",
)
"""Every crash point in the pipeline, in the order a message meets them."""


def _parse(spec: str | None) -> tuple[str, int] | None:
    if not spec:
        return None
    name, _, count = spec.partition(":")
    return name, int(count or "1")


_target = _parse(os.environ.get("PIXBRIDGE_CRASH_AT"))
_hits = 0


def crashpoint(name: str) -> None:
    """Die here if the crash test asked for it."""
    global _hits
    if _target is None or _target[0] != name:
        return
    _hits += 1
    if _hits >= _target[1]:
        os.kill(os.getpid(), signal.SIGKILL)
