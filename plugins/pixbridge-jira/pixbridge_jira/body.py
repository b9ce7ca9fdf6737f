"""Descriptions and comment bodies: customer text plus the facts that have no Jira field.

The customer's address and any fact not mapped to a custom field go into a short block at the
top of the description, above a rule, so agents see them; :func:`split_description` reads them
back. The whole text is then made inert for the deployment: ADF text nodes on Cloud, escaped
wiki markup on Data Center.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pixbridge_jira import adf, markup

__all__ = ["RULE", "compose_description", "decode", "encode", "split_description"]

RULE = "────────"
"""The line between the facts block and the customer's text."""

LABELS = {
    "customer": "From",
    "serial": "Serial",
    "dongle": "Dongle",
    "os_version": "OS version",
    "license": "Licence",
    "support_until": "Support until",
    "missing": "Missing",
}
_BY_LABEL = {label: fact for fact, label in LABELS.items()}


def compose_description(text: str, facts: Mapping[str, str]) -> str:
    """*text* below a block listing *facts* (none: *text* as it is)."""
    lines = [f"{LABELS.get(k, k)}: {_one_line(v)}" for k, v in facts.items() if v]
    if not lines:
        return text
    return "\n".join([*lines, RULE, text])


def split_description(text: str) -> tuple[str, dict[str, str]]:
    """The customer's text and the facts block of a description made by :func:`compose_description`."""
    head, sep, rest = text.partition("\n" + RULE + "\n")
    if not sep:
        return text, {}
    facts: dict[str, str] = {}
    for line in head.split("\n"):
        label, colon, value = line.partition(": ")
        if not colon or label not in _BY_LABEL:
            return text, {}
        facts[_BY_LABEL[label]] = value
    return rest, facts


def encode(text: str, cloud: bool) -> Any:
    """*text* as an inert body: an ADF document (Cloud) or escaped wiki markup (DC)."""
    return adf.from_text(text) if cloud else markup.escape(text)


def decode(body: Any, cloud: bool) -> str:
    """The text of a body as Jira returns it (ADF on Cloud's v3 API, wiki markup on DC)."""
    if adf.is_document(body) or cloud:
        return adf.to_text(body)
    return markup.unescape(body or "")


def _one_line(value: str) -> str:
    return " ".join(str(value).split())
