"""A pixbridge instance on the embedded default, for end-to-end tests of the lifecycle.

Mail goes in as files in the Maildir inbox, requests land in the local tracker and our mail comes
out as files in the sent Maildir, all under one temporary data directory::

    harness = Harness(tmp_path, templates_dir=...)
    harness.deliver(raw_bytes)
    harness.run()
    assert harness.sent()[0]["Subject"].startswith("[SUP-1]")
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from pixbridge.adapters import Clock
from pixbridge.lifecycle.app import App, build_app
from pixbridge.lifecycle.orchestrator import Orchestrator, PassResult
from pixbridge.lifecycle.views import request_view
from pixbridge.settings import load_settings

__all__ = ["Harness"]

_counter = itertools.count(1)


class Harness:
    """An isolated pixbridge on Maildir + local tracker under *root*."""

    def __init__(
        self,
        root: Path,
        *,
        templates_dir: Path,
        clock: Clock | None = None,
        extra_plugins: Iterable[tuple[str, Any]] = (),
        settings_files: Iterable[Path] = (),
        **overrides: Any,
    ) -> None:
        self.root = root
        self.data_dir = root / "var"
        overrides.setdefault("support", {"address": "support@pix.example", "name": "PIX Support"})
        overrides.setdefault(
            "pipeline",
            {
                "mail_source": "maildir",
                "mail_sender": "maildir-outbox",
                "tracker": "local",
                "license_validators": [],
                "publishers": [],
            },
        )
        self.settings = load_settings(
            list(settings_files), data_dir=self.data_dir, templates_dir=templates_dir, **overrides
        )
        self.app: App = build_app(
            self.settings, clock=clock, extra_plugins=extra_plugins, autoload=False
        )
        self.orchestrator = Orchestrator(self.app)
        self.inbox = self.data_dir / "mail" / "inbox"
        for sub in ("new", "cur", "tmp"):
            (self.inbox / sub).mkdir(parents=True, exist_ok=True)

    def deliver(self, raw: bytes, name: str | None = None) -> Path:
        """Drop *raw* into the inbox Maildir, after every earlier delivery in mailbox order."""
        number = next(_counter)
        path = self.inbox / "new" / (name or f"{number:08d}.harness")
        path.write_bytes(raw)
        # The Maildir source lists oldest first by mtime; make the order explicit.
        os.utime(path, ns=(number * 1_000_000_000, number * 1_000_000_000))
        return path

    def run(self) -> PassResult:
        """One full pass (``pixbridge run --once``)."""
        return self.orchestrator.run_once()

    def sent_files(self) -> list[Path]:
        """Files in the sent Maildir, oldest first."""
        folder = self.data_dir / "mail" / "sent" / "new"
        if not folder.is_dir():
            return []
        return sorted(folder.iterdir(), key=lambda p: (p.stat().st_mtime_ns, p.name))

    def sent(self) -> list[EmailMessage]:
        """Mail we sent, parsed, in the order pixbridge queued it."""
        parser = BytesParser(policy=policy.default)
        mails = [parser.parsebytes(p.read_bytes()) for p in self.sent_files()]
        # File times are too coarse to order mail written in one pass; the outbox knows.
        order = {mid: n for n, mid in enumerate(self.app.store.outbox_message_ids())}
        return sorted(mails, key=lambda m: order.get(str(m["Message-ID"]), len(order)))

    def request(self, key: str) -> dict[str, Any]:
        """The JSON view of request *key* (as ``pixbridge requests show KEY --json``)."""
        view = request_view(self.app, key)
        if view is None:
            raise KeyError(key)
        return view

    def keys(self) -> list[str]:
        """Keys of every registered request, oldest first."""
        return [r.key for r in reversed(self.app.store.requests())]

    def close(self) -> None:
        """Give back the orchestrator's claims and name, and close the application."""
        try:
            self.orchestrator.close()
        finally:
            self.app.close()
