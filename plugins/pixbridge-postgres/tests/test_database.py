"""The PostgreSQL Database beyond the shared store tests: SQL translation, rows, connections."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest
from pixbridge_postgres.database import PostgresDatabase
from pixbridge_postgres.paramstyle import to_pyformat
from pixbridge_postgres.rows import Row
from pixbridge_postgres.testing import fresh_schema, server_url

from pixbridge.store.db import IntegrityError, StoreUnavailable

Open = Callable[[], PostgresDatabase]


def test_placeholders_and_percent_signs_are_translated() -> None:
    assert to_pyformat("SELECT * FROM t WHERE a = ? AND b IN (?, ?)") == (
        "SELECT * FROM t WHERE a = %s AND b IN (%s, %s)"
    )
    assert to_pyformat("SELECT 1 WHERE p LIKE '%ack' AND x = ?") == (
        "SELECT 1 WHERE p LIKE '%%ack' AND x = %s"
    )
    assert to_pyformat("SELECT 'it''s' || ?") == "SELECT 'it''s' || %s"
    assert to_pyformat('SELECT "odd col" FROM t') == 'SELECT "odd col" FROM t'


@pytest.mark.parametrize("sql", ["SELECT 'why?'", 'SELECT "a?" FROM t', "SELECT 'open"])
def test_a_question_mark_inside_quotes_is_refused(sql: str) -> None:
    with pytest.raises(ValueError, match="quote"):
        to_pyformat(sql)


def test_rows_are_addressable_by_name_and_position(open_pg: Open) -> None:
    db = open_pg()
    row = db.execute("SELECT 1 AS one, 'two' AS two").fetchone()
    assert isinstance(row, Row)
    assert (row["one"], row[1], row.keys(), len(row)) == (1, "two", ["one", "two"], 2)
    one, two = row
    assert (one, two) == (1, "two")
    assert dict(db.execute("SELECT 'a', 1 UNION ALL SELECT 'b', 2").fetchall()) == {"a": 1, "b": 2}
    with pytest.raises(KeyError):
        row["three"]


def test_booleans_are_stored_as_integers_and_bytes_as_bytes(open_pg: Open) -> None:
    db = open_pg()
    db.execute(
        "INSERT INTO messages (mailbox, source_ref, content_hash, size, received_at, state,"
        " mailbox_acked) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ("mb", "r", "h", 1, "2026-01-01T00:00:00+00:00", "accepted", True),
    )
    assert db.execute("SELECT mailbox_acked FROM messages").fetchone()[0] == 1
    db.execute("INSERT INTO message_raw (message, raw) VALUES (1, ?)", (b"\x00\xff",))
    assert db.execute("SELECT raw FROM message_raw").fetchone()[0] == b"\x00\xff"


def test_constraint_violations_are_the_stores_integrity_error(open_pg: Open) -> None:
    db = open_pg()
    db.execute("INSERT INTO watermarks (name, value, updated_at) VALUES ('a', 'v', 't')")
    with pytest.raises(IntegrityError, match="watermarks_pkey"):
        db.execute("INSERT INTO watermarks (name, value, updated_at) VALUES ('a', 'v', 't')")
    with pytest.raises(IntegrityError), db.transaction():
        db.execute("INSERT INTO watermarks (name, value, updated_at) VALUES ('b', 'v', 't')")
        db.execute("INSERT INTO participants (request_key, address) VALUES ('SUP-404', 'x')")
    assert [r[0] for r in db.execute("SELECT name FROM watermarks")] == ["a"]


def test_a_lost_connection_is_reported_and_replaced_before_the_next_statement(
    open_pg: Open,
) -> None:
    db, admin = open_pg(), open_pg()
    pid = db.conn.info.backend_pid
    admin.execute("SELECT pg_terminate_backend(?)", (pid,))
    with pytest.raises(StoreUnavailable, match="lost the connection to PostgreSQL database"):
        db.execute("SELECT 1")
    assert db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0
    assert db.conn.info.backend_pid != pid
    with db.transaction():  # still in its schema
        db.execute("INSERT INTO watermarks (name, value, updated_at) VALUES ('w', 'v', 't')")
    assert admin.execute("SELECT value FROM watermarks").fetchone()[0] == "v"


def test_a_connection_lost_mid_transaction_applies_none_of_it(open_pg: Open) -> None:
    db, admin = open_pg(), open_pg()
    with pytest.raises(StoreUnavailable, match="lost the connection"), db.transaction():
        db.execute("INSERT INTO watermarks (name, value, updated_at) VALUES ('a', 'v', 't')")
        admin.execute("SELECT pg_terminate_backend(?)", (db.conn.info.backend_pid,))
        db.lock("pixbridge.claims")  # the next statement of the transaction finds it gone
        db.execute("INSERT INTO watermarks (name, value, updated_at) VALUES ('b', 'v', 't')")
    assert not db.in_transaction
    assert admin.execute("SELECT COUNT(*) FROM watermarks").fetchone()[0] == 0
    with db.transaction():  # a new connection for the next transaction
        db.execute("INSERT INTO watermarks (name, value, updated_at) VALUES ('c', 'v', 't')")
    assert [r[0] for r in admin.execute("SELECT name FROM watermarks")] == ["c"]


def test_instances_starting_at_once_migrate_once() -> None:
    with fresh_schema() as (url, schema):
        opened: list[PostgresDatabase] = []
        errors: list[BaseException] = []
        start = threading.Barrier(3)

        def open_one() -> None:
            start.wait()
            try:
                opened.append(PostgresDatabase(url, schema=schema))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_one) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        try:
            assert errors == []
            versions = [r[0] for r in opened[0].execute("SELECT version FROM schema_migrations")]
            assert sorted(versions) == [1, 2, 3, 4, 5, 6]
        finally:
            for db in opened:
                db.close()


def test_a_missing_schema_is_created() -> None:
    with fresh_schema() as (url, schema):
        inner = f"{schema}_inner"
        db = PostgresDatabase(url, schema=inner)
        try:
            assert db.schema_version == 6
            assert db.execute("SELECT current_schema()").fetchone()[0] == inner
        finally:
            db.execute(f'DROP SCHEMA "{inner}" CASCADE')
            db.close()


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    url = "postgresql://pix:pw-never-shown@127.0.0.1:1/pixdb"
    with pytest.raises(StoreUnavailable) as caught:
        PostgresDatabase(url, schema="x")
    text = str(caught.value)
    assert text.startswith("cannot connect to PostgreSQL database pixdb on 127.0.0.1:1, schema x")
    assert "check [store] url" in text and "pw-never-shown" not in text


def test_the_snapshot_reads_one_consistent_state(open_pg: Open) -> None:
    db, writer = open_pg(), open_pg()
    with db.snapshot() as reader:
        before = reader.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        writer.execute("INSERT INTO events (at, activity, actor) VALUES ('t', 'a', 'x')")
        assert reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] == before == 0
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            reader.execute("DELETE FROM events")
    assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1


def test_the_server_for_the_tests_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXBRIDGE_TEST_POSTGRES_URL", "postgresql://u@127.0.0.1:1/none")
    assert server_url() == "postgresql://u@127.0.0.1:1/none"
    with pytest.raises(RuntimeError, match="PIXBRIDGE_TEST_POSTGRES_URL"), fresh_schema():
        pass
