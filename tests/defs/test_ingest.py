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


SHIFTED, SHIFTED_TS = "KXCPI-26SEP-T0.2", 1790553600  # 2026-09-28 00:00 UTC


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

    def _corrupt_markets(self, event_ticker: str) -> list[dict]:
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
        if self.corruption == "no_candles":
            return {ticker: [] for ticker in out}
        if self.corruption == "shifted_candle" and SHIFTED in out:
            # The 2026-09-28 00:00 candle comes back stamped two days later, outside the asked window.
            out[SHIFTED] = [dict(c, end_period_ts=c["end_period_ts"] + 2 * 86400)
                            if c["end_period_ts"] == SHIFTED_TS else c for c in out[SHIFTED]]
        return out

    def markets(self, event_ticker: str) -> list[dict]:
        if self.corruption == "no_markets" and event_ticker == "KXCPI-26SEP":
            return []
        return self._corrupt_markets(event_ticker)


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

    from tests.partition_range import partition_range_tags

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
        tags=partition_range_tags("2026-10-01", "2026-10-03"),
    )
    by_day = {e.materialization.partition: e.materialization.metadata
              for e in result.get_asset_materialization_events()}
    with duckdb.connect(str(path), read_only=True) as con:
        expected = dict(con.execute("SELECT strftime(ts, '%Y-%m-%d'), count(*) FROM kalshi_quotes "
                                    "WHERE ts >= '2026-10-01' AND ts < '2026-10-04' GROUP BY 1").fetchall())
        total = con.execute("SELECT count(*) FROM kalshi_quotes").fetchone()[0]
    assert sorted(by_day) == ["2026-10-01", "2026-10-02", "2026-10-03"]
    assert {day: m["dagster/row_count"].value for day, m in by_day.items()} == expected
    assert total > max(expected.values())
    assert by_day["2026-10-03"]["table_rows"].value == total
    columns = by_day["2026-10-03"]["dagster/column_schema"].schema.columns
    assert [c.name for c in columns][:3] == ["market_ticker", "event_ticker", "ts"]
    assert all(c.description for c in columns)  # schema.sql's COMMENT ON COLUMN, through the catalogue
    # What describes the whole table rides on the run's newest partition only, not on every day's event.
    assert set(by_day["2026-10-01"]) == set(by_day["2026-10-02"]) == {"dagster/row_count"}


def test_a_candle_outside_the_window_fails_naming_it_and_deletes_nothing(warehouse_copy: Path) -> None:
    """issue 14: a candle stamped outside the requested window used to be dropped before the partition
    replace, which then deleted the stored quote; now the run fails naming the market and the time."""
    row = "SELECT * FROM kalshi_quotes WHERE market_ticker = 'KXCPI-26SEP-T0.2' AND ts = '2026-09-28 00:00:00'"
    query = "SELECT count(*), sum(hash(market_ticker, ts, yes_bid, yes_ask, volume)) FROM kalshi_quotes"
    before, stored = snapshot(warehouse_copy, query), snapshot(warehouse_copy, row)
    assert len(stored) == 1
    result = dg.materialize([ingest.kalshi_quotes], partition_key="2026-09-28", raise_on_error=False,
                            resources=resources(warehouse_copy, CorruptingMarketData(corruption="shifted_candle")))
    assert not result.success
    text = _failure_text(result)
    assert "KXCPI-26SEP-T0.2" in text and "2026-09-30 00:00:00" in text and "outside the requested window" in text
    assert snapshot(warehouse_copy, row) == stored and snapshot(warehouse_copy, query) == before


def _failure_text(result: dg.ExecuteInProcessResult) -> str:
    failure = result.get_step_failure_events()[0].step_failure_data.error
    return failure.cause.message if failure.cause else failure.message


@pytest.mark.parametrize("asset", [ingest.kalshi_quotes, ingest.kalshi_trades], ids=["quotes", "trades"])
def test_a_partitioned_ingest_over_empty_upstream_tables_fails(tmp_path: Path, asset) -> None:
    """issue 14: after a failed upstream run, a partition ingest over an empty kalshi_markets exited 0 with
    "0 quotes" and a passing check; now it fails saying what to materialize first, and writes nothing."""
    result = dg.materialize([asset], partition_key="2026-10-05", raise_on_error=False,
                            resources=resources(tmp_path / "empty.duckdb"))
    assert not result.success
    assert "kalshi_markets is empty" in _failure_text(result) and "kalshi_series" in _failure_text(result)
    assert not result.asset_materializations_for_node(asset.op.name)


def _check(check, path: Path, **extra) -> dg.AssetCheckResult:
    """A check run on its own (whole-table scope), with the resources it asks for."""
    available = {"warehouse": WarehouseResource(path=str(path)), "market_data": MarketDataResource()}
    wanted = {key: available[key] for key in check.required_resource_keys if key in available}
    return check(dg.build_asset_check_context(), **wanted, **extra)


@pytest.mark.parametrize(("check", "table"), [(ingest.quotes_are_sound, "kalshi_quotes"),
                                              (ingest.trades_are_sound, "kalshi_trades"),
                                              (ingest.markets_keys_and_events, "kalshi_markets")],
                         ids=["quotes", "trades", "markets"])
def test_a_check_counting_zero_rows_where_rows_are_expected_fails(warehouse_copy: Path, check, table: str) -> None:
    """issue 14: the quotes check passed over zero rows. Quotes are expected where markets were open, trades
    where the quotes say contracts traded, markets always."""
    with duckdb.connect(str(warehouse_copy)) as con:
        con.execute(f"DELETE FROM {table}")
    evaluation = _check(check, warehouse_copy)
    assert evaluation.passed is False and evaluation.metadata["rows"].value == 0


def test_zero_rows_where_none_are_expected_pass(tmp_path: Path) -> None:
    """A day on which no market of the tracked series was open (GDP between two releases' listings): markets
    are listed, but none traded that day, so no quotes are expected; and no quoted volume, so no trades."""
    path = tmp_path / "w.duckdb"
    gdp_only = MarketDataResource(series=["KXGDP"])
    assert dg.materialize([ingest.kalshi_series, ingest.kalshi_events, ingest.kalshi_markets],
                          resources=resources(path, gdp_only)).success
    result = dg.materialize([ingest.kalshi_quotes, ingest.kalshi_trades, ingest.quotes_are_sound,
                             ingest.trades_are_sound], partition_key="2024-10-26", resources=resources(path, gdp_only))
    assert result.success
    assert {e.check_name: (e.passed, e.metadata["rows"].value, e.metadata["scope"].value)
            for e in result.get_asset_check_evaluations()} == {
        "quotes_are_sound": (True, 0, "2024-10-26..2024-10-27"), "trades_are_sound": (True, 0, "2024-10-26..2024-10-27")}


def test_an_empty_answer_for_open_markets_fails_and_keeps_the_stored_quotes(warehouse_copy: Path) -> None:
    query = "SELECT count(*), sum(hash(market_ticker, ts, yes_bid, yes_ask, volume)) FROM kalshi_quotes"
    before = snapshot(warehouse_copy, query)
    result = dg.materialize([ingest.kalshi_quotes], partition_key="2026-10-05", raise_on_error=False,
                            resources=resources(warehouse_copy, CorruptingMarketData(corruption="no_candles")))
    assert not result.success
    assert "returned nothing for the" in _failure_text(result) and "stored rows of these days are kept" in _failure_text(
        result)
    assert snapshot(warehouse_copy, query) == before


def test_the_checks_pass_on_sound_tables(warehouse_copy: Path) -> None:
    for check in (ingest.quotes_are_sound, ingest.trades_are_sound, ingest.markets_keys_and_events,
                  ingest.every_event_has_markets):
        assert _check(check, warehouse_copy).passed, check.name


def test_an_event_without_markets_in_either_tier_is_named_and_warned(warehouse_copy: Path) -> None:
    with duckdb.connect(str(warehouse_copy)) as con:
        con.execute("DELETE FROM kalshi_markets WHERE event_ticker = 'KXCPI-26SEP'")
    result = dg.materialize([ingest.kalshi_markets, ingest.every_event_has_markets],
                            resources=resources(warehouse_copy, CorruptingMarketData(corruption="no_markets")))
    metadata = result.asset_materializations_for_node("kalshi_markets")[0].metadata
    assert metadata["events_without_markets"].value == 1
    assert "KXCPI-26SEP" in metadata["events_without_markets_list"].value
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed is False and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "KXCPI-26SEP" in evaluation.metadata["events"].value


def test_trades_are_keyed_by_id_inside_their_markets_and_replay_to_the_same_rows(warehouse_copy: Path) -> None:
    query = "SELECT count(*), sum(hash(trade_id, market_ticker, ts, yes_price, count, taker_side)) FROM kalshi_trades"
    before = snapshot(warehouse_copy, query)
    assert before[0][0] > 1000
    assert snapshot(warehouse_copy, "SELECT count(*) - count(DISTINCT trade_id) FROM kalshi_trades") == [(0,)]
    for _ in range(2):
        result = dg.materialize([ingest.kalshi_trades, ingest.trades_are_sound], partition_key="2026-10-05",
                                resources=resources(warehouse_copy))
        assert all(check.passed for check in result.get_asset_check_evaluations())
    assert snapshot(warehouse_copy, query) == before
