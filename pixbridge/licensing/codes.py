"""The failure codes of a licence check, ordered by precedence (most fundamental first).

Validators report codes as plain strings (``LicenseResult.codes``) so third-party validators can
add their own; the ones pixbridge knows are the members of :class:`Code`, and their order is the
order checks are made in (Keygen's model: the first failing check is the *primary* code). A code
pixbridge does not know sorts after all known ones.

Two groups matter to the combine rule (:mod:`pixbridge.licensing.combine`):

- :data:`KIT_FACTS`: the validator found the kit and knows something wrong with it;
- :data:`NO_KNOWLEDGE`: the validator could not say anything trustworthy about the kit (it does
  not know the serial, or the certificate it was shown cannot be trusted).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

__all__ = ["KIT_FACTS", "NO_KNOWLEDGE", "REVOCATIONS", "Code", "ordered", "primary", "rank"]


class Code(StrEnum):
    """Known failure codes, in precedence order."""

    SERIAL_NOT_FOUND = "serial_not_found"
    """The validator knows no kit with this serial (nor, without a serial, for this sender)."""
    REVOKED = "revoked"
    """The kit was refunded, stolen or replaced: no support at all."""
    PRODUCT_MISMATCH = "product_mismatch"
    """The request names another product than the kit's."""
    KEY_REQUIRED = "key_required"
    """The kit has a hardware key (dongle) and the validator requires its id."""
    KEY_MISMATCH = "key_mismatch"
    """The dongle id the customer gives is not the kit's."""
    CERT_MALFORMED = "cert_malformed"
    """A support certificate cannot be read (armor, envelope or payload broken)."""
    CERT_UNTRUSTED_KEY = "cert_untrusted_key"
    """A certificate is signed with a key id that is not in the trust store."""
    CERT_BAD_SIGNATURE = "cert_bad_signature"
    """A certificate's signature does not match its bytes (altered or forged)."""
    CERT_REVOKED = "cert_revoked"
    """The certificate's id is on the revocation list."""
    CERT_NOT_YET_VALID = "cert_not_yet_valid"
    """The certificate's support window (or its issue time) is after the message arrived."""
    LICENSE_EXPIRED = "license_expired"
    """The right to use the product ended (rare: most kits are perpetual)."""
    SUPPORT_NOT_STARTED = "support_not_started"
    """The registry's support window starts after the message arrived."""
    SUPPORT_EXPIRED = "support_expired"
    """The support window ended before the message arrived."""
    SERIAL_AMBIGUOUS = "serial_ambiguous"
    """Without a serial, several kits match the sender: a person asks which one."""
    REMOTE_UNRECOGNISED = "remote_unrecognised"
    """A remote licensing server answered with a code pixbridge does not know."""
    ADAPTER_UNAVAILABLE = "adapter_unavailable"
    """The validator could not decide (timeout, 5xx, 429, error): a person decides."""


_RANK = {code.value: number for number, code in enumerate(Code)}

REVOCATIONS: frozenset[str] = frozenset({Code.REVOKED, Code.CERT_REVOKED})
"""Codes that override every other answer of the chain."""

NO_KNOWLEDGE: frozenset[str] = frozenset(
    {Code.SERIAL_NOT_FOUND, Code.CERT_MALFORMED, Code.CERT_UNTRUSTED_KEY, Code.CERT_BAD_SIGNATURE}
)
"""An INVALID result with only these codes says nothing trustworthy about the kit."""

KIT_FACTS: frozenset[str] = frozenset(
    {
        Code.REVOKED,
        Code.PRODUCT_MISMATCH,
        Code.KEY_REQUIRED,
        Code.KEY_MISMATCH,
        Code.CERT_REVOKED,
        Code.CERT_NOT_YET_VALID,
        Code.LICENSE_EXPIRED,
        Code.SUPPORT_NOT_STARTED,
        Code.SUPPORT_EXPIRED,
    }
)
"""Codes that state a fact about a kit the validator found (and trusts)."""


def rank(code: str) -> int:
    """Precedence of *code*: lower is more fundamental; unknown codes come last."""
    return _RANK.get(code, len(_RANK))


def ordered(codes: Iterable[str]) -> tuple[str, ...]:
    """*codes* without duplicates, in precedence order (unknown ones by name, at the end)."""
    return tuple(sorted(set(codes), key=lambda c: (rank(c), c)))


def primary(codes: Iterable[str]) -> str | None:
    """The most fundamental of *codes*, or ``None`` when there are none."""
    found = ordered(codes)
    return found[0] if found else None
