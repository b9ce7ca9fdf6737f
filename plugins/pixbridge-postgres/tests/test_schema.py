"""The PostgreSQL schema cannot drift from SQLite's: same versions, tables, columns, indexes."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from pixbridge_postgres.database import PostgresDatabase

from pixbridge.store.db import migrations
from pixbridge.store.sqlite import SqliteDatabase


def _names(package: str) -> list[str]:
    folder = resources.files(package).joinpath("migrations")
    return sorted(e.name for e in folder.iterdir() if e.name.endswith(".sql"))


def test_every_core_migration_has_a_postgres_counterpart_of_the_same_name() -> None:
    assert _names("pixbridge_postgres") == _names("pixbridge.store")
    core = [v for v, _ in migrations("pixbridge.store")]
    assert [v for v, _ in migrations("pixbridge_postgres")] == core
    assert core == list(range(1, len(core) + 1)), "versions are 1, 2, 3 ... without gaps"


def _sqlite_shape(db: SqliteDatabase) -> tuple[dict[str, list[tuple[str, bool]]], set[str]]:
    tables: dict[str, list[tuple[str, bool]]] = {}
    for table in db.columns():
        info = db.conn.execute(f"PRAGMA table_info({table})").fetchall()
        # Primary-key columns differ only in how NOT NULL is spelt (SQLite allows NULL there).
        tables[table] = [(r["name"], bool(r["notnull"]) or bool(r["pk"])) for r in info]
    indexes = {
        r[0]
        for r in db.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    }
    return tables, indexes


def _postgres_shape(db: PostgresDatabase) -> tuple[dict[str, list[tuple[str, bool]]], set[str]]:
    tables: dict[str, list[tuple[str, bool]]] = {}
    for row in db.conn.execute(
        "SELECT c.table_name, c.column_name, c.is_nullable FROM information_schema.columns c"
        " WHERE c.table_schema = current_schema() ORDER BY c.table_name, c.ordinal_position"
    ):
        tables.setdefault(row[0], []).append((row[1], row[2] == "NO"))
    # Indexes made by PRIMARY KEY and UNIQUE constraints have no counterpart by name in SQLite.
    indexes = {
        r[0]
        for r in db.conn.execute(
            "SELECT i.indexname FROM pg_indexes i WHERE i.schemaname = current_schema()"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conname = i.indexname)"
        )
    }
    return tables, indexes


def _sqlite_unique_keys(db: SqliteDatabase) -> set[tuple[str, tuple[str, ...]]]:
    keys = set()
    for table in db.columns():
        info = db.conn.execute(f"PRAGMA table_info({table})").fetchall()
        pk = tuple(r["name"] for r in sorted(info, key=lambda r: r["pk"]) if r["pk"])
        if pk:  # an INTEGER PRIMARY KEY has no index of its own in SQLite
            keys.add((table, pk))
        for index in db.conn.execute(f"PRAGMA index_list({table})").fetchall():
            if index["unique"]:
                cols = db.conn.execute(f"PRAGMA index_info({index['name']})").fetchall()
                keys.add((table, tuple(c["name"] for c in sorted(cols, key=lambda c: c["seqno"]))))
    return keys


def _postgres_unique_keys(db: PostgresDatabase) -> set[tuple[str, tuple[str, ...]]]:
    rows = db.conn.execute(
        "SELECT t.relname, array_agg(a.attname ORDER BY k.n) FROM pg_index i"
        " JOIN pg_class t ON t.oid = i.indrelid"
        " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)"
        " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum"
        " WHERE i.indisunique AND t.relnamespace = current_schema()::regnamespace"
        " GROUP BY i.indexrelid, t.relname"
    ).fetchall()
    return {(r[0], tuple(r[1])) for r in rows}


def test_both_backends_have_the_same_tables_columns_and_indexes(
    tmp_path: Path, open_pg: Callable[[], PostgresDatabase]
) -> None:
    sqlite = SqliteDatabase(tmp_path / "state.sqlite3")
    try:
        lite_tables, lite_indexes = _sqlite_shape(sqlite)
        lite_unique = _sqlite_unique_keys(sqlite)
    finally:
        sqlite.close()
    pg = open_pg()
    pg_tables, pg_indexes = _postgres_shape(pg)
    assert pg_tables == lite_tables
    assert pg_indexes == lite_indexes
    # ON CONFLICT DO NOTHING keeps one mail per cause only where a unique key says so.
    assert _postgres_unique_keys(pg) == lite_unique
    assert pg.columns() == {t: [c for c, _ in cols] for t, cols in lite_tables.items()}
    assert pg.schema_version == migrations("pixbridge.store")[-1][0]


def test_text_compares_bytewise_whatever_the_databases_locale(
    open_pg: Callable[[], PostgresDatabase],
) -> None:
    # Times are ISO text: their order must be the bytes' order, as on SQLite.
    db = open_pg()
    rows = db.conn.execute(
        "SELECT c.column_name FROM information_schema.columns c WHERE c.table_schema ="
        " current_schema() AND c.data_type = 'text' AND c.collation_name IS DISTINCT FROM 'C'"
        " AND c.table_name != 'schema_migrations'"
    ).fetchall()
    assert rows == []
