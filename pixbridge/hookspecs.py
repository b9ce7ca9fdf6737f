"""Every hook pixbridge calls, grouped by lifecycle stage.

Three kinds of hook (GUIDE §2):

- *registration* hooks run once at start-up and hand the core objects (adapters, commands);
- *decision* hooks are ``firstresult``: the first implementation that returns something other
  than ``None`` decides, and pixbridge's own default is registered ``trylast`` so any plugin can
  replace it. Return ``None`` for "not mine";
- *observer* hooks are told about every stage; an observer that raises is logged and skipped, it
  never breaks the lifecycle.

Implement a hook with :data:`pixbridge.hookimpl`; accept only the parameters you need (pluggy
passes the ones you name). Parameters are plain and keyword-passed; none has a default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from pixbridge.context import RunContext
    from pixbridge.models import (
        AssigneeDecision,
        Completeness,
        Intake,
        ParsedMessage,
        PriorityDecision,
        Screening,
        StageEvent,
    )
    from pixbridge.registry import AdapterRegistry

hookspec = pluggy.HookspecMarker("pixbridge")

# ----------------------------------------------------------------------------------------------
# registration hooks: called once at start-up
# ----------------------------------------------------------------------------------------------


@hookspec
def register_adapters(registry: AdapterRegistry) -> None:
    """Register the adapter classes this plugin provides.

    Called once when the plugin manager is built, for each plugin separately, so that every
    adapter is recorded with the plugin that provided it. Two adapters with one name stop
    start-up with an error naming both plugins.

    :param registry: Call ``registry.add(MyAdapterClass)`` for each adapter class.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``pixbridge`` command line.

    Called once when the CLI starts, before arguments are parsed.

    :param cli: The top-level ``pixbridge`` click group; use ``cli.add_command(...)``.
    """


# ----------------------------------------------------------------------------------------------
# screen: is a person writing to us?
# ----------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def screen_message(message: ParsedMessage, ctx: RunContext) -> Screening | None:
    """Decide whether *message* was written by a person or is automated (auto-reply, bounce, bulk).

    Called once per accepted message, after parsing and before threading. Automated mail is
    recorded but never registered as a request and never answered. Stops at the first non-None
    result; the built-in header rules (RFC 3834 and friends) are ``trylast``.

    :param message: The parsed message; read-only.
    :param ctx: The run context (settings, clock, logger).
    :returns: A :class:`~pixbridge.models.Screening`, or ``None`` to let the next plugin decide.
    """


@hookspec(firstresult=True)
def detect_language(message: ParsedMessage, ctx: RunContext) -> str | None:
    """Tell the language of the customer's message, as a language code (``ru``, ``en``...).

    Called once per message that a person wrote; the answer chooses the templates of the mail we
    send back. Stops at the first non-None result; the built-in detector is ``trylast``.

    :param message: The parsed message; read-only.
    :param ctx: The run context.
    :returns: A language code, or ``None`` to let the next plugin decide.
    """


# ----------------------------------------------------------------------------------------------
# triage: completeness, priority, assignee of a new request
# ----------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def check_completeness(intake: Intake, ctx: RunContext) -> Completeness | None:
    """List the required items a request still lacks.

    Called for every new request and for every reply to a request that waits for the customer.
    Stops at the first non-None result; the built-in check is ``trylast``.

    :param intake: The message, its customer and arrival time; read-only.
    :param ctx: The run context.
    :returns: A :class:`~pixbridge.models.Completeness`, or ``None`` to let the next plugin decide.
    """


@hookspec(firstresult=True)
def decide_priority(intake: Intake, ctx: RunContext) -> PriorityDecision | None:
    """Choose the priority of a new request and say why.

    Called once per new request, before it is registered. Stops at the first non-None result;
    the built-in classifier is ``trylast``.

    :param intake: The message, its customer and arrival time; read-only.
    :param ctx: The run context.
    :returns: A :class:`~pixbridge.models.PriorityDecision`, or ``None`` to let the next plugin decide.
    """


@hookspec(firstresult=True)
def choose_assignee(intake: Intake, ctx: RunContext) -> AssigneeDecision | None:
    """Choose who takes a new request and say why.

    Called once per new request, before it is registered. Stops at the first non-None result;
    the built-in default (the tracker's own default assignee) is ``trylast``.

    :param intake: The message, its customer and arrival time; read-only.
    :param ctx: The run context.
    :returns: An :class:`~pixbridge.models.AssigneeDecision`, or ``None`` to let the next plugin decide.
    """


# ----------------------------------------------------------------------------------------------
# respond: what we write to the customer
# ----------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def choose_template(purpose: str, language: str, ctx: RunContext) -> str | None:
    """Choose the template for a message to the customer.

    Called for every mail pixbridge writes. *purpose* is one of ``acknowledgement``,
    ``followup_acknowledgement`` (a new request after a completed one), ``agent_comment`` and
    ``completion``. Stops at the first non-None result; the built-in choice
    ``<purpose>.<language>.txt`` (English when that file does not exist) is ``trylast``.

    :param purpose: What the mail is for.
    :param language: The customer's language code.
    :param ctx: The run context.
    :returns: A template name under the templates directory, or ``None`` to let the next plugin decide.
    """


# ----------------------------------------------------------------------------------------------
# observers: told about every stage; cannot break the lifecycle
# ----------------------------------------------------------------------------------------------


@hookspec
def before_stage(event: StageEvent, ctx: RunContext) -> None:
    """Called before a lifecycle stage runs for a message or request.

    An implementation that raises is logged and skipped.

    :param event: Which stage, for which message or request.
    :param ctx: The run context.
    """


@hookspec
def after_stage(event: StageEvent, ctx: RunContext) -> None:
    """Called after a lifecycle stage has finished for a message or request.

    An implementation that raises is logged and skipped.

    :param event: Which stage, for which message or request, with details of the outcome.
    :param ctx: The run context.
    """


@hookspec
def on_stage_error(event: StageEvent, error: BaseException, ctx: RunContext) -> None:
    """Called when a lifecycle stage failed; the orchestrator then retries or quarantines.

    An implementation that raises is logged and skipped.

    :param event: Which stage, for which message or request.
    :param error: The exception the stage raised.
    :param ctx: The run context.
    """
