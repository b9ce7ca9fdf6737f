"""The priority classifier: blocking rules in both languages, negation, markers, support level."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixbridge.models import ParsedMessage
from pixbridge.triage.priority import RULES, Rule, blocking_terms, classify, fold
from pixbridge.triage.settings import TriageSettings

DEFAULTS = TriageSettings()


@pytest.mark.parametrize(
    "text",
    [
        "PIX Task Mining не работает с утра",
        "Программа не запускается после обновления",
        "Приложения не запускаются ни на одном компьютере",
        "Сервис не запустился",
        "Остановлена работа всего отдела",
        "работа бухгалтерии полностью остановлена",
        "Проблема у всех пользователей",
        "Все пользователи получают ошибку",
        "Приложение падает при экспорте",
        "Process Studio вылетает при сохранении",
        "Ошибка блокирует работу",
        "Мы не можем работать",
        "The service is not working",
        "It doesn't work at all",
        "The robot cannot start",
        "Studio won't start after the update",
        "The app crashes on export",
        "Production down since 9:00",
        "We are blocked",
        "All users are affected",
        "Nobody can log in",
    ],
)
def test_blocking_rules(text: str, message: Callable[..., ParsedMessage]) -> None:
    decision = classify(message(text), "it@customer.example", DEFAULTS)
    assert decision.level == "blocker", decision
    assert "blocking problem" in decision.reason


@pytest.mark.parametrize(
    "text",
    [
        "Это не блокирует работу, но мешает",
        "Ошибка не блокирует пользователей",
        "The app does not crash, but the export is slow",
        "This is not blocking us, just a question",
        "Не все пользователи видят новый отчёт",
        "Приложение не падает, но работает медленно",
        "Could you explain the report filters?",
        "> The app crashes on export\nThanks, it works now.",  # quoted history does not count
    ],
)
def test_not_blocking(text: str, message: Callable[..., ParsedMessage]) -> None:
    decision = classify(message(text), "it@customer.example", DEFAULTS)
    assert decision.level == "normal", decision


def test_blocker_marker_in_the_subject(message: Callable[..., ParsedMessage]) -> None:
    decision = classify(message("A question", subject="[BLOCKER] export"), "a@b.example", DEFAULTS)
    assert decision.level == "blocker"
    assert decision.reason == "subject marker [BLOCKER]"


@pytest.mark.parametrize(
    ("headers", "level"),
    [
        ((("x-priority", "1 (Highest)"),), "high"),
        ((("importance", "High"),), "high"),
        ((("priority", "urgent"),), "high"),
        ((("x-priority", "5 (Lowest)"),), "low"),
        ((("importance", "low"),), "low"),
        ((("x-priority", "3 (Normal)"),), "normal"),
    ],
)
def test_priority_headers(
    headers: tuple[tuple[str, str], ...], level: str, message: Callable[..., ParsedMessage]
) -> None:
    decision = classify(message("A question", headers=headers), "a@b.example", DEFAULTS)
    assert decision.level == level
    if level != "normal":
        assert "header" in decision.reason


def test_urgency_words_make_it_high_not_blocker(message: Callable[..., ParsedMessage]) -> None:
    assert classify(message("Срочно нужна помощь с отчётом"), "a@b.example", DEFAULTS).level == (
        "high"
    )


def test_a_header_does_not_lower_a_blocking_problem(message: Callable[..., ParsedMessage]) -> None:
    msg = message("It crashes", headers=(("x-priority", "5"),))
    assert classify(msg, "a@b.example", DEFAULTS).level == "blocker"


def test_support_level_moves_priority_but_never_into_blocker(
    message: Callable[..., ParsedMessage],
) -> None:
    settings = TriageSettings(
        levels={"vip.example": "premium", "cheap@basic.example": "basic"},
        level_steps={"premium": 1, "basic": -1},
    )
    question = message("How do I change the date format?")
    premium = classify(question, "anna@vip.example", settings)
    assert premium.level == "high"
    assert premium.reason.endswith("support level premium (+1)")
    assert classify(question, "cheap@basic.example", settings).level == "low"
    urgent = message("Urgent: how do I change the date format?")
    assert classify(urgent, "anna@vip.example", settings).level == "high"  # not blocker
    blocking = classify(message("It crashes"), "cheap@basic.example", settings)
    assert blocking.level == "blocker"  # a basic customer's blocked work is still blocked
    assert "support level basic" in blocking.reason


def test_extra_blocking_patterns_from_settings(message: Callable[..., ParsedMessage]) -> None:
    settings = TriageSettings(blocking_patterns=[r"касса\s+стоит"])
    assert classify(message("Касса стоит"), "a@b.example", settings).level == "blocker"
    assert classify(message("Касса стоит"), "a@b.example", DEFAULTS).level == "normal"


@pytest.fixture
def message(make_message: Callable[..., ParsedMessage]) -> Callable[..., ParsedMessage]:
    return make_message


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_every_match_of_a_rule_holds_one_of_its_words(rule: Rule, data: st.DataObject) -> None:
    # A rule is not scanned for in a text holding none of its words; this proves the words
    # are necessary: whatever the pattern matches (any case) contains one of them.
    assert rule.needles, f"built-in rule {rule.name!r} has no words to look for"
    pattern = re.compile(rule.pattern, re.IGNORECASE)
    matched = data.draw(st.from_regex(pattern, fullmatch=True))
    # Letters that (?i) takes for i, s and k but that case-fold otherwise, drawn on purpose.
    odd = {"i": "İı", "I": "İı", "s": "ſ", "k": "\u212a"}
    matched = "".join(data.draw(st.sampled_from(c + odd.get(c, ""))) for c in matched)
    assert pattern.fullmatch(matched), matched
    assert any(word in fold(matched) for word in rule.needles), matched
    if rule.also:
        assert any(word in fold(matched) for word in rule.also), matched


@pytest.mark.parametrize("text", ["The app wİll not start", "The app wıll not start"])
def test_a_dotted_or_dotless_i_does_not_hide_a_rule(text: str) -> None:
    # (?i) takes İ and ı for an i: the rule's words must be found in such text too.
    assert [rule.name for rule, _ in blocking_terms(text)] == ["cannot start"]
