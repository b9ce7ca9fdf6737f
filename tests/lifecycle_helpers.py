"""Building test mail and harnesses for the lifecycle tests."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "settings" / "templates"
SAMPLES = REPO / "settings" / "samples"


def mail(
    *,
    sender: str = "john.smith@customer.example",
    subject: str = "Export crashes",
    body: str = (
        "The export crashes every time.\nWindows 11 Pro 23H2\nSerial number: PTM-2024-00173"
    ),
    message_id: str | None = None,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: tuple[tuple[str, bytes], ...] = (("export.log", b"ERROR export failed\n"),),
) -> bytes:
    """A customer's message as raw bytes; by default a complete request (OS, serial, a log)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@pix.example"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 12 Jan 2026 09:14:05 +0000"
    msg["Message-ID"] = message_id or make_msgid(domain="customer.example")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    for filename, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=filename)
    return msg.as_bytes(policy=SMTP)


def cli_settings(root: Path, lifecycle: str = "retry_delay = 0", tail: str = "") -> Path:
    """Write settings for ``pixbridge`` subprocesses on the embedded default under *root*.

    *lifecycle* is the body of ``[lifecycle]``; *tail* more tables (``[store]``, say).
    """
    path = root / "pixbridge.toml"
    path.write_text(
        f"""
data_dir = "{root / "var"}"
templates_dir = "{TEMPLATES}"
[support]
address = "support@pix.example"
[pipeline]
mail_source = "maildir"
mail_sender = "maildir-outbox"
tracker = "local"
license_validators = []
publishers = []
[lifecycle]
{lifecycle}
{tail}""",
        encoding="utf-8",
    )
    return path
