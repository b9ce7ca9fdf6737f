"""Our own Message-IDs, signed so that a reply pointing at one can be trusted, and markers.

A Message-ID we generate looks like ``<pb.<token>.<sig>@<domain>>`` where ``sig`` is an HMAC of the
token under a key kept in the data directory. A customer's reply whose ``In-Reply-To`` or
``References`` carries such an id is threaded to the request without trusting the subject.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

__all__ = ["MessageIds", "load_or_create_key", "marker_for"]

_OURS = re.compile(r"^<pb\.([0-9a-f]{16})\.([0-9a-f]{16})@([^<>@\s]+)>$")


def load_or_create_key(data_dir: Path) -> bytes:
    """The instance's signing key, created on first use (readable by the owner only)."""
    path = data_dir / "secret.key"
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process created it first; use theirs so both sign alike.
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex())
        handle.flush()
        os.fsync(handle.fileno())
    return key


class MessageIds:
    """Makes and recognises our signed Message-IDs."""

    def __init__(self, key: bytes, domain: str) -> None:
        self._key = key
        self.domain = domain

    def _sign(self, token: str) -> str:
        return hmac.new(self._key, token.encode("ascii"), hashlib.sha256).hexdigest()[:16]

    def new(self) -> str:
        """A fresh Message-ID, angle brackets included."""
        token = secrets.token_hex(8)
        return f"<pb.{token}.{self._sign(token)}@{self.domain}>"

    def is_ours(self, message_id: str) -> bool:
        """True if *message_id* was made with our key (whatever the domain)."""
        match = _OURS.match(message_id.strip())
        if not match:
            return False
        return hmac.compare_digest(match.group(2), self._sign(match.group(1)))


def marker_for(mailbox: str, message_id: str | None, content_hash: str) -> str:
    """The deterministic tracker marker of the request or comment a message causes.

    The same message always gets the same marker, so a write whose outcome was lost can be
    found again instead of being repeated.
    """
    seed = f"{mailbox}\0{message_id or ''}\0{content_hash}".encode()
    return "pb-" + hashlib.sha256(seed).hexdigest()[:16]
