"""One EWS mailbox through exchangelib: account set-up, the retry policy and error translation.

exchangelib's own retry policy stays ``FailFast``: it raises ``ErrorServerBusy`` and transport
errors at once, and the tenacity policy here owns every retry, so there is exactly one place
that decides how long to wait (never less than the server's ``BackOffMilliseconds``) and when
to give up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    NTLM,
    OAUTH2,
    Account,
    Build,
    Configuration,
    Credentials,
    FailFast,
    Identity,
    OAuth2Credentials,
    Version,
)
from exchangelib import (
    UTC as EWS_UTC,
)
from exchangelib import errors as ews_errors
from exchangelib.folders import Folder
from exchangelib.services import CreateFolder
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_exponential_jitter

from pixbridge.errors import (
    AdapterError,
    NeedsCredentials,
    PermanentAdapterError,
    TransientAdapterError,
)
from pixbridge_exchange.settings import ExchangeSettings

__all__ = [
    "GONE",
    "SUBSCRIPTION_GONE",
    "TRANSIENT_ERRORS",
    "FolderMissing",
    "Mailbox",
    "server_back_off",
    "translate",
]

T = TypeVar("T")
log = logging.getLogger("pixbridge.exchange")

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ews_errors.ErrorServerBusy,
    ews_errors.ErrorTimeoutExpired,
    ews_errors.ErrorInternalServerTransientError,
    ews_errors.ErrorInternalServerError,
    ews_errors.ErrorConnectionFailedTransientError,
    ews_errors.ErrorMailboxStoreUnavailable,
    ews_errors.ErrorMailboxMoveInProgress,
    ews_errors.ErrorTooManyObjectsOpened,
    ews_errors.MalformedResponseError,
    ews_errors.CASError,
    ews_errors.SOAPError,
    requests.ConnectionError,
    requests.Timeout,
)
"""Errors that may go away by themselves: retried with back-off, then reported as transient."""

GONE: tuple[type[BaseException], ...] = (
    ews_errors.ErrorItemNotFound,
    ews_errors.ErrorInvalidIdMalformed,
)
"""What EWS answers for an item id that is no longer there (e.g. moved by an earlier call)."""

SUBSCRIPTION_GONE: tuple[type[BaseException], ...] = (
    ews_errors.ErrorSubscriptionNotFound,
    ews_errors.ErrorInvalidSubscription,
    ews_errors.ErrorExpiredSubscription,
)
"""What EWS answers for a pull subscription it has forgotten (expired, or a server restart)."""

# exchangelib turns some transport failures into ErrorServerBusy("Reraised from ...") carrying
# its own guessed wait; those are transport errors, not the server asking us to back off.
_RERAISED = "Reraised from"


class FolderMissing(PermanentAdapterError):
    """A configured folder does not exist in the mailbox (and may not be created)."""


def _is_server_busy(exc: BaseException) -> bool:
    return isinstance(exc, ews_errors.ErrorServerBusy) and not str(exc).startswith(_RERAISED)


def server_back_off(exc: BaseException) -> float | None:
    """The wait in seconds a throttled server asked for (BackOffMilliseconds), or None."""
    if _is_server_busy(exc):
        back_off = getattr(exc, "back_off", None)
        if back_off:
            return float(back_off)
    return None


def translate(exc: BaseException, what: str) -> AdapterError:
    """The pixbridge error for an exchangelib or transport failure while doing *what*."""
    if isinstance(exc, AdapterError):
        return exc
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, ews_errors.UnauthorizedError):
        return NeedsCredentials(
            f"Exchange refused the credentials while {what} ({detail}); check username, "
            "password or the OAuth2 application"
        )
    if isinstance(exc, ews_errors.RedirectError):
        return PermanentAdapterError(
            f"Exchange redirected while {what} ({detail}); service_endpoint should be the final "
            "EWS URL (https://host/EWS/Exchange.asmx)"
        )
    if isinstance(
        exc,
        ews_errors.ErrorInvalidSchemaVersionForMailboxVersion
        | ews_errors.ErrorInvalidServerVersion,
    ):
        return PermanentAdapterError(
            f"Exchange refused the server version while {what} ({detail}); set server_version "
            "to the version the server runs"
        )
    if isinstance(exc, TRANSIENT_ERRORS) or type(exc) is ews_errors.TransportError:
        return TransientAdapterError(
            f"Exchange is unavailable while {what} ({detail})", retry_after=server_back_off(exc)
        )
    return PermanentAdapterError(f"Exchange failed while {what} ({detail})")


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_ERRORS) and not isinstance(exc, ews_errors.RateLimitError)


class _GiveUpWhenTooLong(stop_base):
    """Stop retrying when the server asks for a wait longer than ``max_wait``."""

    def __init__(self, max_wait: float) -> None:
        self.max_wait = max_wait

    def __call__(self, state: RetryCallState) -> bool:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        hint = server_back_off(exc) if exc is not None else None
        return hint is not None and hint > self.max_wait


class Mailbox:
    """An exchangelib :class:`~exchangelib.Account` plus pixbridge's retry policy.

    Creating it does no I/O; the first call connects.

    :param sleep: How the retry policy waits (tests may count the waits).
    """

    def __init__(
        self, settings: ExchangeSettings, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        problems = settings.missing()
        if problems:
            raise PermanentAdapterError(
                "the Exchange mailbox is not configured: " + "; ".join(problems)
            )
        self.settings = settings
        self._sleep = sleep
        self._backoff = wait_exponential_jitter(
            multiplier=settings.backoff, max=settings.max_wait, exp_base=2, jitter=settings.backoff
        )
        self.account = Account(
            primary_smtp_address=settings.mailbox,
            config=self._configuration(),
            autodiscover=False,
            access_type=DELEGATE,
            default_timezone=EWS_UTC,
        )
        protocol = self.account.protocol
        protocol.TIMEOUT = settings.timeout
        # With RETRY_WAIT 0 exchangelib leaves back_off empty when the server named none, so
        # server_back_off() can tell "the server said" from exchangelib's own guess.
        protocol.RETRY_WAIT = 0

    def _configuration(self) -> Configuration:
        s = self.settings
        major, minor, build, revision = s.build()
        version = Version(build=Build(major, minor, build, revision))
        credentials: Any
        if s.auth == "oauth2":
            assert s.oauth2_client_secret is not None  # missing() checked it
            credentials = OAuth2Credentials(
                client_id=s.oauth2_client_id,
                client_secret=s.oauth2_client_secret.get_secret_value(),
                tenant_id=s.oauth2_tenant_id,
                identity=Identity(primary_smtp_address=s.mailbox),
            )
        else:
            assert s.password is not None  # missing() checked it
            credentials = Credentials(s.username, s.password.get_secret_value())
        auth_type = {"ntlm": NTLM, "basic": BASIC, "oauth2": OAUTH2}[s.auth]
        return Configuration(
            service_endpoint=s.service_endpoint,
            credentials=credentials,
            auth_type=auth_type,
            version=version,
            retry_policy=FailFast(),
        )

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        if exc is not None:
            hint = server_back_off(exc)
            if hint is not None:
                return hint
            if _is_server_busy(exc):
                return self.settings.server_busy_wait
        return float(self._backoff(state))

    def _before_sleep(self, state: RetryCallState) -> None:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "EWS call failed (attempt %d): %s; retrying in %.1fs", state.attempt_number, exc, wait
        )

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run *fn* (EWS calls) under the retry policy; failures become pixbridge errors.

        :param what: What is being done, for the error message (``"listing the inbox"``).
        """
        retrying = Retrying(
            retry=retry_if_exception(_is_transient),
            wait=self._wait,
            stop=stop_after_attempt(self.settings.max_attempts)
            | _GiveUpWhenTooLong(self.settings.max_wait),
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(fn)
        except AdapterError:
            raise
        except (ews_errors.EWSError, requests.RequestException, OSError) as exc:
            raise translate(exc, what) from exc

    # ------------------------------------------------------------ folders

    def folder(self, path: str, *, create: bool = False) -> Folder:
        """The folder at *path* (not retried: call inside :meth:`call`).

        ``inbox`` is the distinguished Inbox; other paths are below the top of the mailbox
        (``msgfolderroot``), and a first element ``inbox`` means below the Inbox.

        :raises FolderMissing: a folder on the path is missing and *create* is false.
        """
        parts = [p for p in path.strip("/").split("/") if p]
        if parts and parts[0].lower() == "inbox":
            folder = self.account.inbox
            parts = parts[1:]
        else:
            folder = self.account.msg_folder_root
        for name in parts:
            try:
                folder = folder // name
            except ews_errors.ErrorFolderNotFound:
                if not create:
                    raise FolderMissing(
                        f"the mailbox {self.settings.mailbox} has no folder {path!r} "
                        f"({name!r} is missing); create it or set create_folders = true"
                    ) from None
                log.info("creating folder %r in %s", path, self.settings.mailbox)
                new = Folder(parent=folder, name=name, folder_class="IPF.Note")
                # Folder.save() looks the parent up in exchangelib's folder cache, which a
                # folder found by name is not in; the service takes the parent directly.
                with suppress(ews_errors.ErrorFolderExists):
                    CreateFolder(account=self.account).get(parent_folder=folder, folders=[new])
                folder = folder // name
        return folder

    def close(self) -> None:
        """Close the pooled HTTP sessions (they are reopened if the mailbox is used again)."""
        self.account.protocol.close()
