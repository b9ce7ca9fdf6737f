"""The run context handed to hooks: settings, clock and logger of the running instance."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pixbridge.adapters import Clock, SystemClock

if TYPE_CHECKING:
    from pixbridge.settings import Settings

__all__ = ["RunContext"]


@dataclass(frozen=True)
class RunContext:
    """What every hook implementation may read about the running instance. Treat as read-only."""

    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("pixbridge"))

    @property
    def data_dir(self) -> Path:
        """The data directory holding all runtime state."""
        return self.settings.data_dir
