"""A typed facade over the plugin manager: the only way the core calls hooks.

pluggy's ``pm.hook.<name>(...)`` calls are not statically typed; every hook has one keyword-only,
typed method here instead, and a meta-test keeps the two in step with :mod:`pixbridge.hookspecs`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from pixbridge.errors import PluginError
from pixbridge.models import (
    AssigneeDecision,
    Completeness,
    Intake,
    ParsedMessage,
    PriorityDecision,
    Screening,
    StageEvent,
)

if TYPE_CHECKING:
    import click

    from pixbridge.context import RunContext
    from pixbridge.registry import AdapterRegistry

__all__ = ["Hooks"]

T = TypeVar("T")
log = logging.getLogger("pixbridge.hooks")


class Hooks:
    """Typed methods for every hook in :mod:`pixbridge.hookspecs`."""

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self._pm = manager

    # -------------------------------------------------------------- registration

    def register_adapters(self, *, registry: AdapterRegistry) -> None:
        """Let every plugin register its adapters, each recorded with the plugin it came from."""
        # Called per implementation (llm's get_tools) so the registry knows who added what.
        for impl in reversed(self._pm.hook.register_adapters.get_hookimpls()):
            registry.current_plugin = impl.plugin_name
            impl.function(**{arg: registry for arg in impl.argnames})

    def register_commands(self, *, cli: click.Group) -> None:
        """Let every plugin add its commands to *cli*."""
        self._pm.hook.register_commands(cli=cli)

    # -------------------------------------------------------------- decisions

    def screen_message(self, *, message: ParsedMessage, ctx: RunContext) -> Screening:
        """The screening verdict for *message*."""
        return self._decided(
            "screen_message", self._pm.hook.screen_message(message=message, ctx=ctx), Screening
        )

    def detect_language(self, *, message: ParsedMessage, ctx: RunContext) -> str:
        """The language code of *message*."""
        return self._decided(
            "detect_language", self._pm.hook.detect_language(message=message, ctx=ctx), str
        )

    def check_completeness(self, *, intake: Intake, ctx: RunContext) -> Completeness:
        """What the request still lacks."""
        return self._decided(
            "check_completeness",
            self._pm.hook.check_completeness(intake=intake, ctx=ctx),
            Completeness,
        )

    def decide_priority(self, *, intake: Intake, ctx: RunContext) -> PriorityDecision:
        """The priority of a new request."""
        return self._decided(
            "decide_priority",
            self._pm.hook.decide_priority(intake=intake, ctx=ctx),
            PriorityDecision,
        )

    def choose_assignee(self, *, intake: Intake, ctx: RunContext) -> AssigneeDecision:
        """The assignee of a new request."""
        return self._decided(
            "choose_assignee",
            self._pm.hook.choose_assignee(intake=intake, ctx=ctx),
            AssigneeDecision,
        )

    def choose_template(self, *, purpose: str, language: str, ctx: RunContext) -> str:
        """The template name for a mail to the customer."""
        return self._decided(
            "choose_template",
            self._pm.hook.choose_template(purpose=purpose, language=language, ctx=ctx),
            str,
        )

    # -------------------------------------------------------------- observers

    def before_stage(self, *, event: StageEvent, ctx: RunContext) -> None:
        """Tell observers a stage is starting."""
        self._observe("before_stage", event=event, ctx=ctx)

    def after_stage(self, *, event: StageEvent, ctx: RunContext) -> None:
        """Tell observers a stage has finished."""
        self._observe("after_stage", event=event, ctx=ctx)

    def on_stage_error(self, *, event: StageEvent, error: BaseException, ctx: RunContext) -> None:
        """Tell observers a stage failed."""
        self._observe("on_stage_error", event=event, error=error, ctx=ctx)

    # -------------------------------------------------------------- helpers

    @staticmethod
    def _decided(name: str, result: object, kind: type[T]) -> T:
        if result is None:
            raise PluginError(
                f"no plugin answered the {name!r} hook; the built-in plugin "
                "'pixbridge.builtins.defaults' should have: is it registered?"
            )
        if not isinstance(result, kind):
            raise PluginError(
                f"a plugin answered the {name!r} hook with {type(result).__name__}, "
                f"expected {kind.__name__}"
            )
        return result

    def _observe(self, name: str, **kwargs: Any) -> None:
        # Each implementation is called on its own so one failing observer cannot stop the others
        # or the lifecycle (pretix's send_robust); wrappers are therefore not allowed here.
        caller = getattr(self._pm.hook, name)
        for impl in reversed(caller.get_hookimpls()):
            try:
                impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception:
                log.exception("observer %r of plugin %r failed; continuing", name, impl.plugin_name)
