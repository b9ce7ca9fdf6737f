"""Assignment strategies: who takes a new request, and why.

The product is recognised from keywords (``[triage.products]``), the product's team from
``[triage.assignment] product_teams`` (else ``default_team``); the strategy then picks a member:

- ``rules``: the team's lead (its first member);
- ``round_robin``: the members in turn; whose turn it is lives in the state store, so it survives
  restarts (a registration that is retried after a failure may use up a turn);
- ``fewest_open``: the member with the fewest requests not yet completed (ties: team order);
- ``tracker_default``: nobody; the tracker's default assignee takes it.

With no team for the request every strategy leaves it to the tracker.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from pixbridge.models import AssigneeDecision, ParsedMessage
from pixbridge.triage.settings import TriageSettings

__all__ = [
    "STRATEGY_FUNCTIONS",
    "AssignmentState",
    "SqliteAssignmentState",
    "choose",
    "detect_product",
]


class AssignmentState(Protocol):
    """What the stateful strategies need to remember and count."""

    def next_turn(self, team: str, at: datetime) -> int:
        """A number that grows by one on every call for *team* (starting at 0)."""

    def open_counts(self, members: Sequence[str]) -> Mapping[str, int]:
        """How many requests not yet completed each of *members* has."""


class SqliteAssignmentState:
    """:class:`AssignmentState` kept in the state database (``assignment_turns`` table).

    Opens its own short connection per call: decision hooks run outside the orchestrator's
    transactions, and a separate connection cannot be caught in one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise FileNotFoundError(
                f"the state database {self.path} does not exist; round_robin and fewest_open "
                "assignment need it (is data_dir right?)"
            )
        return sqlite3.connect(self.path, isolation_level=None, timeout=30.0)

    def next_turn(self, team: str, at: datetime) -> int:
        """Take the next turn of *team*."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT turn FROM assignment_turns WHERE team = ?", (team,)
            ).fetchone()
            turn = int(row[0]) if row else 0
            conn.execute(
                "INSERT INTO assignment_turns (team, turn, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (team) DO UPDATE SET turn = excluded.turn,"
                " updated_at = excluded.updated_at",
                (team, turn + 1, at.isoformat()),
            )
            conn.execute("COMMIT")
            return turn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def open_counts(self, members: Sequence[str]) -> Mapping[str, int]:
        """Requests not completed, per member."""
        if not members:
            return {}
        conn = self._connect()
        try:
            marks = ",".join("?" * len(members))
            rows = conn.execute(
                f"SELECT assignee, COUNT(*) FROM requests WHERE status != 'completed'"
                f" AND assignee IN ({marks}) GROUP BY assignee",
                list(members),
            ).fetchall()
        finally:
            conn.close()
        counts = {m: 0 for m in members}
        counts.update({str(r[0]): int(r[1]) for r in rows})
        return counts


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
