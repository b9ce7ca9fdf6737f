"""Customer text reaches Jira as text: ADF text nodes on Cloud, escaped wiki markup on DC."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pixbridge_jira import JiraTracker, adf, markup
from pixbridge_jira.body import compose_description, split_description
from pixbridge_jira.testing import FakeJira

from pixbridge.models import CommentDraft, RequestDraft

HOSTILE = [
    "{noformat}\n}{html}<script>alert(1)</script>{html}",
    "[click here|javascript:alert(1)]",
    "!http://evil.example/x.png!",
    "[~admin] please look",
    "h1. Not a heading\nbq. not a quote\n  h3. indented",
    "* bullet\n# numbered\n|| table || head ||\n-- dash ^sup^ ~sub~ +ins+ _em_ ??cite??",
    "back\\slash \\\\ forced break \\{ &#92; &amp; &#123;",
    "{color:red}red{color} {code}x{code} {quote}q{quote} {panel}p{panel}",
]


def test_escaped_markup_has_no_unescaped_special_character() -> None:
    for text in HOSTILE:
        escaped = markup.escape(text)
        plain = re.sub(r"&#\d+;|&amp;", "", escaped)
        for n, char in enumerate(plain):
            if char in markup.SPECIAL:
                assert plain[n - 1] == "\\", f"{char!r} left bare in {escaped!r}"
        assert "\\\\" not in escaped, f"a forced line break in {escaped!r}"
        for line in escaped.split("\n"):
            assert not line.lstrip().startswith(("h1.", "h3.", "bq.")), escaped
        assert markup.unescape(escaped) == text


@given(st.text())
def test_markup_round_trips_any_text(text: str) -> None:
    assert markup.unescape(markup.escape(text)) == text


@given(st.text(alphabet=st.characters(blacklist_characters="\r")))
def test_adf_round_trips_any_text(text: str) -> None:
    doc = adf.from_text(text)
    assert adf.to_text(doc) == text
    assert _node_types(doc) <= {"doc", "paragraph", "text", "hardBreak"}
    assert not any("marks" in n for n in _nodes(doc)), "customer text got marks"


@given(st.text(), st.dictionaries(st.sampled_from(["customer", "serial", "missing"]), st.text()))
def test_facts_block_round_trips(text: str, facts: dict[str, str]) -> None:
    composed = compose_description(text, facts)
    body, read = split_description(composed)
    assert body == text
    assert read == {k: " ".join(v.split()) for k, v in facts.items() if v}


def test_hostile_text_is_stored_inert(fake: FakeJira, tracker: JiraTracker) -> None:
    payload = "\n".join(HOSTILE)
    draft = RequestDraft(marker="pb-hostile", summary="[~admin] {noformat}", description=payload,
                         customer="eve@evil.example", language="en", priority="normal")  # fmt: skip
    key = tracker.create_request(draft)
    tracker.add_comment(key, CommentDraft("pb-c", payload, True, "eve@evil.example"))
    issue = fake.state.issue(key)
    stored = [issue.fields["description"], issue.comments[0].body]
    for value in stored:
        if fake.state.cloud:
            assert adf.is_document(value)
            assert _node_types(value) <= {"doc", "paragraph", "text", "hardBreak"}
        else:
            assert isinstance(value, str)
            for needle in (r"\{noformat", r"\[~admin", r"!http", r"\|javascript", r"^h1\."):
                # The markup character itself must be escaped (preceded by a backslash).
                found = re.search(r"(?m)(?<!\\)" + needle, value)
                assert found is None, f"{needle!r} reached Jira as markup: {value!r}"
    got = tracker.get_request(key)
    assert got.description == payload
    assert got.comments[0].body == payload


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    out = [node]
    for child in node.get("content") or []:
        out.extend(_nodes(child))
    return out


def _node_types(doc: dict[str, Any]) -> set[str]:
    return {n["type"] for n in _nodes(doc)}
