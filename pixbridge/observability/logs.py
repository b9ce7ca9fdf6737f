"""Log output: one JSON object per line on request, no raw line breaks, no secrets.

Mail headers are attacker-controlled; a CR/LF in a subject must not forge a log line (CWE-117).
Secrets must never reach a log (CWE-532): the :class:`Redactor` masks the values of every
``SecretStr`` setting and anything shaped like an ``Authorization`` header or a bearer token.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

from pydantic import BaseModel, SecretStr

__all__ = [
    "LINE_BREAKS",
    "JsonFormatter",
    "Redactor",
    "configure_logging",
    "escape_breaks",
    "secret_values",
]

MASK = "***"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MIN_SECRET = 4
"""Shorter secret values are not masked: masking ``a`` would garble every line."""

_CREDENTIAL_PATTERNS = (
    re.compile(r"(?i)(authorization\s*[:=]\s*)(?:(?:bearer|basic|token|digest)\s+)?[^\s,;\"']+"),
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/]+=*"),
    re.compile(r"(?i)((?:cookie|set-cookie)\s*:\s*)[^\r\n]+"),
)
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
"""Every character :meth:`str.splitlines` (and so a Python log reader) ends a line at."""
_BREAKS = str.maketrans({c: c.encode("unicode_escape").decode() for c in LINE_BREAKS + "\x00"})
_JSON_BREAKS = str.maketrans({c: f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"})
"""The line breaks ``json.dumps`` leaves raw (it escapes those below U+0020 itself)."""


def escape_breaks(text: str) -> str:
    """*text* with every line break (:data:`LINE_BREAKS`) and NUL written as an escape, so it
    stays on one line."""
    return text.translate(_BREAKS)


def secret_values(models: Iterable[Any]) -> set[str]:
    """The values of every ``SecretStr`` field in *models* (settings models), recursively."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            if len(secret) >= _MIN_SECRET:
                found.add(secret)
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                walk(item)

    for model in models:
        walk(model)
    return found


class Redactor(logging.Filter):
    """A handler filter: masks secrets and credentials, escapes line breaks in the message.

    Attach it to every handler (a logger's filter would miss records of its children). It renders
    the message and the traceback in place, so every formatter after it sees the cleaned text;
    cleaning is idempotent, so several redactors (with different secrets) may see one record.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Mask these values from now on."""
        self._secrets.update(s for s in secrets if len(s) >= _MIN_SECRET)

    def redact(self, text: str) -> str:
        """*text* with secret values and credentials masked."""
        # Longest first, so a secret containing another is masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        for pattern in _CREDENTIAL_PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Clean *record* in place; never drops it."""
        record.msg = escape_breaks(self.redact(record.getMessage()))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (``json.dumps`` escapes every control character)."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        # A traceback is not escaped by the redactor (text logs keep it readable over lines).
        return json.dumps(entry, ensure_ascii=False, default=str).translate(_JSON_BREAKS)


def configure_logging(
    level: int, log_format: str = "text", stream: IO[str] | None = None
) -> Redactor:
    """Set up the root logger for the command line; returns the redactor to feed secrets to.

    Adds a stream handler and sets the level only when the root logger has no handler (as
    :func:`logging.basicConfig`; under pytest its capture handlers stay in charge), and adds the
    redactor to every root handler.
    """
    if log_format not in ("text", "json"):
        raise ValueError(f"log format must be 'text' or 'json', not {log_format!r}")
    root = logging.getLogger()
    if not root.handlers:
        root.setLevel(level)
        stream_handler = logging.StreamHandler(stream or sys.stderr)
        stream_handler.setFormatter(
            JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
        )
        root.addHandler(stream_handler)
    redactor = (
        next((f for h in root.handlers for f in h.filters if isinstance(f, Redactor)), None)
        or Redactor()
    )
    for handler in root.handlers:
        if redactor not in handler.filters:
            handler.addFilter(redactor)
    return redactor
