"""Talking to Jira: the real ``jira`` client, one retry policy, error mapping and per-issue pacing.

The client is built with ``max_retries=0`` so that its own retries (with real sleeps and their
own idea of ``Retry-After``) never stack on ours. Every call goes through :meth:`JiraSession.call`:

- 429 and 503 with ``Retry-After`` wait exactly that long (never less); other 5xx, 409 and
  connection failures back off exponentially with jitter; at most ``max_attempts`` attempts,
  then :class:`~pixbridge.errors.TransientAdapterError` (carrying the last ``Retry-After``);
- a write that may have reached Jira before its response was lost (timeout, reset, 5xx on a
  POST that creates something) is never repeated here: it raises
  :class:`~pixbridge.errors.UnknownOutcome` so the caller reconciles;
- 401/403 raise :class:`~pixbridge.errors.NeedsCredentials`, 404 and other 4xx
  :class:`~pixbridge.errors.PermanentAdapterError` with Jira's own error text (field names
  included).

Writes to one issue are spaced by at least ``issue_write_interval`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
import urllib3.exceptions
from jira import JIRA, JIRAError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from pixbridge.errors import (
    NeedsCredentials,
    PermanentAdapterError,
    TransientAdapterError,
    UnknownOutcome,
)
from pixbridge_jira.settings import JiraConnection

__all__ = ["JiraSession", "Retryable"]

T = TypeVar("T")
log = logging.getLogger("pixbridge.adapter.jira")

_RETRY_STATUS = {409, 429, 500, 502, 503, 504}


class Retryable(TransientAdapterError):
    """An attempt failed in a way the next attempt may not (internal to the retry loop)."""


class JiraSession:
    """One Jira client per thread, the retry policy and the pacing of writes per issue."""

    def __init__(
        self, settings: JiraConnection, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.calls = 0
        """HTTP requests made (attempts, not logical calls); read by tests and the benchmark."""
        self._local = threading.local()
        self._lock = threading.Lock()
        self._last_write: dict[str, float] = {}
        self._issue_locks: dict[str, threading.Lock] = {}
        self._backoff = wait_exponential_jitter(
            multiplier=settings.backoff, max=settings.max_wait, jitter=settings.backoff
        )

    # ------------------------------------------------------------------ the client

    @property
    def client(self) -> JIRA:
        """This thread's ``jira.JIRA`` client (built, with one serverInfo call, on first use)."""
        client: JIRA | None = getattr(self._local, "client", None)
        if client is None:
            client = self.call(self._build, what="connect")
            self._local.client = client
        return client

    def _build(self) -> JIRA:
        s = self.settings
        auth: dict[str, Any] = {}
        if s.auth == "pat":
            auth["token_auth"] = s.token.get_secret_value() if s.token else ""
        elif s.auth == "api_token":
            auth["basic_auth"] = (s.email, s.token.get_secret_value() if s.token else "")
        else:
            auth["basic_auth"] = (s.email, s.password.get_secret_value() if s.password else "")
        client = JIRA(
            s.url,
            options={"check_update": False},
            max_retries=0,
            timeout=(s.connect_timeout, s.read_timeout),
            get_server_info=True,
            **auth,
        )
        self._count_requests(client)
        return client

    def _count_requests(self, client: JIRA) -> None:
        session = client._session
        original = session.request

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls += 1
            return original(*args, **kwargs)

        session.request = counted  # type: ignore[method-assign]
        with self._lock:
            self.calls += 1  # the serverInfo call made by the constructor

    def url(self, path: str, version: str = "2") -> str:
        """The absolute URL of REST resource *path* (``issue/SUP-1``) in API *version*."""
        return f"{self.settings.url}/rest/api/{version}/{path}"

    def get(self, path: str, version: str = "2", **params: Any) -> Any:
        """GET *path* and return its JSON, through the retry policy."""
        params = {k: v for k, v in params.items() if v is not None}
        return self.call(
            lambda: self.client._session.get(self.url(path, version), params=params).json(),
            what=f"GET {path}",
        )

    def send(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        version: str = "2",
        issue: str | None = None,
        creates: bool = False,
    ) -> Any:
        """Send a JSON *body*; returns the response JSON (``None`` for an empty body)."""
        import json

        def attempt() -> Any:
            response = self.client._session.request(
                method, self.url(path, version), data=json.dumps(body)
            )
            return response.json() if response.content else None

        return self.call(attempt, what=f"{method} {path}", issue=issue, creates=creates)

    # ------------------------------------------------------------------ retry policy

    def call(
        self,
        fn: Callable[[], T],
        *,
        what: str,
        issue: str | None = None,
        creates: bool = False,
    ) -> T:
        """Run *fn* (one HTTP exchange) under the retry policy; see the module docstring.

        :param issue: the issue *fn* writes to, for pacing.
        :param creates: *fn* creates something Jira has no idempotency key for.
        """
        retrying = Retrying(
            retry=retry_if_exception_type(Retryable),
            wait=self._wait,
            stop=stop_any(
                stop_after_attempt(max(1, self.settings.max_attempts)),
                _TooLong(self.settings.max_wait),
            ),
            sleep=self.sleep,
            reraise=True,
            before_sleep=self._log_retry,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if issue is not None:
                        with self._paced(issue):
                            return self._once(fn, what, creates)
                    return self._once(fn, what, creates)
        except Retryable as exc:
            raise TransientAdapterError(str(exc), retry_after=exc.retry_after) from exc
        raise AssertionError("unreachable")  # pragma: no cover - Retrying returns or raises

    def _once(self, fn: Callable[[], T], what: str, creates: bool) -> T:
        try:
            return fn()
        except JIRAError as exc:
            raise self._mapped(exc, what, creates) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            if creates and _may_have_been_sent(exc):
                raise UnknownOutcome(f"Jira did not answer {what}: {exc}") from exc
            raise Retryable(f"Jira is unreachable ({what}): {exc}") from exc
        except ValueError as exc:  # a body that is not JSON: a proxy's error page, say
            raise Retryable(f"Jira answered {what} with something that is not JSON") from exc

    def _mapped(self, exc: JIRAError, what: str, creates: bool) -> Exception:
        status = exc.status_code or 0
        detail = (exc.text or "").strip() or "no details"
        retry_after = _retry_after(exc.response)
        if status in (401, 403):
            return NeedsCredentials(
                f"Jira refused {what} (HTTP {status}): {detail}; check adapters."
                f"{self.settings.table}.auth, email and token, and the account's permissions "
                "in the project"
            )
        if creates and status >= 500:
            return UnknownOutcome(f"Jira failed {what} with HTTP {status}: it may have happened")
        if status in _RETRY_STATUS:
            return Retryable(
                f"Jira answered {what} with HTTP {status}: {detail}", retry_after=retry_after
            )
        if status == 404:
            return PermanentAdapterError(f"Jira has no such resource ({what}): {detail}")
        return PermanentAdapterError(f"Jira refused {what} (HTTP {status}): {detail}")

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        return float(self._backoff(state))

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("retrying in %.2fs (attempt %s): %s", wait, state.attempt_number, exc)

    # ------------------------------------------------------------------ pacing

    def _paced(self, issue: str) -> _Paced:
        with self._lock:
            lock = self._issue_locks.setdefault(issue, threading.Lock())
        return _Paced(self, issue, lock)

    def note_write(self, issue: str) -> None:
        """Record a write to *issue* made outside :meth:`call`'s pacing (the create)."""
        with self._lock:
            self._last_write[issue] = time.monotonic()


class _TooLong(stop_base):
    """Stop when Jira asks for a longer wait than ``max_wait``.

    Such a wait is not sat out inside one call: the orchestrator pauses the tracker stage for
    that long instead (the error carries ``retry_after``).
    """

    def __init__(self, max_wait: float) -> None:
        self.max_wait = max_wait

    def __call__(self, retry_state: RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        return retry_after is not None and float(retry_after) > self.max_wait


class _Paced:
    """Holds the issue's lock for one write, starting no sooner than the interval allows."""

    def __init__(self, session: JiraSession, issue: str, lock: threading.Lock) -> None:
        self.session, self.issue, self.lock = session, issue, lock

    def __enter__(self) -> None:
        self.lock.acquire()
        with self.session._lock:
            last = self.session._last_write.get(self.issue)
        if last is not None:
            wait = last + self.session.settings.issue_write_interval - time.monotonic()
            if wait > 0:
                self.session.sleep(wait)

    def __exit__(self, *exc: object) -> None:
        self.session.note_write(self.issue)
        self.lock.release()


def _retry_after(response: Any) -> float | None:
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from Jira; the back-off applies instead


def _may_have_been_sent(exc: Exception) -> bool:
    """False only when the request certainly never reached the server (no connection made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    reason = exc.args[0] if exc.args else None
    inner = getattr(reason, "reason", reason)
    return not isinstance(inner, urllib3.exceptions.NewConnectionError)
