"""What intake does with the licence check (the ``[license]`` settings).

:func:`evaluate` runs the chain for a new request, at the message's arrival time, and returns a
:class:`LicenseDecision` that the registration step applies:

=================  ==================================================================
outcome            effect
=================  ==================================================================
``valid``          normal flow; the licence facts go on the request
``support_expired`` registered with label ``expired_label`` and ``expired_priority``; the
                   customer is mailed when support ended and how to renew (template
                   ``support_expired``), together with the acknowledgement
``unknown_serial`` ``serial`` is added to the items the acknowledgement asks for
``indeterminate``  registered with ``indeterminate_label`` and an internal comment: an
                   agent decides (a server was down, several kits match...)
``invalid``        any other refusal (revoked, key mismatch...): ``invalid_label`` and an
                   internal comment; support is the agent's call
``unchecked``      no validator configured: nothing changes
=================  ==================================================================

The serial comes from triage when it found one (``Completeness.found["serial"]``, or an
``Intake.serial`` attribute); otherwise triage's default serial patterns are looked for in the
subject and text (:func:`pixbridge.triage.serial.serial_from_text`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pixbridge.licensing.certificate import CONTENT_TYPE, looks_like_certificate
from pixbridge.licensing.codes import Code
from pixbridge.licensing.combine import LicenseCheck, run_chain
from pixbridge.licensing.records import save_check
from pixbridge.licensing.settings import LicensePolicySettings
from pixbridge.lifecycle.app import App
from pixbridge.lifecycle.mailer import Mailer, PreparedMail
from pixbridge.mail.screen import no_auto_replies_wanted
from pixbridge.models import (
    Attachment,
    CommentDraft,
    Completeness,
    Intake,
    LicenseQuery,
    LicenseVerdict,
    ParsedMessage,
    PriorityDecision,
)
from pixbridge.triage.finder import Finder, case_needles
from pixbridge.triage.serial import serial_from_text
from pixbridge.triage.settings import DEFAULT_SERIAL_PATTERNS

__all__ = ["LicenseDecision", "certificates_in", "decide", "evaluate", "recheck_on_reply"]

# The dongle id customers paste from the vendor's key tool. A Finder (pixbridge.triage.finder):
# the pattern starts with \b under (?i), which re would try at every character of the mail.
_DONGLE = Finder.of(
    re.compile(r"(?i)\b(guardant:\s*0x[0-9a-f]{1,8}|sentinel:\s*\d{1,20})\b"),
    *case_needles("gG", "uardant:"),
    *case_needles("sSſ", "entinel:"),  # ſ (long s) is an s to (?i)
)


@dataclass(frozen=True)
class LicenseDecision:
    """How a licence check changes the request being registered."""

    outcome: str
    check: LicenseCheck | None = None
    labels: tuple[str, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)
    ask: tuple[str, ...] = ()
    """Items to add to what the acknowledgement asks for (``serial``)."""
    priority_level: str | None = None
    priority_reason: str = ""
    agent_note: str | None = None
    """An internal comment for the agent, or ``None``."""
    notify_expired: bool = False

    def completeness(self, found: Completeness) -> Completeness:
        """*found* with this decision's items added to what is missing.

        A kit the validators found through the customer's address answers the serial question
        even when the mail did not quote it.
        """
        missing, facts = tuple(found.missing), dict(found.found)
        known = self.check.serial if self.check is not None else None
        if known and self.outcome != "unknown_serial" and "serial" in missing:
            missing = tuple(item for item in missing if item != "serial")
            facts.setdefault("serial", known)
        extra = tuple(item for item in self.ask if item not in missing)
        if extra or missing != tuple(found.missing):
            return replace(found, missing=(*missing, *extra), found=facts)
        return found

    def priority(self, decided: PriorityDecision) -> PriorityDecision:
        """*decided*, or the priority the licence outcome calls for."""
        if not self.priority_level:
            return decided
        return PriorityDecision(self.priority_level, self.priority_reason)

    def fields_with(self, missing: tuple[str, ...]) -> dict[str, str]:
        """The request's tracker fields: what is still *missing*, plus the licence facts."""
        base = {"missing": ", ".join(missing)} if missing else {}
        return {**base, **self.fields}

    def after_create(self, app: App, key: str, marker: str, recovering: bool) -> None:
        """Add the internal comment for the agent (idempotent by marker, like the request)."""
        if self.agent_note is None:
            return
        app.tracker.add_comment(
            key,
            CommentDraft(
                marker=f"{marker}:license",
                body=self.agent_note,
                public=False,
                author="pixbridge",
                recovering=recovering,
            ),
        )

    def notice(
        self,
        app: App,
        mailer: Mailer,
        key: str,
        *,
        cause: str,
        message: ParsedMessage,
        language: str,
        summary: str,
    ) -> PreparedMail | None:
        """The expired-support notice for request *key*, composed; ``None`` when none is due.

        Called before the registration's transaction, so composing never holds the write lock.
        """
        check = self.check
        if check is None or not self.notify_expired or no_auto_replies_wanted(message):
            return None
        policy = app.settings.license
        return mailer.prepare_reply(
            message,
            purpose="support_expired",
            cause=cause,
            request_key=key,
            language=language,
            values={
                "key": key,
                "summary": summary,
                "support_until": check.support_until.isoformat() if check.support_until else "",
                "serial": check.serial or "",
                "product": check.product or "",
                "renew_url": policy.renew_url,
                "renew_contact": policy.renew_contact,
            },
            at=check.as_of,
        )

    def record(self, app: App, mailer: Mailer, key: str, notice: PreparedMail | None) -> None:
        """Store the check with request *key* and queue its *notice* (caller's transaction)."""
        check = self.check
        if check is None:
            return
        save_check(app.store, key, self.outcome, check)
        app.store.log(
            "license_checked",
            at=check.as_of,
            request_key=key,
            outcome=self.outcome,
            verdict=check.verdict.value,
            codes=list(check.codes),
            source=check.source,
        )
        if notice is not None:
            mailer.put(notice)


def _serial(intake: Intake, found: Mapping[str, str]) -> str | None:
    from_triage: Any = getattr(intake, "serial", None) or found.get("serial")
    if isinstance(from_triage, str) and from_triage.strip():
        return from_triage.strip()
    # Fallback only (triage owns serial recognition): the built-in patterns, as triage reads
    # them by default, for a site whose completeness hook does not report the serial.
    message = intake.message
    return serial_from_text(f"{message.subject}\n{message.text}", DEFAULT_SERIAL_PATTERNS)


def _dongle(intake: Intake) -> str | None:
    from_triage: Any = getattr(intake, "dongle", None)
    if isinstance(from_triage, str) and from_triage.strip():
        return from_triage.strip()
    found = _DONGLE.search(intake.message.text)
    return found.group(1).replace(" ", "") if found else None


def certificates_in(
    attachments: tuple[Attachment, ...], policy: LicensePolicySettings
) -> tuple[bytes, ...]:
    """The attachments that are support certificates, as raw bytes."""
    extensions = tuple(e.lower() for e in policy.certificate_extensions)
    return tuple(
        a.data
        for a in attachments
        if a.filename.lower().endswith(extensions)
        or a.content_type.lower() == CONTENT_TYPE
        or looks_like_certificate(a.data)
    )


def evaluate(app: App, intake: Intake, found: Mapping[str, str] | None = None) -> LicenseDecision:
    """Check the entitlement of a new request's customer and decide what intake does.

    *found* is what triage's completeness check found (``Completeness.found``); its ``serial``
    is used before the built-in fallback pattern.
    """
    validators = app.license_validators()
    if not validators:
        return LicenseDecision("unchecked")
    query = LicenseQuery(
        at=intake.received_at,
        serial=_serial(intake, found or {}),
        dongle=_dongle(intake),
        customer=intake.customer,
        certificates=certificates_in(intake.message.attachments, app.settings.license),
    )
    return decide(run_chain(validators, query), app.settings.license)


def recheck_on_reply(
    app: App, intake: Intake, found: Completeness, key: str
) -> tuple[Completeness, LicenseDecision | None]:
    """Check the licence again when the customer answers our question for the serial.

    Only a request whose serial was unknown is checked again, with what the reply adds to what
    earlier messages supplied; the serial stays missing until the validators know it.
    """
    row = app.store.db.execute(
        "SELECT outcome FROM request_licenses WHERE request_key = ?", (key,)
    ).fetchone()
    if row is None or row["outcome"] != "unknown_serial":
        return found, None
    decision = evaluate(app, intake, {**intake.known, **found.found})
    return decision.completeness(found), decision


def decide(check: LicenseCheck, policy: LicensePolicySettings) -> LicenseDecision:
    """The :class:`LicenseDecision` for *check* under *policy* (see the module docstring)."""
    fields = {
        "license_verdict": check.verdict.value,
        "license_codes": ", ".join(check.codes),
        "support_allowed": "yes" if check.support_allowed else "no",
        "support_until": check.support_until.isoformat() if check.support_until else "",
        "serial": check.serial or "",
        "product": check.product or "",
        "dongle": check.dongle or "",
    }
    fields = {k: v for k, v in fields.items() if v}
    if check.verdict is LicenseVerdict.VALID and check.support_allowed:
        return LicenseDecision("valid", check, fields=fields)
    if check.verdict is LicenseVerdict.INDETERMINATE:
        return LicenseDecision(
            "indeterminate",
            check,
            labels=_label(policy.indeterminate_label),
            fields=fields,
            agent_note=_note(check, "The licence could not be checked: please decide."),
        )
    if check.primary == Code.SERIAL_NOT_FOUND:
        return LicenseDecision(
            "unknown_serial",
            check,
            labels=_label(policy.unknown_label),
            fields=fields,
            ask=("serial",) if policy.ask_for_serial else (),
        )
    if check.primary == Code.SUPPORT_EXPIRED:
        until = check.support_until.isoformat() if check.support_until else "an unknown date"
        return LicenseDecision(
            "support_expired",
            check,
            labels=_label(policy.expired_label),
            fields=fields,
            priority_level=policy.expired_priority or None,
            priority_reason=f"support expired on {until} ([license] expired_priority)",
            notify_expired=policy.notify_expired,
        )
    return LicenseDecision(
        "invalid",
        check,
        labels=_label(policy.invalid_label),
        fields=fields,
        agent_note=_note(check, "The licence check refused support: please review."),
    )


def _label(label: str) -> tuple[str, ...]:
    return (label,) if label else ()


def _note(check: LicenseCheck, headline: str) -> str:
    lines = [
        f"Licence check ({check.as_of.isoformat()}): {check.verdict.value}"
        f" [{', '.join(check.codes) or '-'}]. {headline}",
        f"serial: {check.serial or '-'}   product: {check.product or '-'}"
        f"   dongle: {check.dongle or '-'}",
        f"support until: {check.support_until or '-'}   decided by: {check.source or '-'}"
        f" (rule {check.rule})",
    ]
    lines += [
        f"  {r.source}: {r.verdict.value} [{', '.join(r.codes) or '-'}]"
        + (f" {r.evidence['error']}" if "error" in r.evidence else "")
        for r in check.results
    ]
    return "\n".join(lines)
