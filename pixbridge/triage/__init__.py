"""Triage by the vendor's rules: complete requests, blocking problems first, assignment.

The pieces are plain functions over a :class:`~pixbridge.models.ParsedMessage` and
:class:`~pixbridge.triage.settings.TriageSettings`; :mod:`pixbridge.builtins.triage` wires them to
the decision hooks as ``trylast`` defaults, so a site plugin can replace any one of them.
"""

from __future__ import annotations

from pixbridge.triage.settings import ITEMS, LEVELS, STRATEGIES, AssignmentSettings, TriageSettings

__all__ = ["ITEMS", "LEVELS", "STRATEGIES", "AssignmentSettings", "TriageSettings"]
