"""Which attachments reach the tracker (notes/reliability-security.md §4, rule 2).

Executables, scripts and macro documents are never attached to a request, nor is a file over
the size limits; each one left off is listed in an internal note instead, so the agent knows it
existed and can ask for it another way. The raw message keeps every byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pixbridge.models import Attachment

__all__ = ["AttachmentPolicy", "Refused", "refusal_note", "split_attachments"]

_MB = 1024 * 1024

_BLOCKED_EXTENSIONS = [
    # Windows executables and installers
    "exe", "dll", "scr", "com", "pif", "cpl", "msi", "msp", "msc", "sys", "drv", "ocx",
    # scripts
    "bat", "cmd", "ps1", "psm1", "vbs", "vbe", "js", "jse", "wsf", "wsh", "hta", "jar", "reg",
    # shortcuts and disk images that mount as executables
    "lnk", "url", "scf", "iso", "img", "vhd", "vhdx",
    # Office documents with macros
    "docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppam", "ppsm", "sldm",
]  # fmt: skip
_BLOCKED_TYPES = [
    "application/x-msdownload",
    "application/x-dosexec",
    "application/x-msdos-program",
    "application/x-ms-installer",
    "application/x-msi",
    "application/hta",
    "application/x-sh",
    "application/javascript",
    "text/javascript",
    "application/vnd.ms-word.document.macroenabled.12",
    "application/vnd.ms-excel.sheet.macroenabled.12",
    "application/vnd.ms-powerpoint.presentation.macroenabled.12",
]


class AttachmentPolicy(BaseModel):
    """``[attachments]``: which files from customer mail are attached to requests."""

    model_config = ConfigDict(extra="forbid")

    max_bytes: int = Field(default=10 * _MB, gt=0)
    """Largest single attachment; a larger one is left off and noted."""
    max_total_bytes: int = Field(default=25 * _MB, gt=0)
    """Largest sum over one message; files past it are left off and noted."""
    blocked_extensions: list[str] = Field(default_factory=lambda: list(_BLOCKED_EXTENSIONS))
    """File name extensions never attached (case-insensitive, without the dot)."""
    blocked_types: list[str] = Field(default_factory=lambda: list(_BLOCKED_TYPES))
    """MIME content types never attached (case-insensitive)."""

    @field_validator("blocked_extensions")
    @classmethod
    def _extensions(cls, value: list[str]) -> list[str]:
        return [v.strip().lower().lstrip(".") for v in value if v.strip()]

    @field_validator("blocked_types")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        return [v.strip().lower() for v in value if v.strip()]


@dataclass(frozen=True)
class Refused:
    """An attachment left off a request, with the reason."""

    filename: str
    content_type: str
    size: int
    reason: str


def split_attachments(
    attachments: Sequence[Attachment], policy: AttachmentPolicy
) -> tuple[tuple[Attachment, ...], tuple[Refused, ...]]:
    """(the attachments allowed, the ones refused with their reasons), in message order."""
    allowed: list[Attachment] = []
    refused: list[Refused] = []
    total = 0
    blocked_ext = set(policy.blocked_extensions)
    blocked_types = set(policy.blocked_types)
    for item in attachments:
        # Every extension counts: "report.pdf.exe" and "invoice.exe.pdf" both carry an ".exe".
        extensions = {p.lower() for p in item.filename.split(".")[1:]}
        reason = None
        bad_ext = sorted(extensions & blocked_ext)
        if bad_ext:
            reason = f"files of type .{bad_ext[0]} are blocked"
        elif item.content_type.lower() in blocked_types:
            reason = f"content type {item.content_type} is blocked"
        elif item.size > policy.max_bytes:
            reason = f"{item.size} bytes, over the limit of {policy.max_bytes} bytes per file"
        elif total + item.size > policy.max_total_bytes:
            reason = f"the message's files would exceed {policy.max_total_bytes} bytes in total"
        if reason:
            refused.append(Refused(item.filename, item.content_type, item.size, reason))
            continue
        total += item.size
        allowed.append(item)
    return tuple(allowed), tuple(refused)


def refusal_note(refused: Sequence[Refused]) -> str:
    """The internal note listing attachments left off a request."""
    lines = [
        "Attachments left off this request by the attachment policy (the raw mail keeps them):"
    ]
    lines += [f"- {r.filename} ({r.content_type}, {r.size} bytes): {r.reason}" for r in refused]
    return "\n".join(lines)
