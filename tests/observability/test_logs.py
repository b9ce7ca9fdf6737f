"""Structured logs: one line per record whatever the content, and no secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from lifecycle_helpers import mail
from pydantic import Field, SecretStr

from pixbridge import hookimpl
from pixbridge.adapters import AdapterSettings, LicenseValidator
from pixbridge.models import LicenseQuery, LicenseResult
from pixbridge.observability.logs import (
    JsonFormatter,
    Redactor,
    configure_logging,
    escape_breaks,
    secret_values,
)
from pixbridge.registry import AdapterRegistry

INJECTED = "Export crashes\n2026-01-01 INFO fake\r\nanother"
CANARY = "canary-7f3e9b1c-secret"
SPLITTERS = [c for c in map(chr, range(0x3000)) if len(f"a{c}b".splitlines()) == 2]
"""Every character str.splitlines (as a Python log reader) ends a line at (none lies higher)."""


@pytest.fixture
def captured() -> Iterator[Any]:
    """A JSON or text handler on the pixbridge logger, with the redactor, writing to a buffer."""
    made: list[logging.Handler] = []
    logger = logging.getLogger("pixbridge")

    def factory(fmt: str, redactor: Redactor | None = None) -> tuple[io.StringIO, Redactor]:
        buffer = io.StringIO()
        handler = logging.StreamHandler(buffer)
        handler.setFormatter(
            JsonFormatter() if fmt == "json" else logging.Formatter("%(levelname)s %(message)s")
        )
        redactor = redactor or Redactor()
        handler.addFilter(redactor)
        logger.addHandler(handler)
        made.append(handler)
        return buffer, redactor

    old = logger.level
    logger.setLevel(logging.DEBUG)
    yield factory
    logger.setLevel(old)
    for handler in made:
        logger.removeHandler(handler)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_injected_line_breaks_do_not_forge_lines(captured: Any, fmt: str) -> None:
    buffer, _ = captured(fmt)
    log = logging.getLogger("pixbridge.lifecycle.test")
    log.warning("message 7 (subject %r) failed", "x")
    log.warning("message 7 (subject %s) failed", INJECTED)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 2
    assert not any(line.startswith("2026-01-01") for line in lines)
    if fmt == "json":
        # The redactor escaped the breaks; the reader sees them as visible \n, not as new lines.
        message = json.loads(lines[1])["message"]
        assert message == f"message 7 (subject {escape_breaks(INJECTED)}) failed"


@pytest.mark.parametrize("fmt", ["json", "text"])
@pytest.mark.parametrize("brk", SPLITTERS, ids=lambda c: f"U+{ord(c):04X}")
def test_no_line_break_of_any_kind_survives(captured: Any, fmt: str, brk: str) -> None:
    # str.splitlines, as a Python log reader, ends a line at each of these, not only at CR/LF.
    buffer, _ = captured(fmt)
    logging.getLogger("pixbridge.x").warning("subject %s", f"a{brk}2026-01-01 INFO forged")
    (line,) = buffer.getvalue().splitlines()
    assert "forged" in line


@pytest.mark.parametrize("brk", ["\n", "\u2028", "\u2029", "\x85"])
def test_a_traceback_stays_on_one_json_line(captured: Any, brk: str) -> None:
    buffer, _ = captured("json")
    try:
        raise ValueError(f"Export crashes{brk}2026-01-01 INFO fake")
    except ValueError:
        logging.getLogger("pixbridge.x").exception("failed")
    (line,) = buffer.getvalue().splitlines()
    exception = json.loads(line)["exception"]
    assert f"ValueError: Export crashes{brk}2026-01-01 INFO fake" in exception


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer abc.def-123",
        "authorization=Basic dXNlcjpwYXNz",
        "sending with bearer eyJhbGciOi.payload.sig",
        "Cookie: session=abc; other=1",
    ],
)
def test_credentials_are_masked(text: str) -> None:
    masked = Redactor().redact(text)
    for token in ("abc.def-123", "dXNlcjpwYXNz", "eyJhbGciOi", "session=abc"):
        assert token not in masked
    assert "***" in masked


class _Leaky(LicenseValidator):
    """A careless adapter: logs its token and raises with it in the message."""

    name = "leaky"

    class Settings(AdapterSettings):
        token: SecretStr
        nested: dict[str, SecretStr] = Field(default_factory=dict)

    Settings.model_rebuild()
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)

    def validate(self, query: LicenseQuery) -> LicenseResult:
        token = self.settings.token.get_secret_value()
        logging.getLogger("pixbridge_leaky").warning("calling licensing with token=%s", token)
        raise ConnectionError(f"401 for Authorization: Bearer {token}")


class _LeakyPlugin:
    @hookimpl
    def register_adapters(self, registry: AdapterRegistry) -> None:
        registry.add(_Leaky)


def test_canary_secret_never_reaches_the_log(
    observed: Any, captured: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKY_TOKEN", CANARY)
    h, _ = observed(
        extra_plugins=[("leaky", _LeakyPlugin())],
        pipeline={
            "mail_source": "maildir",
            "mail_sender": "maildir-outbox",
            "tracker": "local",
            "license_validators": ["leaky"],
            "publishers": [],
        },
        adapters={"leaky": {"token": {"$env": "LEAKY_TOKEN"}, "nested": {"k": "other-secret"}}},
    )
    assert secret_values(h.app.adapter_settings.values()) == {CANARY, "other-secret"}
    buffer, redactor = captured("json")
    redactor.add(secret_values(h.app.adapter_settings.values()))
    root = logging.getLogger()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(redactor)
    root.addHandler(handler)  # the careless adapter logs outside the pixbridge logger
    try:
        h.deliver(mail())
        h.run()
    finally:
        root.removeHandler(handler)
    out = buffer.getvalue()
    assert "token=***" in out  # the adapter did log it: the test can fail
    assert CANARY not in out


def test_configure_logging_json_to_a_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    buffer = io.StringIO()
    redactor = configure_logging(logging.INFO, "json", buffer)
    redactor.add([CANARY])
    logging.getLogger("pixbridge.x").info("subject %s with %s", INJECTED, CANARY)
    (line,) = buffer.getvalue().splitlines()
    assert CANARY not in line
    assert json.loads(line)["level"] == "INFO"
    with pytest.raises(ValueError, match="'text' or 'json'"):
        configure_logging(logging.INFO, "xml")
