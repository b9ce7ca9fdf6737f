"""The exception types pixbridge and its plugins raise.

Adapters raise only :class:`AdapterError` subclasses, so the orchestrator can tell a failure worth
retrying (:class:`TransientAdapterError`) from one that is not (:class:`PermanentAdapterError`) and
from missing or rejected credentials (:class:`NeedsCredentials`). Any other exception escaping an
adapter is a bug in that adapter and is reported with its traceback.
"""

from __future__ import annotations

__all__ = [
    "AdapterError",
    "ConfigError",
    "ConfigProblem",
    "MessageRejected",
    "NeedsCredentials",
    "PermanentAdapterError",
    "PixbridgeError",
    "PluginError",
    "TransientAdapterError",
    "UnknownOutcome",
]

from dataclasses import dataclass


class PixbridgeError(Exception):
    """Base class of every error pixbridge raises on purpose.

    The message is written for the person who has to act on it: what is wrong and what to do.
    """


class PluginError(PixbridgeError):
    """A plugin could not be loaded or registered, or conflicts with another plugin."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem found in the settings, with where it is."""

    where: str
    """File and key path, for example ``settings/pixbridge.toml [adapters.local] prefix``."""
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ConfigError(PixbridgeError):
    """The settings are invalid; :attr:`problems` lists every problem found, not only the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the settings:\n{lines}")


class AdapterError(PixbridgeError):
    """Base class of the errors an adapter may raise."""


class TransientAdapterError(AdapterError):
    """A failure that may go away by itself (timeout, 5xx, throttling): try again later.

    :param retry_after: seconds the remote side asked us to wait, if it said so.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnknownOutcome(TransientAdapterError):
    """A write was sent but its outcome is unknown (the response was lost).

    The orchestrator must reconcile before writing again, never blindly repeat the write.
    """


class PermanentAdapterError(AdapterError):
    """A failure that repeating the same call will not fix (invalid data, a 4xx refusal)."""


class NeedsCredentials(AdapterError):
    """Credentials are missing, expired or refused; an operator has to act."""


class MessageRejected(PixbridgeError):
    """An inbound message cannot be processed (over a limit, unparseable).

    It is quarantined with :attr:`reason`; the raw bytes are kept.
    """

    def __init__(self, reason: str, *, code: str = "rejected") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
