"""``[license]``: what intake does with the result of the licence check.

The validators themselves are chosen in ``[pipeline] license_validators`` and configured in
their own ``[adapters.<name>]`` tables; this section only says how a request is treated.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LicensePolicySettings"]


class LicensePolicySettings(BaseModel):
    """``[license]`` settings: labels, priority and mail per licence outcome."""

    model_config = ConfigDict(extra="forbid")

    ask_for_serial: bool = True
    """Unknown serial: add ``serial`` to the items the acknowledgement asks for."""
    expired_priority: Literal["", "low", "normal", "high", "blocker"] = "low"
    """Priority of a request whose support has expired (``""``: keep the decided one)."""
    notify_expired: bool = True
    """Mail the customer when support ended and how to renew (template ``support_expired``),
    queued together with the acknowledgement."""
    renew_url: str = ""
    """Where a customer renews the support certificate (shown in the ``support_expired`` mail)."""
    renew_contact: str = ""
    """Whom to write to about renewal, e.g. ``sales@vendor.example`` (shown in the same mail)."""
    expired_label: str = "support-expired"
    unknown_label: str = "serial-unknown"
    invalid_label: str = "license-invalid"
    indeterminate_label: str = "license-check"
    certificate_extensions: list[str] = Field(default_factory=lambda: [".pixcert"])
    """Attachments with these extensions (or carrying the certificate armor) are certificates."""
