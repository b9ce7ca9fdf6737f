"""Assignment strategies: rules by product, round-robin, fewest open, the tracker's default."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import pytest

from pixbridge.context import RunContext
from pixbridge.models import ParsedMessage
from pixbridge.settings import load_settings
from pixbridge.store.state import RequestRow, StateStore
from pixbridge.triage.assignment import LazyState, choose, detect_product
from pixbridge.triage.settings import TriageSettings

AT = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
TEAMS = {"tm": ["anna", "boris"], "ps": ["pavel", "polina"]}
PRODUCT_TEAMS = {"PIX Task Mining": "tm", "PIX Process Studio": "ps"}


def settings(strategy: str, **extra: object) -> TriageSettings:
    assignment = {"strategy": strategy, "teams": TEAMS, "product_teams": PRODUCT_TEAMS, **extra}
    return TriageSettings.model_validate({"assignment": assignment})


class Unused:
    """A state that must not be touched by stateless strategies."""

    def next_turn(self, team: str, at: datetime) -> int:
        raise AssertionError("next_turn called")

    def open_counts(self, members: Sequence[str]) -> Mapping[str, int]:
        raise AssertionError("open_counts called")


def test_product_detection(make_message: Callable[..., ParsedMessage]) -> None:
    s = TriageSettings()
    assert (
        detect_product(make_message("x", subject="PIX Task Mining export"), s) == "PIX Task Mining"
    )
    assert detect_product(make_message("В Process Studio ошибка"), s) == "PIX Process Studio"
    # The subject wins over the body; in one text the earliest keyword wins.
    msg = make_message("PIX Task Mining too", subject="Process Studio crash")
    assert detect_product(msg, s) == "PIX Process Studio"
    assert detect_product(make_message("Hello"), s) is None


def test_rules_give_the_product_team_lead(make_message: Callable[..., ParsedMessage]) -> None:
    decision = choose(make_message("PIX Process Studio fails"), settings("rules"), Unused(), AT)
    assert decision.assignee == "pavel"
    assert decision.reason == "product PIX Process Studio → team ps; lead of team ps"


def test_unknown_product_goes_to_the_default_team_or_the_tracker(
    make_message: Callable[..., ParsedMessage],
) -> None:
    decision = choose(make_message("Hello"), settings("rules"), Unused(), AT)
    assert decision.assignee is None
    assert "product was not recognised" in decision.reason
    decision = choose(make_message("Hello"), settings("rules", default_team="tm"), Unused(), AT)
    assert (decision.assignee, decision.reason) == ("anna", "default team tm; lead of team tm")


def test_tracker_default(make_message: Callable[..., ParsedMessage]) -> None:
    decision = choose(make_message("PIX Task Mining"), settings("tracker_default"), Unused(), AT)
    assert decision.assignee is None and "tracker_default" in decision.reason


def test_round_robin_takes_turns_and_remembers_them(
    store: StateStore, make_message: Callable[..., ParsedMessage]
) -> None:
    msg = make_message("PIX Task Mining question")
    state = LazyState(lambda: store)
    picks = [choose(msg, settings("round_robin"), state, AT).assignee for _ in range(3)]
    assert picks == ["anna", "boris", "anna"]
    # Another team has its own turns; a new state object (a restart) continues where it was.
    ps = make_message("PIX Process Studio question")
    assert choose(ps, settings("round_robin"), state, AT).assignee == "pavel"
    again = LazyState(lambda: store)
    decision = choose(msg, settings("round_robin"), again, AT)
    assert decision.assignee == "boris"
    assert decision.reason.endswith("round-robin in team tm (turn 4)")


def _request(key: str, assignee: str, status: str) -> RequestRow:
    return RequestRow(
        key=key, customer="c@x.example", language="en", status=status, summary="s",
        priority="normal", priority_reason="", assignee=assignee, assignee_reason="",
        follows=None, origin_message=None, thread_id=None, missing=[], created_at=AT,
        updated_at=AT,
    )  # fmt: skip


def test_fewest_open_counts_requests_not_completed(
    store: StateStore, make_message: Callable[..., ParsedMessage]
) -> None:
    store.insert_request(_request("SUP-1", "anna", "in_progress"))
    store.insert_request(_request("SUP-2", "anna", "registered"))
    store.insert_request(_request("SUP-3", "boris", "waiting_for_customer"))
    store.insert_request(_request("SUP-4", "boris", "completed"))
    store.insert_request(_request("SUP-5", "boris", "completed"))
    decision = choose(make_message("PIX Task Mining"), settings("fewest_open"), store, AT)
    assert decision.assignee == "boris"
    assert decision.reason.endswith("fewest open requests in team tm (1 open)")
    store.insert_request(_request("SUP-6", "boris", "registered"))
    # A tie goes to the member listed first.
    assert choose(make_message("PIX Task Mining"), settings("fewest_open"), store, AT).assignee == (
        "anna"
    )


def test_round_robin_turns_are_shared_by_instances_on_one_database(
    open_store: Callable[[], StateStore], make_message: Callable[..., ParsedMessage]
) -> None:
    # Two instances (two connections) take turns from one counter: no turn is given twice.
    first, second = open_store(), open_store()
    msg = make_message("PIX Task Mining question")
    picks = [
        choose(msg, settings("round_robin"), state, AT).reason
        for state in (first, second, first, second)
    ]
    assert [p.rsplit("(", 1)[1] for p in picks] == ["turn 1)", "turn 2)", "turn 3)", "turn 4)"]


def test_a_context_without_a_store_is_a_clear_error_only_when_a_strategy_needs_it(
    make_message: Callable[..., ParsedMessage],
) -> None:
    ctx = RunContext(settings=load_settings([]))
    state = LazyState(lambda: ctx.store)
    # The stateless strategies never open the store.
    assert choose(make_message("PIX Task Mining"), settings("rules"), state, AT).assignee == "anna"
    with pytest.raises(RuntimeError, match="no state store"):
        choose(make_message("PIX Task Mining"), settings("round_robin"), state, AT)


def test_round_robin_turns_taken_at_once_by_two_instances_are_each_taken_once(
    open_store: Callable[[], StateStore],
) -> None:
    # Real contention, not turns taken one after the other: two instances (connections) in two
    # threads; every turn from 0 on is given exactly once, none twice and none skipped.
    open_store().close()  # the schema, before two connections race to create it
    each = 50
    taken: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def take(n: int) -> None:
        store = open_store()  # in its thread: an SQLite connection stays in its thread
        try:
            start.wait(timeout=30)
            taken[n].extend(store.next_turn("tm", AT) for _ in range(each))
        finally:
            store.close()  # closing again at teardown does nothing

    threads = [threading.Thread(target=take, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken[0] + taken[1]) == list(range(2 * each))
    assert all(t == sorted(t) for t in taken)
