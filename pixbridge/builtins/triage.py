"""pixbridge's built-in triage: completeness, priority and assignee, all ``trylast``.

This plugin is essential: it cannot be disabled, so each of these decision hooks always has an
answer. A site plugin replaces any one of them by implementing the hook and returning a value
(``None`` hands the decision on to the next plugin and finally to these defaults).
"""

from __future__ import annotations

from pixbridge.context import RunContext
from pixbridge.markers import hookimpl
from pixbridge.models import AssigneeDecision, Completeness, Intake, PriorityDecision
from pixbridge.triage import assignment, completeness, priority


@hookimpl(trylast=True)
def check_completeness(intake: Intake, ctx: RunContext) -> Completeness:
    """The vendor's checklist: description, logs or screenshots, OS version, serial number."""
    return completeness.check(intake.message, intake.customer, ctx.settings.triage, intake.known)


@hookimpl(trylast=True)
def decide_priority(intake: Intake, ctx: RunContext) -> PriorityDecision:
    """Blocking problems and explicit markers, moved by the customer's support level."""
    return priority.classify(intake.message, intake.customer, ctx.settings.triage)


@hookimpl(trylast=True)
def choose_assignee(intake: Intake, ctx: RunContext) -> AssigneeDecision:
    """The strategy of ``[triage.assignment]``: rules, round-robin, fewest open, tracker default."""
    state = assignment.LazyState(lambda: ctx.store)  # the state store, only if a strategy asks
    return assignment.choose(intake.message, ctx.settings.triage, state, intake.received_at)
