"""Idempotent writes: partitions replaced exactly, NULLs never erase, failures leave the old rows; the same
behaviour on both backends (the DuckDB file and the lake: a real DuckLake on a real PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from kalshi_assets import settings
from kalshi_assets.warehouse import db, writes


@pytest.fixture(params=["file", "lake"])
def con(request: pytest.FixtureRequest, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    if request.param == "file":
        connection = db.connect(tmp_path / "w.duckdb")
    else:
        connection = db.connect(request.getfixturevalue("lake").target)
        clear(connection)
    yield connection
    connection.close()


def clear(con: duckdb.DuckDBPyConnection) -> None:
    """Empty every table that holds rows (the session's lake is shared by the tests)."""
    for table in db.schema_reference().tables:
        if con.execute(db.compose("SELECT count(*) FROM {table}", table=table)).fetchone()[0]:
            con.execute(db.compose("DELETE FROM {table}", table=table))


def quotes(day: str, n: int = 3, ticker: str = "M1") -> pd.DataFrame:
    ts = pd.date_range(f"{day} 01:00", periods=n, freq="h")
    return pd.DataFrame({
        "market_ticker": ticker, "event_ticker": "E", "ts": ts, "yes_bid": 0.40, "yes_ask": 0.45,
        "last_price": None, "volume": 1.0, "open_interest": 2.0,
    })


def count(con: duckdb.DuckDBPyConnection, sql: str = "SELECT count(*) FROM kalshi_quotes") -> int:
    return con.execute(sql).fetchone()[0]


def test_schema_time_columns_are_timestamps(con: duckdb.DuckDBPyConnection) -> None:
    types = dict(con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'kalshi_quotes'"
    ).fetchall())
    assert types["ts"] == "TIMESTAMP"
    assert types["yes_bid"].startswith("DECIMAL")


def test_replaying_a_partition_replaces_exactly_it(con: duckdb.DuckDBPyConnection) -> None:
    day1, day2 = datetime(2026, 10, 1), datetime(2026, 10, 2)
    writes.replace_window(con, "kalshi_quotes", quotes("2026-10-01"), "ts", day1, day2)
    writes.replace_window(con, "kalshi_quotes", quotes("2026-10-02", 5), "ts", day2, datetime(2026, 10, 3))
    writes.replace_window(con, "kalshi_quotes", quotes("2026-10-01"), "ts", day1, day2)
    assert count(con) == 8
    writes.replace_window(con, "kalshi_quotes", quotes("2026-10-01", 2), "ts", day1, day2)
    assert count(con) == 7  # the day shrank; the other day is untouched


def test_rows_outside_the_window_are_refused(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="outside the partition window"):
        writes.replace_window(con, "kalshi_quotes", quotes("2026-10-02"), "ts", datetime(2026, 10, 1),
                              datetime(2026, 10, 2))
    assert count(con) == 0


def test_a_failed_replacement_keeps_the_previous_rows(con: duckdb.DuckDBPyConnection) -> None:
    day1, day2 = datetime(2026, 10, 1), datetime(2026, 10, 2)
    writes.replace_window(con, "kalshi_quotes", quotes("2026-10-01"), "ts", day1, day2)
    broken = quotes("2026-10-01")
    broken.loc[1, "volume"] = None  # volume is NOT NULL: the insert fails after the delete ran
    with pytest.raises(duckdb.ConstraintException):
        writes.replace_window(con, "kalshi_quotes", broken, "ts", day1, day2)
    assert count(con) == 3


def market_row(**overrides) -> dict:
    row = {"market_ticker": "M1", "event_ticker": "E1", "status": "active", "result": None,
           "expiration_value": None, "floor_strike": 0.3, "ingested_at": datetime(2026, 10, 1)}
    row.update(overrides)
    return row


def test_upsert_never_erases_a_known_value_with_null(con: duckdb.DuckDBPyConnection) -> None:
    writes.upsert(con, "kalshi_markets", pd.DataFrame([market_row(status="finalized", result="yes",
                                                                  expiration_value="0.4")]))
    writes.upsert(con, "kalshi_markets", pd.DataFrame([market_row(status="finalized", floor_strike=None)]))
    status, result, value, floor = con.execute(
        "SELECT status, result, expiration_value, floor_strike FROM kalshi_markets"
    ).fetchone()
    assert (status, result, value, floor) == ("finalized", "yes", "0.4", 0.3)


def test_upsert_updates_values_that_are_given(con: duckdb.DuckDBPyConnection) -> None:
    writes.upsert(con, "kalshi_markets", pd.DataFrame([market_row()]))
    writes.upsert(con, "kalshi_markets", pd.DataFrame([market_row(status="finalized", result="no")]))
    assert con.execute("SELECT status, result FROM kalshi_markets").fetchone() == ("finalized", "no")
    assert count(con, "SELECT count(*) FROM kalshi_markets") == 1


def test_table_columns_names_what_the_catalogue_lists_in_this_database_only(
        con: duckdb.DuckDBPyConnection) -> None:
    reference = db.schema_reference()
    names = [*reference.tables, *reference.views]
    assert len(names) > 30
    for name in names:
        assert db.table_columns(con, name) == [column.name for column in db.columns(con, name)], name
        assert db.table_exists(con, name)
    assert not db.table_exists(con, "no_such_table")
    with pytest.raises(ValueError, match="unknown warehouse table 'no_such_table'"):
        db.table_columns(con, "no_such_table")
    con.execute("CREATE TEMP TABLE kalshi_quotes (shadow INTEGER)")  # the temp schema comes first in lookups
    con.execute("CREATE TEMP TABLE only_in_temp (x INTEGER)")
    try:
        assert db.table_columns(con, "kalshi_quotes") == list(reference.tables["kalshi_quotes"])
        assert not db.table_exists(con, "only_in_temp")
    finally:
        con.execute("DROP TABLE temp.kalshi_quotes")
        con.execute("DROP TABLE temp.only_in_temp")


def test_table_columns_of_a_database_named_with_quotes_and_spaces(tmp_path: Path) -> None:
    for name in ('ware"house', "ware house-1"):
        with db.connection(tmp_path / f"{name}.duckdb") as con:
            assert con.execute("SELECT current_database()").fetchone()[0] == name
            assert db.table_columns(con, "kalshi_quotes") == list(db.schema_reference().tables["kalshi_quotes"])
            assert not db.table_exists(con, "no_such_table")


def test_upsert_refuses_unknown_columns_and_null_keys(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="not in the schema"):
        writes.upsert(con, "kalshi_markets", pd.DataFrame([market_row(bogus=1)]))
    with pytest.raises(ValueError, match="NULL in key"):
        writes.upsert(con, "kalshi_markets", pd.DataFrame([market_row(market_ticker=None)]))


def test_insert_if_absent_never_touches_existing_rows(con: duckdb.DuckDBPyConnection) -> None:
    assert writes.insert_if_absent(con, "kalshi_markets", pd.DataFrame([market_row(status="active")])) == 1
    assert writes.insert_if_absent(con, "kalshi_markets", pd.DataFrame([
        market_row(status="finalized"), market_row(market_ticker="M2")])) == 1
    assert con.execute("SELECT status FROM kalshi_markets WHERE market_ticker = 'M1'").fetchone()[0] == "active"


def test_checks_and_keys_of_schema_sql_hold_on_both_backends(con: duckdb.DuckDBPyConnection) -> None:
    """The lake keeps no PRIMARY KEY or CHECK: writes enforce schema.sql's, alike on both, and write nothing."""
    day1, day2 = datetime(2026, 10, 1), datetime(2026, 10, 2)
    twice = pd.concat([quotes("2026-10-01"), quotes("2026-10-01").iloc[:1]])
    with pytest.raises(ValueError, match=r"kalshi_quotes: 1 incoming rows repeat a key \['market_ticker', 'ts'\]"):
        writes.replace_window(con, "kalshi_quotes", twice, "ts", day1, day2)
    labels = pd.DataFrame({"event_ticker": ["E"], "label_mode": ["final"], "as_of": [day1], "label_known_at": [day1],
                           "source": ["demo"]})
    with pytest.raises(ValueError, match=r"event_labels: 1 incoming rows break CHECK \(\(label_mode IN"):
        writes.replace_all(con, "event_labels", labels)
    with pytest.raises(ValueError, match="break CHECK"):
        writes.upsert(con, "event_labels", labels)
    assert count(con) == 0
    assert count(con, "SELECT count(*) FROM event_labels") == 0


def test_identifiers_are_checked() -> None:
    with pytest.raises(ValueError, match="identifier"):
        db.checked_identifier("kalshi_quotes; DROP TABLE x")


def test_a_reader_waits_then_fails_clearly_while_another_process_writes(tmp_path: Path) -> None:
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "locked.duckdb"
    db.connect(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(path)!r})
            print("locked", flush=True)
            time.sleep(30)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(db.WarehouseBusyError, match="locked by another process"):
            db.connect(path, read_only=True, timeout_s=0.5)
    finally:
        holder.kill()
        holder.wait()
    db.connect(path, read_only=True).close()  # free again once the writer is gone


def test_a_trade_id_stored_outside_the_window_is_refused_and_nothing_is_written(con: duckdb.DuckDBPyConnection) -> None:
    """kalshi_trades' key (trade_id) holds no time: the file keeps it without an index (schema.sql marks it),
    so a write checks the incoming ids against the stored rows outside the window, as the index would."""
    def trades(day: str, ids: list[str]) -> pd.DataFrame:
        return pd.DataFrame({"trade_id": ids, "market_ticker": "M1", "event_ticker": "E1",
                             "ts": pd.Timestamp(day) + pd.Timedelta(hours=1), "yes_price": 0.42, "count": 3.0,
                             "taker_side": "yes"})

    day1, day2, day3 = datetime(2026, 10, 1), datetime(2026, 10, 2), datetime(2026, 10, 3)
    assert not con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'kalshi_trades' "
                           "AND constraint_type = 'PRIMARY KEY'").fetchone()[0]
    writes.replace_window(con, "kalshi_trades", trades("2026-10-01", ["t1", "t2"]), "ts", day1, day2)
    with pytest.raises(ValueError, match=r"kalshi_trades: 1 incoming rows repeat a key \['trade_id'\] of stored rows"):
        writes.replace_window(con, "kalshi_trades", trades("2026-10-02", ["t2", "t3"]), "ts", day2, day3)
    assert count(con, "SELECT count(*) FROM kalshi_trades") == 2
    # Replaying a day replaces its own rows: the same ids inside the emptied window are no clash.
    writes.replace_window(con, "kalshi_trades", trades("2026-10-01", ["t1", "t2"]), "ts", day1, day2)
    assert count(con, "SELECT count(*) FROM kalshi_trades") == 2


def _as_duckdb_shows(limit: str | None) -> str:
    """DuckDB's text for a memory limit (None: its own default)."""
    probe = duckdb.connect()
    try:
        if limit is not None:
            probe.execute(db.compose("SET memory_limit = {limit}", limit=db.sql_literal(limit)))
        return probe.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    finally:
        probe.close()


def test_warehouse_connections_bound_duckdb_memory(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB's default (80% of the machine) let one query take ~1 GiB at demo scale 10 (issue 16)."""
    shown = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert shown == _as_duckdb_shows(settings.DEFAULT_DUCKDB_MEMORY_LIMIT)
    assert shown != _as_duckdb_shows(None)


def test_the_duckdb_memory_limit_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KALSHI_DUCKDB_MEMORY_LIMIT", "300MB")
    with db.connection(tmp_path / "w.duckdb") as writer:
        assert writer.execute("SELECT current_setting('memory_limit')").fetchone()[0] == _as_duckdb_shows("300MB")


@pytest.mark.parametrize("column, unsampled", [
    (["a", None, float("nan"), "b"], True),                                    # text: DuckDB need not sample it
    ([Decimal("0.4100"), None, Decimal("1.5"), Decimal("0.0001")], False),     # not text: sampled and typed
    ([None, None, None, None], False),                                         # all missing: sampled, as before
    ([datetime(2026, 10, 1, 12), None, datetime(2026, 10, 2), datetime(2026, 10, 3)], False),
])
def test_a_registered_frame_reaches_sql_as_duckdb_types_it_by_sampling(column: list, unsampled: bool) -> None:
    frame = pd.DataFrame({"key": ["k1", "k2", "k3", "k4"], "value": pd.Series(column, dtype=object), "n": range(4)})
    sampled = duckdb.connect()
    sampled.register("v", frame)
    expected = sampled.execute("SELECT * FROM v").fetchall(), sampled.execute("DESCRIBE v").fetchall()
    con = duckdb.connect()
    setting = "SELECT current_setting('pandas_analyze_sample')"
    with writes.registered(con, frame) as view:
        got = (con.execute(db.compose("SELECT * FROM {view}", view=view)).fetchall(),
               con.execute(db.compose("DESCRIBE {view}", view=view)).fetchall())
        assert (con.execute(setting).fetchone()[0] == 0) is unsampled
    assert got == expected
    assert con.execute(setting).fetchone()[0] == 1000  # DuckDB's default again after the block


def test_duckdb_samples_again_after_a_block_that_failed() -> None:
    con = duckdb.connect()
    with pytest.raises(RuntimeError, match="inside"), writes.registered(con, pd.DataFrame({"text": ["a", "b"]})):
        raise RuntimeError("inside the block")
    assert con.execute("SELECT current_setting('pandas_analyze_sample')").fetchone()[0] == 1000
