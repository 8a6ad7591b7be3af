"""The ingest assets end to end on the demo exchange: counts, types, idempotent replays, bad payloads."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from kalshi_assets.defs import ingest
from kalshi_assets.defs.resources import MarketDataResource, SettingsResource, WarehouseResource
from kalshi_assets.demo.source import DemoMarketData


def resources(path: Path, market_data: MarketDataResource | None = None) -> dict:
    return {"warehouse": WarehouseResource(path=str(path)), "market_data": market_data or MarketDataResource(),
            "settings": SettingsResource()}


def snapshot(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_ingest_fills_every_table_with_typed_rows(ingested_warehouse: Path) -> None:
    counts = dict(snapshot(ingested_warehouse, """
        SELECT 'series', count(*) FROM kalshi_series UNION ALL SELECT 'events', count(*) FROM kalshi_events
        UNION ALL SELECT 'markets', count(*) FROM kalshi_markets UNION ALL SELECT 'quotes', count(*) FROM kalshi_quotes"""))
    assert counts["series"] == 6 and counts["events"] > 100 and counts["markets"] > 700 and counts["quotes"] > 20000
    types = dict(snapshot(ingested_warehouse, "SELECT column_name, data_type FROM information_schema.columns "
                                              "WHERE table_name IN ('kalshi_quotes', 'kalshi_markets')"))
    assert types["ts"] == "TIMESTAMP" and types["close_time"] == "TIMESTAMP" and types["settlement_ts"] == "TIMESTAMP"
    # Markets belong to events by their exact event_ticker, old FED- tickers included.
    assert snapshot(ingested_warehouse, "SELECT count(*) FROM kalshi_markets m LEFT JOIN kalshi_events e "
                                        "USING (event_ticker) WHERE e.event_ticker IS NULL") == [(0,)]
    assert snapshot(ingested_warehouse, "SELECT series_ticker FROM kalshi_events WHERE event_ticker = 'FED-24DEC'") == [
        ("KXFED",)]


def test_quote_contracts_hold_on_demo_data(ingested_warehouse: Path) -> None:
    from kalshi_assets.warehouse import db
    from kalshi_assets.warehouse import ingest as reads

    with db.connection(ingested_warehouse, read_only=True) as con:
        assert reads.quote_checks(con) == {"price_outside_unit": 0, "bid_above_ask": 0, "after_close": 0,
                                           "unknown_market": 0}
        assert reads.duplicate_keys(con, "kalshi_quotes", ["market_ticker", "ts"]) == 0


def test_rematerializing_a_partition_leaves_the_same_rows(warehouse_copy: Path) -> None:
    query = "SELECT count(*), sum(hash(market_ticker, ts, yes_bid, yes_ask, volume)) FROM kalshi_quotes"
    before = snapshot(warehouse_copy, query)
    day = snapshot(warehouse_copy, "SELECT count(*) FROM kalshi_quotes WHERE ts >= '2026-10-05' AND ts < '2026-10-06'")
    assert day[0][0] > 0
    for _ in range(2):
        result = dg.materialize([ingest.kalshi_quotes, ingest.quotes_are_sound], resources=resources(warehouse_copy),
                                partition_key="2026-10-05")
        assert result.success
        assert all(check.passed for check in result.get_asset_check_evaluations())
    assert snapshot(warehouse_copy, query) == before


class CorruptingMarketData(MarketDataResource):
    """The demo source with one payload broken the way real feeds break."""

    corruption: str = "non_numeric_price"

    def get_source(self):
        return _Corrupting(super().get_source(), self.corruption)


class _Corrupting:
    def __init__(self, inner: DemoMarketData, corruption: str) -> None:
        self.inner, self.corruption = inner, corruption

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def markets(self, event_ticker: str) -> list[dict]:
        markets = [dict(m) for m in self.inner.markets(event_ticker)]
        if event_ticker == "KXCPI-26SEP":
            if self.corruption == "non_numeric_price":
                markets[2]["yes_bid_dollars"] = "N/A"
            elif self.corruption == "missing_field":
                del markets[2]["status"]
            elif self.corruption == "cap_below_floor":
                markets[2].update(strike_type="between", floor_strike=0.5, cap_strike=0.1)
        return markets

    def candlesticks(self, market_tickers, start_ts, end_ts, period_interval=60):
        out = self.inner.candlesticks(market_tickers, start_ts, end_ts, period_interval)
        if self.corruption == "bad_candle":
            ticker = sorted(out)[0]
            if out[ticker]:
                out[ticker][0] = dict(out[ticker][0], volume_fp="many")
        return out


@pytest.mark.parametrize(
    ("corruption", "message"),
    [("non_numeric_price", "yes_bid_dollars"), ("missing_field", "status"), ("cap_below_floor", "below floor_strike")],
)
def test_a_malformed_market_is_rejected_by_name_and_nothing_is_lost(
    warehouse_copy: Path, corruption: str, message: str
) -> None:
    query = "SELECT count(*), sum(hash(market_ticker, status, yes_bid, result)) FROM kalshi_markets"
    before = snapshot(warehouse_copy, query)
    result = dg.materialize([ingest.kalshi_markets], raise_on_error=False,
                            resources=resources(warehouse_copy, CorruptingMarketData(corruption=corruption)))
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    text = failure.cause.message if failure.cause else failure.message
    assert "KXCPI-26SEP-T" in text and message in text
    assert snapshot(warehouse_copy, query) == before


def test_a_malformed_candle_fails_the_partition_and_keeps_its_rows(warehouse_copy: Path) -> None:
    query = "SELECT count(*), sum(hash(market_ticker, ts, yes_bid)) FROM kalshi_quotes"
    before = snapshot(warehouse_copy, query)
    result = dg.materialize([ingest.kalshi_quotes], partition_key="2026-10-05", raise_on_error=False,
                            resources=resources(warehouse_copy, CorruptingMarketData(corruption="bad_candle")))
    assert not result.success
    assert snapshot(warehouse_copy, query) == before


def test_materialization_reports_rows_schema_and_preview(warehouse_copy: Path) -> None:
    result = dg.materialize([ingest.kalshi_series], resources=resources(warehouse_copy))
    metadata = result.asset_materializations_for_node("kalshi_series")[0].metadata
    assert metadata["dagster/row_count"].value == 6
    assert {c.name for c in metadata["dagster/column_schema"].schema.columns} >= {"series_ticker", "event_type"}
    assert "KXCPI" in metadata["preview"].value


def test_each_daily_partition_reports_its_own_rows(ingested_warehouse: Path, tmp_path: Path) -> None:
    """A range run gives every partition's materialization that day's row count (not the table's)."""
    import shutil

    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(ingested_warehouse, path)
    defs = dg.Definitions(
        assets=[ingest.kalshi_quotes],
        resources={"warehouse": WarehouseResource(path=str(path)), "market_data": MarketDataResource()},
        jobs=[dg.define_asset_job("quotes", selection=[ingest.kalshi_quotes])],
        executor=dg.in_process_executor,
    )
    result = defs.resolve_job_def("quotes").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        tags={ASSET_PARTITION_RANGE_START_TAG: "2026-10-01", ASSET_PARTITION_RANGE_END_TAG: "2026-10-03"},
    )
    by_day = {e.materialization.partition: e.materialization.metadata
              for e in result.get_asset_materialization_events()}
    with duckdb.connect(str(path), read_only=True) as con:
        expected = dict(con.execute("SELECT strftime(ts, '%Y-%m-%d'), count(*) FROM kalshi_quotes "
                                    "WHERE ts >= '2026-10-01' AND ts < '2026-10-04' GROUP BY 1").fetchall())
        total = con.execute("SELECT count(*) FROM kalshi_quotes").fetchone()[0]
    assert sorted(by_day) == ["2026-10-01", "2026-10-02", "2026-10-03"]
    assert {day: m["dagster/row_count"].value for day, m in by_day.items()} == expected
    assert all(m["table_rows"].value == total for m in by_day.values()) and total > max(expected.values())
    columns = by_day["2026-10-01"]["dagster/column_schema"].schema.columns
    assert [c.name for c in columns][:3] == ["market_ticker", "event_ticker", "ts"]
    assert all(c.description for c in columns)  # schema.sql's COMMENT ON COLUMN, through the catalogue
