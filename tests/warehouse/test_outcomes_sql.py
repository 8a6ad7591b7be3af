"""Outcome tables: insert-if-absent first prints, NULL-safe upserts, append-only revisions, latest view; the
same behaviour on both backends (the DuckDB file and the lake: a real DuckLake on a real PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd
import pytest

from kalshi_assets.warehouse import db, writes
from kalshi_assets.warehouse.outcomes import (
    append_revisions,
    first_print_fingerprint,
    first_print_rows_altered,
    insert_first_prints,
    read_conflicts,
    read_first_prints,
    read_implied_snapshots,
    read_latest,
    read_reports,
    read_revisions,
    replace_event_labels,
    revision_fingerprint,
    revision_rows_altered,
    upsert_first_print_reports,
)
from tests.warehouse.test_writes import clear

T0 = datetime(2026, 9, 11, 12, 30)
RUN1, RUN2 = datetime(2026, 11, 1, 1, 0), datetime(2026, 11, 2, 1, 0)


@pytest.fixture(params=["file", "lake"])
def con(request: pytest.FixtureRequest, tmp_path) -> duckdb.DuckDBPyConnection:
    if request.param == "file":
        connection = db.connect(tmp_path / "warehouse.duckdb")
    else:
        connection = db.connect(request.getfixturevalue("lake").target)
        clear(connection)
    yield connection
    connection.close()


def first_print_rows(value: float = 0.3, source: str = "demo") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_ticker": ["KXCPI-26AUG"],
            "series_ticker": ["KXCPI"],
            "reference_period": [date(2026, 8, 1)],
            "value": [value],
            "release_time": [T0],
            "source": [source],
        }
    )


def revision_rows(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["event_ticker", "vintage_time", "source", "vintage", "value"])
    frame["series_ticker"] = "KXGDP"
    frame["reference_period"] = date(2026, 4, 1)
    return frame


def test_first_print_is_inserted_once_and_never_changed(con) -> None:
    assert insert_first_prints(con, first_print_rows(0.3), RUN1) == 1
    before = read_first_prints(con)
    fingerprint = first_print_fingerprint(con)
    # A later source with another value, and a replay: nothing is inserted, nothing changes.
    assert insert_first_prints(con, first_print_rows(0.4, "kalshi"), RUN2) == 0
    assert insert_first_prints(con, first_print_rows(0.3), RUN2) == 0
    pd.testing.assert_frame_equal(read_first_prints(con), before)
    assert first_print_fingerprint(con) == fingerprint and fingerprint[0] == 1
    assert first_print_rows_altered(con).empty


def test_incoming_null_never_erases_a_first_print(con) -> None:
    insert_first_prints(con, first_print_rows(0.3), RUN1)
    before = read_first_prints(con)
    with pytest.raises(ValueError, match="NULL in required columns"):
        insert_first_prints(con, first_print_rows(float("nan")), RUN2)
    with_null_series = first_print_rows(0.3).assign(series_ticker=None)
    assert insert_first_prints(con, with_null_series, RUN2) == 0
    pd.testing.assert_frame_equal(read_first_prints(con), before)


def test_first_in_frame_wins_within_one_insert(con) -> None:
    frame = pd.concat([first_print_rows(0.3, "demo"), first_print_rows(0.5, "kalshi")], ignore_index=True)
    assert insert_first_prints(con, frame, RUN1) == 1
    assert read_first_prints(con)[["value", "source"]].values.tolist() == [[0.3, "demo"]]


def test_an_update_behind_our_back_is_detected(con) -> None:
    insert_first_prints(con, first_print_rows(0.3), RUN1)
    fingerprint = first_print_fingerprint(con, RUN1)
    con.execute("UPDATE outcomes_first_print SET value = 0.4 WHERE event_ticker = ?", ["KXCPI-26AUG"])
    assert first_print_rows_altered(con)["event_ticker"].tolist() == ["KXCPI-26AUG"]
    assert first_print_fingerprint(con, RUN1) != fingerprint
    assert first_print_fingerprint(con, datetime(2026, 1, 1))[0] == 0  # rows recorded by then: none


def test_reports_upsert_names_columns_and_keeps_known_values(con) -> None:
    report = pd.DataFrame(
        {
            "event_ticker": ["E"],
            "source": ["kalshi"],
            "value": [0.3],
            "release_time": [T0],
            "settlement_ts": [datetime(2026, 9, 11, 14, 30)],
        }
    )
    upsert_first_print_reports(con, report, RUN1)
    blank = report.assign(value=None, release_time=None, settlement_ts=None)
    upsert_first_print_reports(con, blank, RUN2)
    stored = read_reports(con).iloc[0]
    assert stored["value"] == 0.3 and stored["release_time"] == T0
    assert stored["settlement_ts"] == datetime(2026, 9, 11, 14, 30)
    assert (stored["first_seen_at"], stored["last_seen_at"]) == (RUN1, RUN2)
    # A known value is replaced by a newer known value (a source may amend its own report).
    upsert_first_print_reports(con, report.assign(value=0.4), RUN2)
    assert read_reports(con)["value"].tolist() == [0.4]


def test_disagreeing_reports_show_as_conflicts(con) -> None:
    insert_first_prints(con, first_print_rows(0.3), RUN1)
    reports = pd.DataFrame(
        {
            "event_ticker": ["KXCPI-26AUG", "KXCPI-26AUG"],
            "source": ["demo", "kalshi"],
            "value": [0.3, 0.4],
            "release_time": [T0, T0],
            "settlement_ts": [None, None],
        }
    )
    upsert_first_print_reports(con, reports, RUN1)
    conflicts = read_conflicts(con)
    assert conflicts[["source", "reported_value", "stored_value"]].values.tolist() == [["kalshi", 0.4, 0.3]]
    assert read_first_prints(con)["value"].tolist() == [0.3]


def test_revisions_append_once_and_latest_moves(con) -> None:
    t1, t2, t3 = datetime(2026, 7, 30, 12, 30), datetime(2026, 8, 29, 12, 30), datetime(2026, 9, 28, 12, 30)
    first = revision_rows([("KXGDP-26Q2", t1, "demo", 1, 2.0), ("KXGDP-26Q2", t2, "demo", 2, 2.3)])
    assert append_revisions(con, first, RUN1) == 2
    assert append_revisions(con, first, RUN2) == 0  # replay
    assert len(read_revisions(con)) == 2
    assert read_latest(con)[["value", "vintage"]].values.tolist() == [[2.3, 2]]
    third = revision_rows([("KXGDP-26Q2", t3, "demo", 3, 2.1)])
    assert append_revisions(con, pd.concat([first, third]), RUN2) == 1
    assert read_latest(con)[["value", "vintage"]].values.tolist() == [[2.1, 3]]
    # The stored rows of earlier runs are untouched (recorded_at of the first run stays).
    assert read_revisions(con)["recorded_at"].tolist() == [RUN1, RUN1, RUN2]


def test_revisions_are_sealed_at_insert_and_an_update_is_detected(con) -> None:
    t1, t2, t3 = datetime(2026, 7, 30, 12, 30), datetime(2026, 8, 29, 12, 30), datetime(2026, 9, 28, 12, 30)
    append_revisions(con, revision_rows([("KXGDP-26Q2", t1, "demo", 1, 2.0), ("KXGDP-26Q2", t2, "demo", 2, 2.3)]), RUN1)
    assert con.execute("SELECT count(*) FROM outcomes_revisions WHERE row_hash IS NULL").fetchone()[0] == 0
    assert revision_rows_altered(con).empty
    sealed = revision_fingerprint(con, RUN1)
    append_revisions(con, revision_rows([("KXGDP-26Q2", t3, "demo", 3, 2.1)]), RUN2)
    assert revision_fingerprint(con, RUN1) == sealed  # a later vintage leaves the earlier ones' fingerprint
    con.execute("UPDATE outcomes_revisions SET value = 2.4 WHERE vintage = 2")
    assert revision_rows_altered(con)[["vintage", "value"]].values.tolist() == [[2, 2.4]]
    assert revision_fingerprint(con, RUN1) != sealed
    con.execute("DELETE FROM outcomes_revisions WHERE vintage = 1")
    assert revision_fingerprint(con, RUN1)[0] == 1  # a vanished vintage changes the count


def test_a_warehouse_from_before_sealing_gets_its_revisions_sealed(tmp_path) -> None:
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as old:
        old.execute("CREATE TABLE outcomes_revisions (event_ticker VARCHAR NOT NULL, vintage_time TIMESTAMP NOT NULL, "
                    "source VARCHAR NOT NULL, series_ticker VARCHAR, reference_period DATE, vintage INTEGER NOT NULL, "
                    "value DOUBLE NOT NULL, recorded_at TIMESTAMP NOT NULL, PRIMARY KEY (event_ticker, vintage_time, source))")
        old.execute("INSERT INTO outcomes_revisions VALUES ('E', TIMESTAMP '2026-07-30 12:30', 'demo', 'S', NULL, 1, 2.0, "
                    "TIMESTAMP '2026-11-01 01:00')")
    upgraded = db.connect(path)
    try:
        assert upgraded.execute("SELECT count(*) FROM outcomes_revisions WHERE row_hash IS NULL").fetchone()[0] == 0
        assert revision_rows_altered(upgraded).empty
    finally:
        upgraded.close()


def test_latest_orders_vintage_numbers_as_numbers(con) -> None:
    same_time = datetime(2026, 9, 1, 12, 30)
    rows = revision_rows([("E", same_time, "a", 10, 10.0), ("E", same_time, "b", 9, 9.0)])
    append_revisions(con, rows, RUN1)
    assert read_latest(con)["vintage"].tolist() == [10]
    assert read_revisions(con)["vintage"].tolist() == [9, 10]


def test_revision_with_null_value_is_refused_whole(con) -> None:
    rows = revision_rows([("E", T0, "demo", 1, 1.0), ("F", T0, "demo", 1, None)])
    with pytest.raises(ValueError, match="NULL"):
        append_revisions(con, rows, RUN1)
    assert read_revisions(con).empty  # nothing half-written


def test_null_never_erases_a_known_market_field(con) -> None:
    """kalshi_markets through the warehouse's column-named upsert: settlement fields survive NULLs."""
    market = pd.DataFrame(
        {
            "market_ticker": ["KXCPI-26AUG-T0.2"],
            "event_ticker": ["KXCPI-26AUG"],
            "status": ["finalized"],
            "result": ["yes"],
            "expiration_value": ["0.3"],
            "expiration_value_num": [0.3],
            "settlement_ts": [datetime(2026, 9, 11, 14, 30)],
            "ingested_at": [RUN1],
        }
    )
    writes.upsert(con, "kalshi_markets", market)
    later = market.assign(
        result=None,
        expiration_value=None,
        expiration_value_num=None,
        settlement_ts=None,
        status="settled",
        ingested_at=RUN2,
    )
    writes.upsert(con, "kalshi_markets", later)
    row = con.execute(
        "SELECT status, result, expiration_value, expiration_value_num, settlement_ts, ingested_at "
        "FROM kalshi_markets"
    ).fetchall()
    assert row == [("settled", "yes", "0.3", 0.3, datetime(2026, 9, 11, 14, 30), RUN2)]


def test_implied_snapshots_from_the_distributions_table(con) -> None:
    assert read_implied_snapshots(con).empty  # the schema's table, still empty
    con.execute("DROP TABLE distribution_snapshots")
    assert read_implied_snapshots(con).empty  # no table at all: no distributions, no error
    # The columns it needs (and its `status`), in a table of that name.
    con.execute(
        "CREATE TABLE distribution_snapshots (event_ticker VARCHAR, snapshot_ts TIMESTAMP, status VARCHAR, "
        "mean DOUBLE, std DOUBLE)"
    )
    con.execute(
        "INSERT INTO distribution_snapshots VALUES (?, ?, 'ok', 0.25, 0.05), (?, ?, 'empty_ladder', NULL, NULL)",
        ["E", T0, "E", T0],
    )
    assert read_implied_snapshots(con)[["implied_mean", "implied_sd"]].values.tolist() == [[0.25, 0.05]]
    # The session's lake is shared: put schema.sql's table back (connecting brings a lake up to the schema).
    con.execute("DROP TABLE distribution_snapshots")
    where = db.lake_location(con)
    if where is not None:
        db.connect(where).close()


def test_labels_are_replaced_whole_and_checked(con) -> None:
    labels = pd.DataFrame(
        {
            "event_ticker": ["E", "E"],
            "label_mode": ["first_print", "latest"],
            "as_of": [RUN1, RUN1],
            "realized_value": [1.0, 1.2],
            "label_known_at": [T0, T0],
            "source": ["demo", "demo"],
            "vintage": [1, 2],
        }
    )
    assert replace_event_labels(con, labels) == 2
    assert replace_event_labels(con, labels.iloc[:1]) == 1
    assert con.execute("SELECT count(*) FROM event_labels").fetchone()[0] == 1
    with pytest.raises(ValueError, match=r"event_labels: 1 incoming rows break CHECK \(\(label_mode IN"):
        replace_event_labels(con, labels.assign(label_mode=["first_print", "final"]))
    assert (
        con.execute("SELECT count(*) FROM event_labels").fetchone()[0] == 1
    )  # the failed write left no trace
