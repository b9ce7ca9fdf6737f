"""Talking to Graph: one request policy for both adapters.

Every request goes through :meth:`GraphClient.request`, which

- carries a bearer token and ``Prefer: IdType="ImmutableId"``, so message ids stay the same
  when a message is moved (Graph's default ids change with the folder);
- waits for a slot of the mailbox's :class:`MailboxGate`: at most ``max_concurrency`` (Graph:
  4) requests in flight per mailbox in this process, shared by the source and the sender;
- honours ``Retry-After`` on 429 and 503 exactly, for every request to that mailbox, never
  sooner; backs off other 5xx and lost connections exponentially with jitter (tenacity);
  gives up after ``max_attempts`` with :class:`~pixbridge.errors.TransientAdapterError`;
- retries a refused token once with a fresh one; then 401/403 raise
  :class:`~pixbridge.errors.NeedsCredentials`, other 4xx :class:`GraphRefused` (a
  ``PermanentAdapterError`` with Graph's error code and message).
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
)
from tenacity.stop import stop_base

from pixbridge.errors import NeedsCredentials, TransientAdapterError
from pixbridge_graph.auth import TokenProvider
from pixbridge_graph.errors import GraphRefused
from pixbridge_graph.settings import GraphConnectionSettings

__all__ = ["GraphClient", "GraphRefused", "MailboxGate", "gate_for"]

log = logging.getLogger("pixbridge.adapter.graph")

IMMUTABLE_IDS = 'IdType="ImmutableId"'
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class _Retryable(TransientAdapterError):
    """One attempt failed in a way the next one may not (internal to the retry loop)."""


@dataclass
class MailboxGate:
    """The requests in flight to one mailbox, and the time before which none may start."""

    slots: threading.BoundedSemaphore
    not_before: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hold(self, seconds: float) -> None:
        """Let no request to the mailbox start for *seconds* from now (a ``Retry-After``)."""
        with self.lock:
            self.not_before = max(self.not_before, time.monotonic() + seconds)

    def wait_turn(self) -> None:
        """Sleep until the mailbox may be asked again."""
        while True:
            with self.lock:
                remaining = self.not_before - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(remaining)


_gates: dict[tuple[str, str], MailboxGate] = {}
_gates_lock = threading.Lock()


def gate_for(graph_url: str, mailbox: str, size: int) -> MailboxGate:
    """The process-wide gate of *mailbox*: Graph counts its limits per app and mailbox."""
    key = (graph_url, mailbox.casefold())
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = MailboxGate(threading.BoundedSemaphore(size))
        return gate


class _Session(requests.Session):
    """A session that verifies TLS against ``tls_ca_file`` when one is set.

    ``Session.verify`` alone is not enough: requests lets ``REQUESTS_CA_BUNDLE`` override it,
    so the CA goes into every request, msal's included.
    """

    def __init__(self, ca_file: Path | None) -> None:
        super().__init__()
        self.ca_file = None if ca_file is None else str(ca_file)

    def request(  # type: ignore[override]
        self, method: str, url: str, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send a request, verifying against the configured CA."""
        if self.ca_file is not None and kwargs.get("verify") in (None, True):
            kwargs["verify"] = self.ca_file
        return super().request(method, url, *args, **kwargs)


class GraphClient:
    """Requests to one mailbox through Graph, under the policy in the module docstring."""

    def __init__(self, settings: GraphConnectionSettings, table: str) -> None:
        self.settings = settings
        self.table = table
        self.session = _Session(settings.tls_ca_file)
        self.tokens = TokenProvider(settings, self.session, table)
        self.gate = gate_for(settings.graph_url, settings.mailbox, settings.max_concurrency)
        self.base = f"{settings.graph_url}/users/{quote(settings.mailbox, safe='@')}"
        """The mailbox's URL: paths given to :meth:`request` are relative to it."""

    def close(self) -> None:
        """Close the HTTP connections."""
        self.session.close()

    # ------------------------------------------------------------------ requests

    def get_json(self, path: str, *, params: Mapping[str, str] | None = None) -> Any:
        """GET *path* (relative to the mailbox, or an absolute ``@odata`` link) as JSON."""
        return self.request("GET", path, params=params).json()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        prefer: tuple[str, ...] = (),
        what: str = "",
        repeatable: bool = True,
    ) -> requests.Response:
        """Send one request under the retry policy and return the successful response.

        :param path: relative to the mailbox (``/messages/ID``), or an absolute URL.
        :param prefer: ``Prefer`` values besides the immutable-id one.
        :param repeatable: False for a request that must not be repeated after it may have
            reached Graph (sending mail): then only 429, which Graph never acts on, is retried.
        """
        url = path if path.startswith("https://") else self.base + path
        what = what or f"{method} {path.split('?')[0]}"
        sent_headers = {"Prefer": ", ".join((IMMUTABLE_IDS, *prefer)), **(headers or {})}
        retrying = Retrying(
            retry=retry_if_exception_type(_Retryable),
            wait=self._wait,
            stop=stop_any(
                stop_after_attempt(self.settings.max_attempts), _TooLong(self.settings.max_wait)
            ),
            sleep=time.sleep,
            reraise=True,
            before_sleep=self._log_retry,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._once(
                        method, url, params, json, data, sent_headers, what, repeatable
                    )
        except _Retryable as exc:
            raise TransientAdapterError(str(exc), retry_after=exc.retry_after) from exc
        raise AssertionError("unreachable")  # pragma: no cover - Retrying returns or raises

    def _once(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json: Any,
        data: bytes | None,
        headers: dict[str, str],
        what: str,
        repeatable: bool,
    ) -> requests.Response:
        for fresh_token in (False, True):
            response = self._send(method, url, params, json, data, headers, what, repeatable)
            if response.status_code != 401 or fresh_token:
                break
            # A token can be revoked or outlive a permission change before it expires.
            self.tokens.invalidate()
        if response.status_code < 400:
            return response
        raise self._error(response, what, repeatable)

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json: Any,
        data: bytes | None,
        headers: dict[str, str],
        what: str,
        repeatable: bool,
    ) -> requests.Response:
        token = self.tokens.token()
        with self.gate.slots:
            self.gate.wait_turn()
            try:
                return self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    headers={**headers, "Authorization": f"Bearer {token}"},
                    timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                )
            except requests.ConnectTimeout as exc:
                raise _Retryable(f"Graph is unreachable ({what}): {exc}") from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not repeatable:
                    raise TransientAdapterError(
                        f"Graph did not answer {what}; it may have been carried out: {exc}"
                    ) from exc
                raise _Retryable(f"Graph is unreachable ({what}): {exc}") from exc

    def _error(self, response: requests.Response, what: str, repeatable: bool) -> Exception:
        status = response.status_code
        code, message = _graph_error(response)
        detail = f"HTTP {status} {code}: {message}"
        retry_after = _retry_after(response)
        if retry_after is not None and status in (429, 503):
            self.gate.hold(retry_after)
        if status in _RETRY_STATUS:
            if status == 429 or repeatable:
                return _Retryable(f"Graph answered {what} with {detail}", retry_after=retry_after)
            return TransientAdapterError(
                f"Graph answered {what} with {detail}; it may have been carried out",
                retry_after=retry_after,
            )
        if status in (401, 403):
            return NeedsCredentials(
                f"Graph refused {what} ({detail}); check that the app in "
                f"adapters.{self.table}.client_id has the Mail.ReadWrite and Mail.Send "
                f"application permissions with admin consent, and that its application access "
                f"policy includes {self.settings.mailbox}"
            )
        return GraphRefused(f"Graph refused {what} ({detail})", status=status, code=code)

    # ------------------------------------------------------------------ retry policy

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)  # the gate holds every request for this long, too
        # Exponential back-off with full jitter, capped.
        ceiling = min(
            self.settings.max_wait, self.settings.backoff * 2 ** (state.attempt_number - 1)
        )
        return random.uniform(ceiling / 2, ceiling)

    @staticmethod
    def _log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("retrying in %.2fs (attempt %s): %s", wait, state.attempt_number, exc)


class _TooLong(stop_base):
    """Stop when Graph asks for a longer pause than one call may wait.

    The orchestrator pauses the stage instead: the error carries ``retry_after``.
    """

    def __init__(self, max_wait: float) -> None:
        self.max_wait = max_wait

    def __call__(self, retry_state: RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        return retry_after is not None and float(retry_after) > self.max_wait


def _graph_error(response: requests.Response) -> tuple[str, str]:
    """Graph's ``{"error": {"code", "message"}}``, or the status text for another body."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or "Error", response.text[:200].strip() or "no details"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code", "Error")), str(error.get("message", "no details"))
    return response.reason or "Error", "no details"


def _retry_after(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
