"""``[triage]``: what a complete request carries, how serials, priority and assignees are found.

Every table is optional; the defaults follow the vendor's support regulation (a request needs a
description, logs or screenshots, the OS version and the product's serial number).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DEFAULT_SERIAL_PATTERNS",
    "ITEMS",
    "LEVELS",
    "STRATEGIES",
    "AssignmentSettings",
    "TriageSettings",
]

ITEMS: tuple[str, ...] = ("description", "attachments", "os_version", "serial")
"""The required items pixbridge can recognise, in the order they are listed to the customer."""

LEVELS: tuple[str, ...] = ("low", "normal", "high", "blocker")
"""Priority levels, lowest first."""

STRATEGIES: tuple[str, ...] = ("rules", "round_robin", "fewest_open", "tracker_default")
"""Built-in assignment strategies (see :mod:`pixbridge.triage.assignment`)."""

DEFAULT_SERIAL_PATTERNS: tuple[str, ...] = (
    # The vendor's own format: product code, year, sequence (PTM-2024-00173, PPS-2023-01942).
    r"(?i)\b(?P<serial>P[A-Z]{2}[-\s]?\d{4}[-\s]?\d{4,6})\b",
    # A labelled serial in English or Russian, whatever its format.
    r"(?i)(?<!\w)(?:serial\s*(?:number|no\.?|#)?|s/n|sn|серийн\w*\s+номер\w*|серийник\w*|"
    r"заводск\w*\s+номер\w*)\s*[:#№=-]?\s*(?P<serial>[A-Z0-9][A-Z0-9-]{3,39})",
)
"""The default ``[triage] serial_patterns``; the licence check's fallback uses them too."""

_DEFAULT_PRODUCTS = {
    "PIX Task Mining": ["pix task mining", "task mining", "pixtm", "PTM-"],
    "PIX Process Studio": ["pix process studio", "process studio", "pixps", "PPS-"],
}

_DEFAULT_PRIORITY_MAP = {
    "blocker": "Highest",
    "high": "High",
    "normal": "Medium",
    "low": "Low",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignmentSettings(_Section):
    """``[triage.assignment]``: who takes a new request."""

    strategy: str = "rules"
    """``rules`` (the product's team lead), ``round_robin`` or ``fewest_open`` (a member of the
    product's team), ``tracker_default`` (leave it to the tracker)."""
    teams: dict[str, list[str]] = Field(default_factory=dict)
    """Team name to its members (tracker user names); the first member is the lead."""
    product_teams: dict[str, str] = Field(default_factory=dict)
    """Product name (a key of ``[triage.products]``) to the team that handles it."""
    default_team: str | None = None
    """The team for a request whose product is not recognised (none: the tracker's default)."""

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        if value not in STRATEGIES:
            raise ValueError(f"unknown strategy {value!r}; choose one of {', '.join(STRATEGIES)}")
        return value

    @model_validator(mode="after")
    def _teams_exist(self) -> AssignmentSettings:
        named = [*self.product_teams.values(), *([self.default_team] if self.default_team else [])]
        unknown = sorted({t for t in named if t not in self.teams})
        if unknown:
            raise ValueError(
                f"team(s) {', '.join(unknown)} not defined in [triage.assignment.teams]"
            )
        empty = sorted(name for name, members in self.teams.items() if not members)
        if empty:
            raise ValueError(f"team(s) {', '.join(empty)} have no members")
        return self


class TriageSettings(_Section):
    """``[triage]``: completeness, serial numbers, priority and assignment."""

    required: list[str] = Field(default_factory=lambda: list(ITEMS))
    """Items a request must carry before work starts; a subset of ``ITEMS``."""
    min_description_words: int = Field(default=5, ge=0)
    """Words (outside quoted text) a message needs for its description to count."""
    serial_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_SERIAL_PATTERNS))
    """Regular expressions finding a serial in the text; group ``serial`` (else the whole match)."""
    contacts: dict[str, str] = Field(default_factory=dict)
    """Address or mail domain of a customer to the serial of their kit (used when the mail names none)."""
    products: dict[str, list[str]] = Field(default_factory=lambda: dict(_DEFAULT_PRODUCTS))
    """Product name to the keywords (case-insensitive) that name it in a subject or body."""
    levels: dict[str, str] = Field(default_factory=dict)
    """Address or mail domain to the customer's support level (e.g. ``premium``)."""
    level_steps: dict[str, int] = Field(default_factory=lambda: {"premium": 1})
    """Support level to the steps it raises (negative: lowers) the priority; never to ``blocker``."""
    blocking_patterns: list[str] = Field(default_factory=list)
    """Extra regular expressions that mark a blocking problem, added to the built-in rules."""
    priority_map: dict[str, str] = Field(default_factory=lambda: dict(_DEFAULT_PRIORITY_MAP))
    """Priority level to the tracker's priority name; a level not listed is passed as is."""
    assignment: AssignmentSettings = Field(default_factory=AssignmentSettings)

    @field_validator("required")
    @classmethod
    def _known_items(cls, value: list[str]) -> list[str]:
        unknown = [item for item in value if item not in ITEMS]
        if unknown:
            raise ValueError(
                f"unknown required item(s) {', '.join(unknown)}; choose from {', '.join(ITEMS)}"
            )
        return value

    @field_validator("serial_patterns", "blocking_patterns")
    @classmethod
    def _valid_patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"pattern {pattern!r} is not a valid regular expression: {exc}"
                ) from None
        return value

    @field_validator("priority_map")
    @classmethod
    def _known_levels(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = [level for level in value if level not in LEVELS]
        if unknown:
            raise ValueError(
                f"unknown priority level(s) {', '.join(unknown)}; choose from {', '.join(LEVELS)}"
            )
        return value

    @field_validator("contacts", "levels")
    @classmethod
    def _lower_keys(cls, value: dict[str, str]) -> dict[str, str]:
        return {key.strip().lower().lstrip("@"): item for key, item in value.items()}

    def for_sender(self, table: dict[str, str], address: str) -> tuple[str, str] | None:
        """The entry of *table* for *address*: by the address, then by its domain; with the key."""
        address = address.strip().lower()
        if address in table:
            return address, table[address]
        domain = address.rpartition("@")[2]
        if domain and domain in table:
            return domain, table[domain]
        return None
