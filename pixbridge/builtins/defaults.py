"""pixbridge's own answers to the decision hooks, all ``trylast`` so any plugin can replace them.

This plugin is essential: it cannot be disabled, so every decision hook always has an answer,
and the default state store backend (``sqlite``) is always installed.
The triage decisions (completeness, priority, assignee) are in :mod:`pixbridge.builtins.triage`.
"""

from __future__ import annotations

from pixbridge.context import RunContext
from pixbridge.markers import hookimpl
from pixbridge.models import ParsedMessage, Screening
from pixbridge.registry import AdapterRegistry
from pixbridge.store.config import open_sqlite


@hookimpl
def register_adapters(registry: AdapterRegistry) -> None:
    """The built-in state store backend: SQLite, ``state.sqlite3`` in the data directory."""
    registry.add_store_backend("sqlite", open_sqlite)


@hookimpl(trylast=True)
def screen_message(message: ParsedMessage, ctx: RunContext) -> Screening:
    """Header rules for automated mail (RFC 3834, Precedence, List-*, reports, null sender)."""
    from pixbridge.mail.screen import screen

    support = ctx.settings.support
    return screen(message, own_addresses=[support.address, *support.own_addresses])


@hookimpl(trylast=True)
def detect_language(message: ParsedMessage, ctx: RunContext) -> str:
    """The language found by the parser, else the configured default."""
    languages = ctx.settings.support.languages
    if message.language in languages:
        return message.language
    return ctx.settings.support.default_language


@hookimpl(trylast=True)
def choose_template(purpose: str, language: str, ctx: RunContext) -> str:
    """``<purpose>.<language>.txt`` if that template exists, else the English one."""
    name = f"{purpose}.{language}.txt"
    if (ctx.settings.templates_dir / name).is_file():
        return name
    return f"{purpose}.en.txt"
