"""pixbridge's state store on PostgreSQL: ``[store] backend = "postgresql"``.

The same tables, columns and statements as the built-in SQLite store (times stay ISO 8601
text, booleans integers), so behaviour and analysts' SQL are the same on both, and several
pixbridge instances can share one database.
"""

from __future__ import annotations

from pixbridge import AdapterRegistry, hookimpl
from pixbridge.store.config import StoreConfig
from pixbridge.store.db import Database

__all__ = ["BACKEND", "check_config", "open_database", "register_adapters"]

BACKEND = "postgresql"
"""The name ``[store] backend`` chooses this plugin by."""


def check_config(config: StoreConfig) -> list[str]:
    """What is wrong with ``[store]`` for PostgreSQL, without connecting."""
    if config.url is None:
        return [
            'backend "postgresql" needs url = { "$env" = "PIXBRIDGE_STORE_URL" } '
            "(postgresql://user:password@host:5432/database)"
        ]
    url = config.url.get_secret_value()
    if not url.startswith(("postgresql://", "postgres://")) and "=" not in url:
        return ["url: expected postgresql://user:password@host:5432/database or key=value pairs"]
    return []


def open_database(config: StoreConfig) -> Database:
    """Connect, create the schema if missing and migrate it (the store backend's factory)."""
    from pixbridge_postgres.database import PostgresDatabase

    assert config.url is not None  # check_config ran first
    return PostgresDatabase(config.url.get_secret_value(), schema=config.schema)


@hookimpl
def register_adapters(registry: AdapterRegistry) -> None:
    """Offer the ``postgresql`` store backend."""
    registry.add_store_backend(BACKEND, open_database, check=check_config)
