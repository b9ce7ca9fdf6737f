"""Running the licence-validator chain and combining its answers into one decision.

Every validator in ``[pipeline] license_validators`` is asked, in the configured order, about
the same :class:`~pixbridge.models.LicenseQuery` (evaluated at the message's arrival time, never
the wall clock). A validator that raises is recorded as ``indeterminate`` with
``adapter_unavailable``: a broken backend routes the request to a person, it never refuses it.

The combine rule, applied in this order (the first rule that matches decides):

1. **Revocation wins.** A result carrying ``revoked`` or ``cert_revoked`` decides: INVALID.
   Revoking is a deliberate act of the vendor; an older certificate must not revive a refunded kit.
2. **A valid answer wins.** The first VALID result (in chain order) decides: VALID. A signed
   certificate attached to the mail proves a renewal the registry file may not know yet, and a
   remote server may be more current than the file.
3. **A trusted refusal wins over doubt.** The first INVALID result that knows the kit (it has a
   code from :data:`~pixbridge.licensing.codes.KIT_FACTS`, e.g. ``support_expired``,
   ``key_mismatch``) decides: INVALID, even when another validator was unavailable.
4. **Doubt goes to a person.** Otherwise, if any result is INDETERMINATE (server down, several
   kits match the sender), the check is INDETERMINATE with the union of their codes.
5. **Nobody knows the kit.** Otherwise every validator said ``serial_not_found`` or showed only an
   untrustworthy certificate: INVALID with the union of all codes.

With no validator configured the chain is not run at all (see
:func:`pixbridge.licensing.policy.evaluate`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from pixbridge.adapters import LicenseValidator
from pixbridge.licensing.codes import KIT_FACTS, REVOCATIONS, Code, ordered
from pixbridge.models import LicenseQuery, LicenseResult, LicenseVerdict

__all__ = ["LicenseCheck", "combine", "run_chain"]

log = logging.getLogger("pixbridge.licensing")


@dataclass(frozen=True)
class LicenseCheck:
    """The combined answer of the chain: what intake acts on and the agent sees."""

    verdict: LicenseVerdict
    codes: tuple[str, ...]
    """The deciding failures, most fundamental first (empty when VALID)."""
    support_allowed: bool
    """THE decision: the kit is entitled to support at :attr:`as_of`."""
    support_until: date | None
    """Last day of support (inclusive), when the deciding validator knows it."""
    as_of: datetime
    """When the message arrived: the instant every validator checked against."""
    source: str
    """The validator whose answer decided (``""`` when none did)."""
    rule: str
    """Which combine rule decided: ``revoked``, ``valid``, ``invalid``, ``indeterminate``, ``unknown``."""
    serial: str | None = None
    product: str | None = None
    dongle: str | None = None
    evidence: Mapping[str, str] = field(default_factory=dict)
    """The deciding validator's evidence (certificate id, key id, matched by...)."""
    results: tuple[LicenseResult, ...] = ()
    """Every validator's own answer, in chain order."""

    @property
    def primary(self) -> str | None:
        """The most fundamental code, or ``None`` when there is none."""
        return self.codes[0] if self.codes else None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view (the ``license`` of a request's JSON, ``license check --json``)."""
        return {
            "verdict": self.verdict.value,
            "codes": list(self.codes),
            "primary": self.primary,
            "support_allowed": self.support_allowed,
            "support_until": self.support_until.isoformat() if self.support_until else None,
            "as_of": self.as_of.isoformat(),
            "source": self.source,
            "rule": self.rule,
            "serial": self.serial,
            "product": self.product,
            "dongle": self.dongle,
            "evidence": dict(self.evidence),
            "results": [
                {
                    "source": r.source,
                    "verdict": r.verdict.value,
                    "codes": list(r.codes),
                    "support_allowed": r.support_allowed,
                    "support_until": r.support_until.isoformat() if r.support_until else None,
                }
                for r in self.results
            ],
        }


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def run_chain(validators: Sequence[LicenseValidator], query: LicenseQuery) -> LicenseCheck:
    """Ask every validator about *query* and combine the answers (see the module docstring)."""
    results = []
    for validator in validators:
        try:
            result = validator.validate(query)
        except Exception as exc:
            # A validator must not raise for a bad licence; if it raises anyway the backend is
            # broken, and a broken backend is a person's decision, never a refusal.
            log.warning("licence validator %r failed: %s", validator.name, exc, exc_info=True)
            result = LicenseResult(
                LicenseVerdict.INDETERMINATE,
                validator.name,
                (Code.ADAPTER_UNAVAILABLE.value,),
                evidence={"error": f"{type(exc).__name__}: {exc}"[:200]},
            )
        results.append(result)
    return combine(results, query)


def _knows_kit(result: LicenseResult) -> bool:
    return result.verdict is LicenseVerdict.INVALID and any(c in KIT_FACTS for c in result.codes)


def combine(results: Sequence[LicenseResult], query: LicenseQuery) -> LicenseCheck:
    """One :class:`LicenseCheck` from the chain's *results*, by the documented rule."""
    as_of = _aware(query.at)
    for result in results:
        if any(c in REVOCATIONS for c in result.codes):
            return _decided(result, "revoked", results, query, as_of)
    for result in results:
        if result.verdict is LicenseVerdict.VALID:
            return _decided(result, "valid", results, query, as_of)
    for result in results:
        if _knows_kit(result):
            return _decided(result, "invalid", results, query, as_of)
    doubtful = [r for r in results if r.verdict is LicenseVerdict.INDETERMINATE]
    if doubtful:
        first = doubtful[0]
        return LicenseCheck(
            verdict=LicenseVerdict.INDETERMINATE,
            codes=ordered(c for r in doubtful for c in r.codes)
            or (Code.ADAPTER_UNAVAILABLE.value,),
            support_allowed=False,
            support_until=None,
            as_of=as_of,
            source=first.source,
            rule="indeterminate",
            serial=query.serial,
            product=query.product,
            dongle=query.dongle,
            evidence=dict(first.evidence),
            results=tuple(results),
        )
    return LicenseCheck(
        verdict=LicenseVerdict.INVALID,
        codes=ordered(c for r in results for c in r.codes) or (Code.SERIAL_NOT_FOUND.value,),
        support_allowed=False,
        support_until=None,
        as_of=as_of,
        source=results[0].source if results else "",
        rule="unknown",
        serial=query.serial,
        product=query.product,
        dongle=query.dongle,
        evidence=dict(results[0].evidence) if results else {},
        results=tuple(results),
    )


def _decided(
    result: LicenseResult,
    rule: str,
    results: Sequence[LicenseResult],
    query: LicenseQuery,
    as_of: datetime,
) -> LicenseCheck:
    evidence = result.evidence
    valid = result.verdict is LicenseVerdict.VALID
    return LicenseCheck(
        verdict=LicenseVerdict.INVALID if rule == "revoked" else result.verdict,
        codes=ordered(result.codes),
        support_allowed=valid and result.support_allowed and rule != "revoked",
        support_until=result.support_until,
        as_of=as_of,
        source=result.source,
        rule=rule,
        serial=evidence.get("serial") or query.serial,
        product=evidence.get("product") or query.product,
        dongle=evidence.get("dongle") or query.dongle,
        evidence=dict(evidence),
        results=tuple(results),
    )
