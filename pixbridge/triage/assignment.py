"""Assignment strategies: who takes a new request, and why.

The product is recognised from keywords (``[triage.products]``), the product's team from
``[triage.assignment] product_teams`` (else ``default_team``); the strategy then picks a member:

- ``rules``: the team's lead (its first member);
- ``round_robin``: the members in turn; whose turn it is lives in the state store, so it survives
  restarts and is shared by every instance on one database (a registration that is retried
  after a failure may use up a turn);
- ``fewest_open``: the member with the fewest requests not yet completed (ties: team order);
- ``tracker_default``: nobody; the tracker's default assignee takes it.

With no team for the request every strategy leaves it to the tracker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from pixbridge.models import AssigneeDecision, ParsedMessage
from pixbridge.triage.settings import TriageSettings

__all__ = [
    "STRATEGY_FUNCTIONS",
    "AssignmentState",
    "LazyState",
    "choose",
    "detect_product",
]


class AssignmentState(Protocol):
    """What the stateful strategies need to remember and count."""

    def next_turn(self, team: str, at: datetime) -> int:
        """A number that grows by one on every call for *team* (starting at 0)."""

    def open_counts(self, members: Sequence[str]) -> Mapping[str, int]:
        """How many requests not yet completed each of *members* has."""


class LazyState:
    """An :class:`AssignmentState` reached only when a strategy asks for it.

    The state store satisfies :class:`AssignmentState` itself (``assignment_turns`` and
    ``requests``); this wrapper lets the stateless strategies run without opening it.
    """

    def __init__(self, get: Callable[[], AssignmentState]) -> None:
        self._get = get

    def next_turn(self, team: str, at: datetime) -> int:
        """Take the next turn of *team*."""
        return self._get().next_turn(team, at)

    def open_counts(self, members: Sequence[str]) -> Mapping[str, int]:
        """Requests not completed, per member."""
        return self._get().open_counts(members)


def detect_product(message: ParsedMessage, settings: TriageSettings) -> str | None:
    """The product the message is about: the keyword met first, in the subject, then the body."""
    for text in (message.subject, message.text):
        lowered = text.lower()
        best: tuple[int, str] | None = None
        for product, keywords in settings.products.items():
            for keyword in keywords:
                at = lowered.find(keyword.lower())
                if at >= 0 and (best is None or at < best[0]):
                    best = (at, product)
        if best is not None:
            return best[1]
    return None


Strategy = Callable[[str, list[str], AssignmentState, datetime], tuple[str, str]]


def _lead(team: str, members: list[str], state: AssignmentState, at: datetime) -> tuple[str, str]:
    return members[0], f"lead of team {team}"


def _round_robin(
    team: str, members: list[str], state: AssignmentState, at: datetime
) -> tuple[str, str]:
    turn = state.next_turn(team, at)
    member = members[turn % len(members)]
    return member, f"round-robin in team {team} (turn {turn + 1})"


def _fewest_open(
    team: str, members: list[str], state: AssignmentState, at: datetime
) -> tuple[str, str]:
    counts = state.open_counts(members)
    member = min(members, key=lambda m: (counts.get(m, 0), members.index(m)))
    return member, f"fewest open requests in team {team} ({counts.get(member, 0)} open)"


STRATEGY_FUNCTIONS: dict[str, Strategy] = {
    "rules": _lead,
    "round_robin": _round_robin,
    "fewest_open": _fewest_open,
}
"""The strategies that pick a team member; ``tracker_default`` picks nobody."""


def choose(
    message: ParsedMessage,
    settings: TriageSettings,
    state: AssignmentState,
    at: datetime,
) -> AssigneeDecision:
    """The assignee of a new request by the configured strategy, with the reason."""
    config = settings.assignment
    if config.strategy == "tracker_default":
        return AssigneeDecision(None, "the tracker's default assignee (strategy tracker_default)")
    product = detect_product(message, settings)
    team = config.product_teams.get(product or "") or config.default_team
    if team is None:
        what = f"no team handles {product}" if product else "the product was not recognised"
        return AssigneeDecision(None, f"the tracker's default assignee ({what})")
    members = config.teams[team]
    member, why = STRATEGY_FUNCTIONS[config.strategy](team, members, state, at)
    origin = f"product {product} → team {team}" if product else f"default team {team}"
    return AssigneeDecision(member, f"{origin}; {why}")
