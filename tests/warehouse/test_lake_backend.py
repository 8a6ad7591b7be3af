"""The lake backend with real parts: a DuckLake whose catalog is a real PostgreSQL and whose data is Parquet in
a temp dir, written by real processes through the project's own warehouse code.

- the lake holds schema.sql's tables, columns, views and descriptions (derived, not copied);
- two writers of one table at the same time (the overlap forced): both commit, the loser of the commit race
  re-runs its transaction; no row lost or doubled, also when both write the same window;
- readers (the service, `kalshi-assets events`) never wait for an open write, and read one snapshot;
- secrets: the lake's connection string holds no password (PGPASSFILE does), and nothing prints one.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import psycopg2
import pytest

from kalshi_assets import service
from kalshi_assets.warehouse import db, lake_schema, writes
from tests.servers import LakeDatabase, PostgresServer
from tests.warehouse import lake_writers
from tests.warehouse.test_writes import clear

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
ROWS = 300


@pytest.fixture()
def con(lake: LakeDatabase) -> duckdb.DuckDBPyConnection:
    connection = db.connect(lake.target)
    clear(connection)
    yield connection
    connection.close()


def spawn(lake: LakeDatabase, day: str, writer: str, results, **sync) -> multiprocessing.Process:
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=lake_writers.replace_day, daemon=True,
                              args=(lake.target, lake.env, day, ROWS, writer),
                              kwargs={**sync, "results": results})
    process.start()
    return process


def collect(results, processes: list) -> dict[str, tuple]:
    found = {}
    for _ in processes:
        writer, outcome, rows, conflicts = results.get(timeout=120)
        found[writer] = (outcome, rows, conflicts)
    for process in processes:
        process.join(30)
    return found


def rows_by_day_and_writer(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, float], int]:
    found = con.execute("SELECT CAST(CAST(ts AS DATE) AS VARCHAR), CAST(yes_bid AS DOUBLE), count(*) "
                        "FROM kalshi_quotes GROUP BY ALL").fetchall()
    return {(day, bid): n for day, bid, n in found}


def seed(con: duckdb.DuckDBPyConnection, *days: str) -> None:
    for day in days:
        start = datetime.fromisoformat(day)
        writes.replace_window(con, "kalshi_quotes", lake_writers.quotes(day, ROWS, "w0"), "ts", start,
                              start + pd.Timedelta(days=1))


def test_the_lake_holds_schema_sql_tables_columns_views_and_descriptions(con: duckdb.DuckDBPyConnection) -> None:
    reference = db.schema_reference()
    assert len(reference.tables) > 30 and reference.views and reference.keys and reference.checks
    for table, columns in reference.tables.items():
        assert tuple(db.table_columns(con, table)) == columns, table
    assert lake_schema.is_current(con)
    described = {(t, c.name): c.description for t in reference.tables for c in db.columns(con, t)}
    assert all(described[key] == text for key, text in reference.comments.items())
    # The lake refuses constraints: none was carried over, the derived DDL says NOT NULL for key columns.
    assert con.execute("SELECT count(*) FROM duckdb_constraints() WHERE database_name = 'lake' "
                       "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'CHECK')").fetchone()[0] == 0


def test_two_writers_of_one_table_overlap_both_commit_one_after_a_retry(
        lake: LakeDatabase, con: duckdb.DuckDBPyConnection) -> None:
    """Different days of one table: DuckLake refuses the second commit ("Transaction conflict"), the writer
    re-runs its whole transaction, and both days hold exactly their writer's rows."""
    days = ("2026-06-01", "2026-06-02")
    seed(con, *days)  # the replaces' DELETEs remove rows: that is what makes DuckLake refuse the second commit
    context = multiprocessing.get_context("spawn")
    results, barrier = context.Queue(), context.Barrier(2)
    processes = [spawn(lake, day, f"w{k + 1}", results, barrier=barrier) for k, day in enumerate(days)]
    found = collect(results, processes)
    assert {w: outcome for w, (outcome, _, _) in found.items()} == {"w1": "committed", "w2": "committed"}, found
    assert sorted(conflicts for _, _, conflicts in found.values()) == [0, 1], found  # the overlap happened
    assert rows_by_day_and_writer(con) == {(days[0], 0.1): ROWS, (days[1], 0.2): ROWS}


def test_two_writers_of_one_window_land_once_the_second_waits_for_the_first(
        lake: LakeDatabase, con: duckdb.DuckDBPyConnection) -> None:
    """The same (empty) day: without a lock both inserts would commit and double the rows
    (tests/warehouse/test_lake_groundwork.py shows it); the (table, day) advisory lock queues the second."""
    day = "2026-08-01"
    context = multiprocessing.get_context("spawn")
    results, written, go = context.Queue(), context.Event(), context.Event()
    first = spawn(lake, day, "w1", results, written=written, go=go)
    assert written.wait(120), results.get(timeout=1)
    second = spawn(lake, day, "w2", results)
    with psycopg2.connect(lake.dsn) as watcher, watcher.cursor() as cursor:
        deadline = time.monotonic() + 60
        waiting = 0
        while not waiting and time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            waiting = cursor.fetchone()[0]
            time.sleep(0.1)
    go.set()
    found = collect(results, [first, second])
    assert waiting == 1, "the second writer should have queued on the day's lock"
    assert {w: outcome for w, (outcome, _, _) in found.items()} == {"w1": "committed", "w2": "committed"}
    assert rows_by_day_and_writer(con) == {(day, 0.2): ROWS}  # w2 replaced w1's rows: one writer's, once


def test_readers_do_not_wait_for_an_open_write_and_read_one_snapshot(
        lake: LakeDatabase, con: duckdb.DuckDBPyConnection) -> None:
    writes.upsert(con, "kalshi_events", pd.DataFrame({
        "event_ticker": ["E1"], "series_ticker": ["S1"], "event_type": ["CPI"], "title": ["t"],
        "ingested_at": [datetime(2026, 1, 1)]}))
    seed(con, "2026-09-01")
    context = multiprocessing.get_context("spawn")
    results, written, go = context.Queue(), context.Event(), context.Event()
    writer = spawn(lake, "2026-09-01", "w1", results, written=written, go=go)
    try:
        assert written.wait(120), results.get(timeout=1)
        # The writer's transaction is open (it deleted w0's rows and inserted its own): readers answer at once.
        started = time.monotonic()
        events = service.get_events(warehouse=lake.target)
        status = service.warehouse_status(lake.target)
        cli = subprocess.run([str(BIN / "kalshi-assets"), "events"], capture_output=True, text=True, timeout=60,
                             env={**os.environ, **lake.env, "KALSHI_WAREHOUSE": lake.target})
        waited = time.monotonic() - started
    finally:
        go.set()
    found = collect(results, [writer])
    assert found["w1"][0] == "committed"
    assert [e["event_ticker"] for e in events] == ["E1"]
    assert cli.returncode == 0 and "E1" in cli.stdout, cli.stderr
    quotes_seen = {t["name"]: t["rows"] for t in status["tables"]}["kalshi_quotes"]
    assert quotes_seen == ROWS and status["quotes_to"] is not None  # the last commit's rows, whole
    assert waited < 30, f"readers took {waited:.1f}s"  # three connections (~2 s each on a busy machine)
    assert rows_by_day_and_writer(con) == {("2026-09-01", 0.1): ROWS}


def test_the_lake_connection_string_holds_no_password(postgres_server: PostgresServer, lake: LakeDatabase) -> None:
    with pytest.raises(ValueError, match="no password"):
        db.location(lake.target + " password=" + postgres_server.password)
    with pytest.raises(ValueError, match="KALSHI_LAKE_DATA"):
        db.location(lake.target, environ={})
    where = db.location(lake.target)
    assert postgres_server.password not in repr(where) + str(where)
    with db.connection(lake.target, read_only=True) as reader:
        shown = str(reader.execute("SELECT * FROM duckdb_databases()").fetchall())
    assert postgres_server.password not in shown
