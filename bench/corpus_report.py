"""Corpus report: ``pixbridge mail inspect`` over every message under ``../shared/corpus``.

Prints per folder: messages, parsed, quarantined (over a limit or unparseable), automated,
attachments, and the mismatches against Zammad's ``.yml`` expectations (subject, sender
address, names of named attachments); then the reply-trimming rate on ``email_reply_trimmer``
and the parsing speed. Run: ``.venv/bin/python bench/corpus_report.py [-v]`` (``-v`` lists every
mismatch). Targets (issue 4): no crash; subject and sender >= 98%, attachment names >= 95%,
trimming >= 90%, >= 200 messages/s.
"""

from __future__ import annotations

import base64
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from pixbridge.mail.inspect import OVER_A_LIMIT, inspect_message
from pixbridge.mail.trim import trim_reply

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
FOLDERS = (
    "zammad/test/data/mail",
    "redmine/test/fixtures/mail_handler",
    "set-of-emails/maildir/bsd",
    "set-of-emails/maildir/not",
    "set-of-emails/mailbox",
)
# Names Zammad gives the HTML body it stores beside the text: not a file the sender attached.
_ZAMMAD_OWN_NAMES = frozenset({"message.html"})


class _RubyLoader(yaml.SafeLoader):
    """Zammad's expectations: a SafeLoader that reads ``!ruby/...`` and ``!binary`` tags."""


def _ruby(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_RubyLoader.add_multi_constructor("!ruby/", _ruby)
_RubyLoader.add_constructor(
    "!binary",
    lambda loader, node: base64.b64decode(loader.construct_scalar(node)),  # type: ignore[arg-type]
)


def _squash(text: object) -> str:
    return " ".join(str(text or "").split())


def _expected_names(expected: dict[str, Any], raw: bytes) -> list[str]:
    """Names the sender gave (Zammad also invents "file", "Delivery report.txt"...)."""
    names = []
    for item in expected.get("attachments") or []:
        name = item.get("filename") if isinstance(item, dict) else None
        if not name or name in _ZAMMAD_OWN_NAMES:
            continue
        name = str(name)
        # An ASCII name is the sender's only if a name parameter in the raw message carries it;
        # a non-ASCII one always came from the message (encoded there).
        if name.isascii():
            param = rb"name\*?=\s*\"?" + re.escape(name.encode()) + rb"\"?\s*(?:;|$)"
            if not re.search(param, raw, re.IGNORECASE | re.MULTILINE):
                continue
        names.append(name)
    return names


def _same_name(expected: str, ours: set[str]) -> bool:
    # Zammad writes U+FFFD where it could not decode a byte of the name: any character matches.
    pattern = "".join("." if c == "\ufffd" else re.escape(c) for c in expected)
    return any(re.fullmatch(pattern, name) for name in ours)


def _compare(
    path: Path, raw: bytes, report: dict[str, Any], misses: Counter[str], log: list[str]
) -> None:
    expected = yaml.load(path.with_suffix(".yml").read_text("utf-8"), Loader=_RubyLoader)
    misses["checked"] += 1
    if report["verdict"] == OVER_A_LIMIT:
        misses["subject"] += 1
        misses["sender"] += 1
        log.append(f"{path.name}: refused ({report['reason']})")
        return
    if _squash(report["subject"]) != _squash(expected.get("subject")):
        misses["subject"] += 1
        log.append(f"{path.name}: subject {report['subject']!r} != {expected.get('subject')!r}")
    want = str(expected.get("from_email") or "").lower()
    if report["sender"] != want:
        misses["sender"] += 1
        log.append(f"{path.name}: sender {report['sender']!r} != {want!r}")
    ours = {a["name"] for a in report["attachments"] + report["inline_images"]}
    for name in _expected_names(expected, raw):
        misses["names_checked"] += 1
        if not _same_name(name, ours):
            misses["names"] += 1
            log.append(f"{path.name}: attachment {name!r} not among {sorted(ours)}")


def _folder(folder: str, verbose: bool) -> tuple[Counter[str], float]:
    counts: Counter[str] = Counter()
    misses: Counter[str] = Counter()
    log: list[str] = []
    elapsed = 0.0
    for path in sorted((CORPUS / folder).rglob("*")):
        if not path.is_file() or path.suffix == ".yml":
            continue
        raw = path.read_bytes()
        start = time.perf_counter()
        report = inspect_message(raw)
        elapsed += time.perf_counter() - start
        counts["messages"] += 1
        if report["verdict"] == OVER_A_LIMIT:
            counts["quarantined"] += 1
        else:
            counts["parsed"] += 1
            counts["automated"] += report["verdict"] != "human"
            counts["attachments"] += len(report["attachments"]) + len(report["inline_images"])
        if path.with_suffix(".yml").is_file():
            _compare(path, raw, report, misses, log)
    line = (
        f"{folder:<38} {counts['messages']:>5} {counts['parsed']:>6} {counts['quarantined']:>5}"
        f" {counts['automated']:>5} {counts['attachments']:>6}"
    )
    if misses["checked"]:
        line += (
            f"   subject {_rate(misses, 'subject', 'checked')}"
            f"  sender {_rate(misses, 'sender', 'checked')}"
            f"  names {_rate(misses, 'names', 'names_checked')}"
        )
    print(line)
    if verbose:
        for entry in log:
            print("    " + entry)
    counts.update({f"miss_{k}": v for k, v in misses.items()})
    return counts, elapsed


def _rate(misses: Counter[str], key: str, total_key: str) -> str:
    total = misses[total_key]
    return f"{total - misses[key]}/{total} ({(total - misses[key]) / total:.1%})"


def trimming_rate() -> tuple[int, int]:
    """(exact matches after normalising whitespace, cases) on ``email_reply_trimmer``."""
    folder = CORPUS / "email_reply_trimmer" / "test"
    cases = sorted((folder / "emails").glob("*.txt"))
    hits = sum(
        _squash(trim_reply(c.read_text("utf-8"))[0])
        == _squash((folder / "trimmed" / c.name).read_text("utf-8"))
        for c in cases
    )
    return hits, len(cases)


def main() -> None:
    """Print the report."""
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found at {CORPUS}")
    verbose = "-v" in sys.argv[1:]
    print(f"corpus: {CORPUS}")
    print(f"{'folder':<38} {'msgs':>5} {'parsed':>6} {'quar':>5} {'auto':>5} {'files':>6}")
    total: Counter[str] = Counter()
    elapsed = 0.0
    for folder in FOLDERS:
        counts, seconds = _folder(folder, verbose)
        total.update(counts)
        elapsed += seconds
    hits, cases = trimming_rate()
    print(f"reply trimming: {hits}/{cases} exact ({hits / cases:.1%})")
    print(
        f"speed: {total['messages']} messages in {elapsed:.2f}s = "
        f"{total['messages'] / elapsed:.0f} messages/s (parse, screen, trim)"
    )


if __name__ == "__main__":
    main()
