"""The typed rows the state store hands out, and how a database row becomes one."""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

__all__ = [
    "LeaseRow",
    "MessageRow",
    "OutboxRow",
    "RequestRow",
    "from_row",
    "ts",
]

R = TypeVar("R")


def ts(value: datetime) -> str:
    """A time as stored: ISO 8601 text (UTC in practice, so text order is time order)."""
    return value.isoformat()


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


# ---------------------------------------------------------------------- database row -> dataclass

_STORED_AS: dict[Any, Callable[[Any], Any]] = {
    datetime: datetime.fromisoformat,  # ISO 8601 text
    bool: bool,  # 0 or 1
}


def _converter(hint: Any) -> Callable[[Any], Any] | None:
    """How a column becomes a field of type *hint*; ``None``: as it is (text, numbers)."""
    origin = get_origin(hint)
    if origin in (types.UnionType, Union):
        # ``X | None``: NULL stays None, anything else is converted as X.
        inner = _converter(next(a for a in get_args(hint) if a is not type(None)))
        return None if inner is None else (lambda v: None if v is None else inner(v))
    if origin in (list, dict, Mapping):
        return json.loads  # JSON text
    return _STORED_AS.get(hint)


_Plan = tuple[tuple[str, Callable[[Any], Any] | None], ...]
_PLANS: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    """Each field of dataclass *cls* with its converter, worked out once per class."""
    plan = _PLANS.get(cls)
    if plan is None:
        hints = get_type_hints(cls)
        plan = _PLANS[cls] = tuple((f.name, _converter(hints[f.name])) for f in fields(cls))
    return plan


def from_row(cls: type[R], row: Any) -> R:
    """The dataclass *cls* from a database *row* that has a column for each of its fields.

    A column is converted from how the store keeps it by the field's type: ``datetime`` from
    ISO 8601 text, ``bool`` from 0/1, ``list``/``dict``/``Mapping`` from JSON text; any other
    field (text, numbers, bytes) takes the column as it is, and NULL stays ``None``.
    """
    return cls(**{name: row[name] if to is None else to(row[name]) for name, to in _plan(cls)})
