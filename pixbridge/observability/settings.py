"""``[observability]``: where the metrics and health endpoint listen, when intake stalls, and
how early credentials about to expire are warned of."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ObservabilitySettings", "parse_listen"]


def parse_listen(value: str) -> tuple[str, int]:
    """Split ``ADDRESS:PORT`` (``[::1]:9100`` for IPv6) into host and port.

    :raises ValueError: with what to write instead.
    """
    host, sep, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(
            f"expected ADDRESS:PORT such as 127.0.0.1:9464 or [::1]:9464, got {value!r}"
        )
    return host, int(port)


class ObservabilitySettings(BaseModel):
    """``[observability]``: the metrics and health endpoint of ``pixbridge run``."""

    model_config = ConfigDict(extra="forbid")

    listen: str = ""
    """``ADDRESS:PORT`` serving ``/metrics`` and ``/healthz``; empty: no endpoint."""
    stall_after: float = Field(default=300.0, gt=0)
    """Seconds without a completed pass, or a message waiting longer, before health fails; also
    how long the mailbox may go unread (plus ``[lifecycle] poll_interval``)."""
    credential_warning_days: int = Field(default=14, ge=0)
    """Days before a client secret, certificate or API token expires that ``pixbridge run``
    logs a daily warning and ``pixbridge doctor`` warns; 0: only once it has expired."""

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        if value:
            parse_listen(value)
        return value
