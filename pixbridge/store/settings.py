"""``[store]``: which database holds the state, chosen among the installed store backends."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["StoreSettings"]


class StoreSettings(BaseModel):
    """``[store]``: the state database.

    The default is the built-in SQLite file ``state.sqlite3`` in the data directory. A plugin
    adds further backends (``pixbridge-postgres``: ``backend = "postgresql"``)::

        [store]
        backend = "postgresql"
        url = { "$env" = "PIXBRIDGE_STORE_URL" }   # postgresql://user:password@host/db
        schema = "pixbridge"
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    backend: str = "sqlite"
    """The store backend's name; ``pixbridge config check`` lists the installed ones."""
    url: SecretStr | dict[str, str] | None = None
    """Where the database is, for a server backend: a secret reference (``$env`` or
    ``$file``) in a settings file, since the URL may carry a password."""
    schema_name: str | None = Field(
        default=None, alias="schema", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
    )
    """The schema (namespace) inside that database, for backends that have them; created if
    missing. Default: the server's default (``public`` on PostgreSQL)."""
