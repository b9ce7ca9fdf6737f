"""The run context handed to hooks: settings, clock and logger of the running instance."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pixbridge.adapters import Clock, SystemClock

if TYPE_CHECKING:
    from pixbridge.settings import Settings
    from pixbridge.store.state import StateStore

__all__ = ["RunContext"]


@dataclass(frozen=True)
class RunContext:
    """What every hook implementation may read about the running instance. Treat as read-only."""

    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("pixbridge"))
    open_store: Callable[[], StateStore] | None = field(default=None, repr=False)
    """Gives the running instance's state store (the application opens it on first use)."""

    @property
    def data_dir(self) -> Path:
        """The data directory holding all runtime state."""
        return self.settings.data_dir

    @property
    def store(self) -> StateStore:
        """The state store of the running instance, whichever backend ``[store]`` chose.

        Decision hooks run outside the orchestrator's transactions; a write here commits at once.
        """
        if self.open_store is None:
            raise RuntimeError(
                "this RunContext has no state store: only the running application's context "
                "(App.ctx) has one"
            )
        return self.open_store()
