"""The licence check stored with a request (table ``request_licenses``) and its JSON view."""

from __future__ import annotations

import json
from typing import Any

from pixbridge.licensing.combine import LicenseCheck
from pixbridge.store.state import StateStore

__all__ = ["license_view", "save_check"]

_COLUMNS = (
    "request_key", "verdict", "codes", "support_allowed", "support_until", "outcome", "serial",
    "product", "dongle", "source", "rule", "evidence", "as_of",
)  # fmt: skip
_SAVE = (
    f"INSERT INTO request_licenses ({', '.join(_COLUMNS)}) VALUES ({','.join('?' * len(_COLUMNS))})"
    " ON CONFLICT (request_key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
)
"""A repeated check replaces every column of the request's row."""


def save_check(store: StateStore, key: str, outcome: str, check: LicenseCheck) -> None:
    """Store *check* for request *key* (in the caller's transaction); a repeat replaces it."""
    store.db.execute(
        _SAVE,
        (
            key,
            check.verdict.value,
            json.dumps(list(check.codes)),
            int(check.support_allowed),
            check.support_until.isoformat() if check.support_until else None,
            outcome,
            check.serial,
            check.product,
            check.dongle,
            check.source,
            check.rule,
            json.dumps(check.as_dict(), default=str),
            check.as_of.isoformat(),
        ),
    )


def license_view(store: StateStore, key: str) -> dict[str, Any] | None:
    """The ``license`` of request *key*'s JSON, or ``None`` when it was not checked."""
    row = store.db.execute(
        "SELECT * FROM request_licenses WHERE request_key = ?", (key,)
    ).fetchone()
    if row is None:
        return None
    detail = json.loads(row["evidence"])
    return {
        "verdict": row["verdict"],
        "codes": json.loads(row["codes"]),
        "support_allowed": bool(row["support_allowed"]),
        "support_until": row["support_until"],
        "outcome": row["outcome"],
        "serial": row["serial"],
        "product": row["product"],
        "dongle": row["dongle"],
        "source": row["source"],
        "rule": row["rule"],
        "as_of": row["as_of"],
        "evidence": detail.get("evidence", {}),
        "results": detail.get("results", []),
    }
