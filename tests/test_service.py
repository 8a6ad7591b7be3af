"""The read service: records out, hostile input in (nothing leaks, nothing breaks), read-only and closed."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from kalshi_assets import service
from kalshi_assets.warehouse import db
from tests import service_warehouse as sw

HOSTILE = [
    "x' OR '1'='1",
    "'; DROP TABLE kalshi_events; --",
    "KXCPI-26SEP' UNION SELECT * FROM kalshi_markets --",
    "KXCPI%",
    "KXCPI",  # a prefix: events are tied by exact ticker, never by prefix
    "kxcpi-26sep\x00🙂' OR ''='",  # case matters; NUL and non-ASCII are just characters
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built once: every test here only reads it (a read-only connection cannot change it), and the
    # hostile-input tests compare its row counts before and after.
    return sw.build(tmp_path_factory.mktemp("service") / "service.duckdb")


# --- records --------------------------------------------------------------------------------------


def test_events_are_records_newest_first_and_filter_by_type(warehouse: Path) -> None:
    events = service.get_events(warehouse=warehouse)
    assert [e["event_ticker"] for e in events] == [sw.FED, sw.CPI]
    assert isinstance(events[0], dict) and isinstance(events[0]["release_time"], datetime)
    assert events[1]["n_markets"] == 3
    assert [e["event_ticker"] for e in service.get_events("CPI", warehouse=warehouse)] == [sw.CPI]
    assert len(service.get_events(limit=1, warehouse=warehouse)) == 1
    assert service.get_events("GDP", warehouse=warehouse) == []


def test_markets_of_one_event_by_strike(warehouse: Path) -> None:
    markets = service.get_markets(sw.CPI, warehouse=warehouse)
    assert [m["floor_strike"] for m in markets] == [0.2, 0.3, 0.4]
    assert {m["event_ticker"] for m in markets} == {sw.CPI}
    assert service.get_markets(sw.FED, warehouse=warehouse) == []


def test_distributions_in_a_half_open_window(warehouse: Path) -> None:
    everything = service.get_distributions(sw.CPI, warehouse=warehouse)
    assert [d["snapshot_ts"].day for d in everything] == [1, 2, 3]
    window = service.get_distributions(sw.CPI, start="2026-10-02", end=date(2026, 10, 3), warehouse=warehouse)
    assert [d["snapshot_ts"].day for d in window] == [2]  # end is exclusive
    # An aware time is converted to UTC: 14:00+02:00 is 12:00 UTC, the day-2 snapshot included.
    aware = datetime(2026, 10, 2, 14, tzinfo=timezone(timedelta(hours=2)))
    assert [d["snapshot_ts"].day for d in service.get_distributions(sw.CPI, start=aware, warehouse=warehouse)] == [2, 3]
    assert [d["snapshot_ts"].day for d in service.get_distributions(sw.CPI, end="2026-10-02T12:00Z", warehouse=warehouse)] == [1]


def test_outcomes_by_mode(warehouse: Path) -> None:
    first = service.get_outcomes(sw.CPI, warehouse=warehouse)
    assert [r["value"] for r in first] == [0.35]
    assert [r["value"] for r in service.get_outcomes(sw.CPI, mode="latest", warehouse=warehouse)] == [0.4]
    revisions = service.get_outcomes(sw.CPI, mode="revisions", warehouse=warehouse)
    assert [(r["vintage"], r["value"]) for r in revisions] == [(1, 0.35), (2, 0.4)]
    assert service.get_outcomes(sw.FED, mode="latest", warehouse=warehouse) == []


def test_promotions_newest_first(warehouse: Path) -> None:
    assert [p["candidate"] for p in service.get_promotions(warehouse=warehouse)] == ["edge>=0.10", "edge>=0.05"]
    assert len(service.get_promotions(limit=1, warehouse=warehouse)) == 1


def test_default_warehouse_comes_from_the_environment(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KALSHI_WAREHOUSE", str(warehouse))
    assert [e["event_ticker"] for e in service.get_events()] == [sw.FED, sw.CPI]


# --- hostile input ----------------------------------------------------------------------------------


def test_the_classic_injection_returns_no_rows_and_raises_nothing(warehouse: Path) -> None:
    assert service.get_distributions("x' OR '1'='1", warehouse=warehouse) == []


@pytest.mark.parametrize("text", HOSTILE)
def test_every_read_treats_hostile_text_as_a_value(warehouse: Path, text: str) -> None:
    before = sw.row_counts(warehouse)
    assert service.get_events(event_type=text, warehouse=warehouse) == []
    assert service.get_markets(text, warehouse=warehouse) == []
    assert service.get_distributions(text, warehouse=warehouse) == []
    assert service.get_distributions(text, start="2026-10-01", end="2026-10-05", warehouse=warehouse) == []
    for mode in service.OUTCOME_MODES:
        assert service.get_outcomes(text, mode=mode, warehouse=warehouse) == []
    assert sw.row_counts(warehouse) == before  # nothing dropped, nothing written


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda w: service.get_outcomes(sw.CPI, mode="latest' OR '1'='1", warehouse=w), "mode must be one of"),
        (lambda w: service.get_outcomes(sw.CPI, mode="first_print; DROP TABLE outcomes_first_print", warehouse=w),
         "mode must be one of"),
        (lambda w: service.get_distributions(sw.CPI, start="2026-10-01' OR '1'='1", warehouse=w), "ISO 8601"),
        (lambda w: service.get_distributions(sw.CPI, end="yesterday; --", warehouse=w), "ISO 8601"),
        (lambda w: service.get_distributions(sw.CPI, start="2026-10-05", end="2026-10-01", warehouse=w),
         "before start"),
        (lambda w: service.get_distributions(sw.CPI, start=12345, warehouse=w), "date, a datetime"),
        (lambda w: service.get_events(limit="10; DROP TABLE kalshi_events", warehouse=w), "limit must be an integer"),
        (lambda w: service.get_events(limit=True, warehouse=w), "limit must be an integer"),
        (lambda w: service.get_events(limit=0, warehouse=w), "between 1 and"),
        (lambda w: service.get_events(limit=-1, warehouse=w), "between 1 and"),
        (lambda w: service.get_events(limit=10**9, warehouse=w), "between 1 and"),
        (lambda w: service.get_promotions(limit="1 OR 1=1", warehouse=w), "limit must be an integer"),
        (lambda w: service.get_markets(None, warehouse=w), "event_ticker must be a non-empty string"),
        (lambda w: service.get_markets(["KXCPI-26SEP"], warehouse=w), "event_ticker must be a non-empty string"),
        (lambda w: service.get_distributions("", warehouse=w), "event_ticker must be a non-empty string"),
        (lambda w: service.get_outcomes("x" * 10_000, warehouse=w), "longer than"),
        (lambda w: service.get_events(event_type=7, warehouse=w), "event_type must be a non-empty string"),
    ],
)
def test_arguments_of_the_wrong_kind_raise_a_clear_value_error(
    warehouse: Path, call, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the warehouse was opened for a bad argument")

    monkeypatch.setattr(db, "connect", refuse)  # arguments are checked before anything is opened
    with pytest.raises(ValueError, match=message):
        call(warehouse)


# --- connections ----------------------------------------------------------------------------------------


def test_every_read_is_read_only_and_closes_its_connection(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[tuple[bool, duckdb.DuckDBPyConnection]] = []
    real_connect = db.connect

    def spy(path, read_only=False, **kwargs):
        con = real_connect(path, read_only=read_only, **kwargs)
        opened.append((read_only, con))
        return con

    monkeypatch.setattr(db, "connect", spy)
    reads = [
        lambda: service.get_events(warehouse=warehouse),
        lambda: service.get_markets(sw.CPI, warehouse=warehouse),
        lambda: service.get_distributions(sw.CPI, warehouse=warehouse),
        lambda: service.get_outcomes(sw.CPI, mode="revisions", warehouse=warehouse),
        lambda: service.get_promotions(warehouse=warehouse),
        lambda: service.warehouse_status(warehouse),
    ]
    for read in reads:
        read()
    assert len(opened) == len(reads)
    assert all(read_only for read_only, _ in opened)
    for _, con in opened:
        with pytest.raises(duckdb.ConnectionException):
            con.execute("SELECT 1")  # closed
    # Nothing holds the file: a writer can open it in this very process.
    writer = duckdb.connect(str(warehouse))
    writer.close()


def test_a_failing_read_closes_its_connection_too(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kalshi_assets.warehouse import service as sql

    def broken(con, *args):
        raise RuntimeError("boom")

    monkeypatch.setattr(sql, "markets", broken)
    with pytest.raises(RuntimeError):
        service.get_markets(sw.CPI, warehouse=warehouse)
    duckdb.connect(str(warehouse)).close()


def test_tables_a_stage_has_not_created_read_as_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "partial.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE kalshi_events (event_ticker VARCHAR, series_ticker VARCHAR, event_type VARCHAR, "
                "title VARCHAR, sub_title VARCHAR, mutually_exclusive BOOLEAN, strike_date TIMESTAMP)")
    con.execute("INSERT INTO kalshi_events VALUES ('E1', 'S', 'CPI', 't', NULL, false, NULL)")
    con.close()
    assert [e["event_ticker"] for e in service.get_events(warehouse=path)] == ["E1"]
    assert service.get_markets("E1", warehouse=path) == []
    assert service.get_distributions("E1", start="2026-01-01", warehouse=path) == []
    for mode in service.OUTCOME_MODES:
        assert service.get_outcomes("E1", mode=mode, warehouse=path) == []
    assert service.get_promotions(warehouse=path) == []


def test_a_missing_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="materialize the pipeline first"):
        service.get_events(warehouse=tmp_path / "none.duckdb")
    assert not (tmp_path / "none.duckdb").exists()  # a reader never creates the file


def test_nan_reads_as_none(tmp_path: Path) -> None:
    path = sw.build(tmp_path / "nan.duckdb")
    con = db.connect(path)
    con.execute("UPDATE distribution_snapshots SET mean = 'nan'::DOUBLE WHERE event_ticker = ?", [sw.CPI])
    con.close()
    assert {d["mean"] for d in service.get_distributions(sw.CPI, warehouse=path)} == {None}


# The SQL itself: tests/warehouse/test_sql_safety.py reads every module of the warehouse.

