"""The built-in priority classifier: blocking problems first, then the customer's support level.

Three sources, strongest first:

1. explicit markers: ``[BLOCKER]`` in the subject (blocker), ``X-Priority: 1``/``2``,
   ``Importance: high``, ``Priority: urgent`` (high), ``X-Priority: 4``/``5``, ``Importance: low``
   (low);
2. rules for blocking problems in the subject and the customer's own text (quoted lines do not
   count), in English and Russian. Russian is matched by stems, so "не запускается",
   "не запускаются" and "не запустилась" all count; a positive term preceded by a negation
   ("не блокирует", "does not crash") does not;
3. the customer's support level (``[triage.levels]``) moves the result by ``[triage.level_steps]``
   steps, but never into or out of ``blocker``: that level means the customer's work stands still.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pixbridge.models import ParsedMessage, PriorityDecision
from pixbridge.triage.settings import LEVELS, TriageSettings

__all__ = ["RULES", "Rule", "blocking_terms", "classify", "fold", "level_rank"]


@dataclass(frozen=True)
class Rule:
    """One content rule: a pattern, the name shown in the reason, the level it sets."""

    name: str
    pattern: str
    level: str = "blocker"
    negatable: bool = True
    """False for rules that are themselves a negative statement ("не работает")."""
    needles: tuple[str, ...] = ()
    """Case-folded words of which every match contains one; a text holding none of them is not
    scanned for the rule. Empty: always scanned (patterns from settings)."""
    also: tuple[str, ...] = ()
    """More case-folded words of which every match contains one as well (a second part of the
    phrase): a text holding none of them is not scanned for the rule either. "log" alone is in
    most support mail; "log" with "can", "won", "unable"... far less often."""


RULES: tuple[Rule, ...] = (
    # English
    Rule("not working", r"(?:does\s*n[o'’]t|do\s*n[o'’]t|is\s*n[o'’]t|are\s*n[o'’]t|not)\s+work(?:ing|s)?", negatable=False, needles=("work",), also=("not", "n't", "n’t")),
    Rule("stopped working", r"stopped\s+working", negatable=False, needles=("work",)),
    Rule("cannot start", r"(?:can\s*not|can[’']t|won[’']t|will\s+not|unable\s+to|fail(?:s|ed)?\s+to|does\s*n[o'’]t)\s+(?:start|launch|run|open|log\s*in)", negatable=False, needles=("start", "launch", "run", "open", "log"), also=("can", "won", "will", "unable", "fail", "does")),
    Rule("nobody can work", r"(?:nobody|no\s+one|no\s+user)\s+can", negatable=False, needles=("can",)),
    Rule("crashes", r"crash(?:es|ed|ing)?", needles=("crash",)),
    Rule("production down", r"(?:production|prod|system|server|service|everything)\s+(?:is\s+|went\s+)?down", needles=("down",), also=("prod", "system", "server", "service", "everything")),
    Rule("blocked", r"blocked|blocker|blocking", needles=("block",)),
    Rule("all users", r"all\s+(?:of\s+)?(?:our\s+|the\s+)?users", needles=("user",), also=("all",)),
    Rule("work stopped", r"(?:work|production|operations?)\s+(?:has\s+|have\s+|is\s+)?(?:stopped|halted|at\s+a\s+standstill)", needles=("stopped", "halted", "standstill"), also=("work", "production", "operation")),
    Rule("outage", r"outage", needles=("outage",)),
    # Russian, by stems
    Rule("не работает", r"не\s+работа(?:ет|ют|л|ла|ло|ли)", negatable=False, needles=("работа",)),
    Rule("перестал работать", r"перестал\w*\s+работать", negatable=False, needles=("перестал",)),
    Rule("не запускается", r"не\s+(?:запуска|запусти|стартуе|стартую|открыва|загружа)\w*", negatable=False, needles=("запуска", "запусти", "стартуе", "стартую", "открыва", "загружа")),
    Rule("невозможно работать", r"(?:невозможно|нельзя|не\s+мо(?:жем|гу|жет|гут))\s+(?:работать|запустить|войти|открыть)", negatable=False, needles=("работать", "запустить", "войти", "открыть")),
    Rule("остановлена работа", r"останов\w*\s+(?:\w+\s+){0,2}работ\w*|работ\w*\s+(?:\w+\s+){0,3}(?:останов|парализ|встал)\w*", needles=("работ",)),
    Rule("все пользователи", r"(?:вс[её]|всех|всем|всеми)\s+(?:\w+\s+)?пользовател\w*", needles=("пользовател",)),
    Rule("падает", r"(?:пада(?:ет|ют|л\w*)|упал[аио]?|вылета\w*|аварийно\s+заверша\w*)", needles=("пада", "упал", "вылета", "заверша")),
    Rule("блокирует", r"(?:за)?блокир\w*", needles=("блокир",)),
    Rule("простаивает", r"простаива\w*|простой\s+(?:работ|производств|отдел|всех)\w*", needles=("простаива", "простой")),
    # Urgency without a blocking problem
    Rule("urgent", r"urgent(?:ly)?|asap", level="high", needles=("urgent", "asap")),
    Rule("срочно", r"срочн\w*", level="high", needles=("срочн",)),
)  # fmt: skip
"""The built-in content rules; ``[triage] blocking_patterns`` adds more blocker rules."""

_NEGATION = re.compile(
    r"(?<!\w)(?:не|ни|нет|без|not|no|never|without|hardly|\w+n[’']t|cannot)\s+(?:\w+\s+)?$",
    re.IGNORECASE,
)
_MARKERS = (
    (re.compile(r"\[\s*(?:BLOCKER|БЛОКЕР|BLOCKING)\s*\]", re.I), "blocker", "subject marker"),
    (re.compile(r"\[\s*(?:URGENT|СРОЧНО)\s*\]", re.I), "high", "subject marker"),
)


def level_rank(level: str) -> int:
    """Position of *level* in ``LEVELS`` (higher is more urgent); unknown levels are ``normal``."""
    return LEVELS.index(level) if level in LEVELS else LEVELS.index("normal")


@lru_cache(maxsize=16)
def _compiled(extra: tuple[str, ...]) -> tuple[tuple[Rule, re.Pattern[str]], ...]:
    rules = [*RULES, *(Rule(f"pattern {p!r}", p) for p in extra)]
    return tuple((rule, re.compile(rf"(?<!\w)(?:{rule.pattern})", re.I)) for rule in rules)


# Customers say what is wrong near the top; what follows is mostly pasted logs, and scanning 40 KB
# of log with every rule cost more than the rest of the intake together.
_SCAN_CHARS = 8_000


def _own_text(message: ParsedMessage) -> str:
    lines = []
    for line in message.text[:_SCAN_CHARS].splitlines():
        if line.rstrip() in {"--", "-- "}:
            break
        if not line.lstrip().startswith(">"):
            lines.append(line)
    return "\n".join(lines)


def fold(text: str) -> str:
    """*text* as rule words (:attr:`Rule.needles`, :attr:`Rule.also`) are looked for in it.

    Case-folded, with the dotless ı and the dotted İ (which folds to i and a combining dot) as a
    plain i: the rules' case-insensitive patterns take both for an i, so a word looked for must
    be found in "wİll" and "wıll" as in "will".
    """
    return text.casefold().replace("\u0131", "i").replace("\u0307", "")


@lru_cache(maxsize=512)
def _combined(extra: tuple[str, ...], without: frozenset[int]) -> re.Pattern[str] | None:
    """The rules not in *without* as one pattern (``None`` if none is left).

    The group ``rule<n>`` wraps rule *n*; it closes after any group inside the rule, so it is
    the match's ``lastgroup``.
    """
    rules = _compiled(extra)
    alternatives = "|".join(
        f"(?P<rule{n}>{rule.pattern})" for n, (rule, _) in enumerate(rules) if n not in without
    )
    return re.compile(rf"(?<!\w)(?:{alternatives})", re.I) if alternatives else None


def blocking_terms(text: str, extra: tuple[str, ...] = ()) -> list[tuple[Rule, str]]:
    """Every rule that fires on *text*, with the words that fired it, negated ones left out."""
    rules = _compiled(extra)
    fired: dict[int, tuple[Rule, str]] = {}
    # One pass over the text for all rules (a pass per rule was the costliest step of intake),
    # and a rule that fired leaves the pattern: a pasted log says "error" hundreds of times.
    # A rule whose every word is missing cannot match, so it is left out from the start:
    # finding a word is a fast substring search, trying an alternative at every position not.
    folded = fold(text)
    absent = frozenset(
        n
        for n, (rule, _) in enumerate(rules)
        if any(
            words and not any(word in folded for word in words)
            for words in (rule.needles, rule.also)
        )
    )
    pattern = _combined(extra, absent)
    position = 0
    while pattern is not None:
        match = pattern.search(text, position)
        if match is None:
            break
        position = max(match.end(), match.start() + 1)
        n = int(str(match.lastgroup)[4:])
        rule = rules[n][0]
        before = text[max(0, match.start() - 40) : match.start()]
        if rule.negatable and _NEGATION.search(before):
            continue
        fired[n] = (rule, re.sub(r"\s+", " ", match.group(0)))
        pattern = _combined(extra, absent | frozenset(fired))
    return [fired[n] for n in sorted(fired)]


def _header_level(message: ParsedMessage) -> tuple[str, str] | None:
    x_priority = (message.header("x-priority") or "").strip()
    importance = (message.header("importance") or message.header("x-msmail-priority") or "").lower()
    priority = (message.header("priority") or "").lower()
    if x_priority[:1] in {"1", "2"}:
        return "high", f"X-Priority: {x_priority}"
    if "high" in importance:
        return "high", "Importance: high"
    if "urgent" in priority:
        return "high", "Priority: urgent"
    if x_priority[:1] in {"4", "5"}:
        return "low", f"X-Priority: {x_priority}"
    if "low" in importance:
        return "low", "Importance: low"
    return None


def classify(message: ParsedMessage, customer: str, settings: TriageSettings) -> PriorityDecision:
    """The priority level of a new request from *customer*, and why."""
    level, reasons = "normal", []
    for pattern, marked, name in _MARKERS:
        marker = pattern.search(message.subject)
        if marker is not None:
            level = max(level, marked, key=level_rank)
            reasons.append(f"{name} {marker.group(0)}")
    header = _header_level(message)
    if header is not None and level_rank(header[0]) > level_rank(level):
        level = header[0]
        reasons.append(f"header {header[1]}")
    elif header is not None and header[0] == "low" and level == "normal":
        level = "low"
        reasons.append(f"header {header[1]}")
    subject = message.subject
    for pattern, _, _ in _MARKERS:
        subject = pattern.sub(" ", subject)  # a marker counted above is not a second reason
    text = f"{subject}\n{_own_text(message)}"
    fired = blocking_terms(text, tuple(settings.blocking_patterns))
    if fired:
        top = max((rule.level for rule, _ in fired), key=level_rank)
        if level_rank(top) > level_rank(level):
            level = top
        words = ", ".join(f"«{words}»" for rule, words in fired if rule.level == top)
        kind = "blocking problem" if top == "blocker" else "urgency"
        reasons.append(f"{kind}: {words}")
    found = settings.for_sender(settings.levels, customer)
    if found is not None:
        support_level = found[1]
        steps = settings.level_steps.get(support_level, 0)
        moved = _move(level, steps)
        if moved != level:
            reasons.append(f"support level {support_level} ({steps:+d})")
            level = moved
        else:
            reasons.append(f"support level {support_level}")
    if not reasons:
        reasons.append("no blocking problem or marker found")
    return PriorityDecision(level, "; ".join(reasons))


def _move(level: str, steps: int) -> str:
    """*level* moved *steps* up (or down), staying out of ``blocker`` and never leaving it."""
    if level == "blocker" or not steps:
        return level
    highest = LEVELS.index("high")
    return LEVELS[max(0, min(highest, level_rank(level) + steps))]
