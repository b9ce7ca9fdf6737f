"""The typed rows the state store hands out, and how a database row becomes one."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "LeaseRow",
    "MessageRow",
    "OutboxRow",
    "RequestRow",
    "lease_row",
    "message_row",
    "outbox_row",
    "request_row",
    "ts",
]


def ts(value: datetime) -> str:
    """A time as stored: ISO 8601 text (UTC in practice, so text order is time order)."""
    return value.isoformat()


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class MessageRow:
    """One accepted message (without its raw bytes)."""

    id: int
    mailbox: str
    source_ref: str
    message_id: str | None
    content_hash: str
    size: int
    received_at: datetime
    state: str
    outcome: str | None
    attempts: int
    last_error: str | None
    verdict: str | None
    verdict_reason: str | None
    sender: str | None
    subject: str | None
    request_key: str | None
    marker: str | None
    priority_rank: int
    mailbox_acked: bool
    claimed_by: str | None = None
    """The instance that claimed the message (:meth:`StateStore.claim_work`), if any."""
    claim_until: datetime | None = None
    """When that claim runs out."""


@dataclass(frozen=True)
class RequestRow:
    """What pixbridge remembers about a request it registered."""

    key: str
    customer: str
    language: str
    status: str
    summary: str
    priority: str
    priority_reason: str
    assignee: str | None
    assignee_reason: str
    follows: str | None
    origin_message: int | None
    thread_id: str | None
    missing: list[str]
    created_at: datetime
    updated_at: datetime
    os_version: str | None = None
    """The OS version triage found in the request's messages."""
    serial: str | None = None
    """The product serial triage found (in a message, or by a known contact)."""
    facts: dict[str, str] = field(default_factory=dict)
    """Every required item found so far: item to what was found (merged over the replies)."""


@dataclass(frozen=True)
class OutboxRow:
    """A mail waiting to be sent (or already sent)."""

    id: int
    message_id: str
    cause: str
    request_key: str | None
    purpose: str
    recipient: str
    raw: bytes
    state: str
    attempts: int
    claimed_by: str | None = None
    """The instance that claimed the mail (:meth:`StateStore.claim_outbox`), if any."""
    claim_until: datetime | None = None


@dataclass(frozen=True)
class LeaseRow:
    """A named role held by one instance until it expires (:meth:`StateStore.acquire_lease`)."""

    name: str
    holder: str
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime


def message_row(row: Any) -> MessageRow:
    """A ``messages`` row."""
    return MessageRow(
        id=row["id"],
        mailbox=row["mailbox"],
        source_ref=row["source_ref"],
        message_id=row["message_id"],
        content_hash=row["content_hash"],
        size=row["size"],
        received_at=datetime.fromisoformat(row["received_at"]),
        state=row["state"],
        outcome=row["outcome"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        verdict=row["verdict"],
        verdict_reason=row["verdict_reason"],
        sender=row["sender"],
        subject=row["subject"],
        request_key=row["request_key"],
        marker=row["marker"],
        priority_rank=row["priority_rank"],
        mailbox_acked=bool(row["mailbox_acked"]),
        claimed_by=row["claimed_by"],
        claim_until=_when(row["claim_until"]),
    )


def outbox_row(row: Any) -> OutboxRow:
    """An ``outbox`` row."""
    return OutboxRow(
        id=row["id"],
        message_id=row["message_id"],
        cause=row["cause"],
        request_key=row["request_key"],
        purpose=row["purpose"],
        recipient=row["recipient"],
        raw=bytes(row["raw"]),
        state=row["state"],
        attempts=row["attempts"],
        claimed_by=row["claimed_by"],
        claim_until=_when(row["claim_until"]),
    )


def request_row(row: Any) -> RequestRow:
    """A ``requests`` row."""
    return RequestRow(
        key=row["key"],
        customer=row["customer"],
        language=row["language"],
        status=row["status"],
        summary=row["summary"],
        priority=row["priority"],
        priority_reason=row["priority_reason"],
        assignee=row["assignee"],
        assignee_reason=row["assignee_reason"],
        follows=row["follows"],
        origin_message=row["origin_message"],
        thread_id=row["thread_id"],
        missing=json.loads(row["missing"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        os_version=row["os_version"],
        serial=row["serial"],
        facts=json.loads(row["facts"]),
    )


def lease_row(row: Any) -> LeaseRow:
    """A ``leases`` row."""
    return LeaseRow(
        name=row["name"],
        holder=row["holder"],
        acquired_at=datetime.fromisoformat(row["acquired_at"]),
        renewed_at=datetime.fromisoformat(row["renewed_at"]),
        expires_at=datetime.fromisoformat(row["expires_at"]),
    )
