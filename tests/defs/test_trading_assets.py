"""The trading assets on the demo warehouse: paper orders from a promoted strategy, idempotent re-runs,
risk rejections, audit records, positions and P&L, the live switch (loopback demo server only)."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from kalshi_assets.audit import ORDER, RISK_VIOLATION, TRADE, AuditLog
from kalshi_assets.defs import distributions, ingest_percentiles, outcomes, trading
from kalshi_assets.defs.resources import (
    AuditLogResource,
    MacroResource,
    MarketDataResource,
    SettingsResource,
    TradingResource,
    WarehouseResource,
)
from kalshi_assets.demo.exchange import DemoExchange
from kalshi_assets.demo.keys import DEMO_API_KEY_ID, demo_key_pair
from kalshi_assets.demo.server import DemoServer
from kalshi_assets.trading import (
    LIVE_TRADING_CONFIRMATION,
    LIVE_TRADING_ENV,
    REASON_DUPLICATE,
    RULE_NOTIONAL,
    LiveBroker,
    LiveTradingNotConfirmed,
    PaperBroker,
)
from kalshi_assets.warehouse import db
from kalshi_assets.warehouse import trading as store
from tests.partition_range import partition_range_tags

STRATEGY = "normal_h1d_edge0.02"
ASSETS = [trading.paper_orders, trading.paper_positions, trading.paper_pnl]
SNAPSHOT_DAYS = ("2026-10-25", "2026-10-31")  # a week of snapshots: the open events' latest, and some history


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KALSHI_AUDIT_HMAC_KEY", raising=False)
    monkeypatch.delenv(LIVE_TRADING_ENV, raising=False)
    monkeypatch.delenv("KALSHI_PAPER_INCUBATE", raising=False)


@pytest.fixture(scope="session")
def research_warehouse(ingested_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ingested warehouse plus distribution snapshots for a week and the first prints (read-only template)."""
    path = tmp_path_factory.mktemp("trading") / "warehouse.duckdb"
    shutil.copyfile(ingested_warehouse, path)
    resources = {
        "warehouse": WarehouseResource(path=str(path)),
        "market_data": MarketDataResource(),
        "settings": SettingsResource(),
        "macro": MacroResource(),
    }
    selection = [ingest_percentiles.kalshi_forecast_percentiles, distributions.distribution_snapshots]
    defs = dg.Definitions(
        assets=selection, resources=resources, jobs=[dg.define_asset_job("snapshots", selection=selection)],
        executor=dg.in_process_executor,
    )  # fmt: skip
    run = defs.resolve_job_def("snapshots").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        tags=partition_range_tags(SNAPSHOT_DAYS[0], SNAPSHOT_DAYS[1]),
    )
    assert run.success
    assert dg.materialize([outcomes.outcomes_first_print], resources=resources).success
    return path


@pytest.fixture()
def warehouse(research_warehouse: Path, tmp_path: Path) -> Path:
    """A private copy whose open events' latest snapshots are tilted 1.5 implied sds up: the strategy's
    model (fitted on few events, so it trusts those snapshots) then disagrees with the quoted ladders,
    which is what makes a strategy trade. Without the tilt, whether the demo's quotes offer an edge
    above the threshold depends on the research model's details, not on the code under test."""
    target = tmp_path / "warehouse.duckdb"
    shutil.copyfile(research_warehouse, target)
    with db.connection(target) as con:
        tilted = con.execute(
            "UPDATE distribution_snapshots SET mean = mean + 1.5 * std "
            "WHERE release_time > TIMESTAMP '2026-11-01' AND snapshot_ts = TIMESTAMP '2026-10-31 23:00:00' "
            "AND status = 'ok' RETURNING event_ticker"
        ).fetchall()
    assert len(tilted) >= 3
    return target


def promote(path: Path, *candidates: tuple[str, bool, int, float]) -> None:
    """Write promotion_decisions and walkforward_candidates rows the way the research stage does."""
    with db.connection(path) as con:
        for name, promoted, horizon, edge in candidates:
            con.execute(
                "INSERT INTO promotion_decisions (candidate, promoted, reasons, trades, n_trials, decided_at) "
                "VALUES (?, ?, ?, 40, 6, TIMESTAMP '2026-10-31 00:00:00')",
                [name, promoted, "" if promoted else "dsr below 0.95"],
            )
            con.execute(
                "INSERT INTO walkforward_candidates VALUES (?, ?, ?, 0.1, 24, 1000, 500, 10000, 40, 400, 4000, "
                "0.1, 0, 0, 10, TIMESTAMP '2026-10-31 00:00:00')",
                [name, horizon, edge],
            )


def resources(path: Path, audit: Path, **trading_config) -> dict:
    return {
        "warehouse": WarehouseResource(path=str(path)),
        "market_data": MarketDataResource(),
        "settings": SettingsResource(),
        "trading": TradingResource(**trading_config),
        "audit_log": AuditLogResource(directory=str(audit), fsync="off"),
    }


def run(path: Path, audit: Path, *, assets=ASSETS, raise_on_error: bool = True, **trading_config):
    return dg.materialize(
        [*assets, *trading.defs.asset_checks] if trading.paper_orders in assets else assets,
        resources=resources(path, audit, **trading_config),
        raise_on_error=raise_on_error,
    )


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]
    return {k: getattr(v, "value", v) for k, v in events[-1].materialization.metadata.items()}


def orders(path: Path) -> list[dict]:
    with db.connection(path) as con:
        return store.read_orders(con)


def records_by_order(audit: Path) -> dict[str, list[str]]:
    with AuditLog(audit) as log:
        grouped: dict[str, list[str]] = {}
        for record in log.query():
            key = record["payload"].get("client_order_id")
            if key:
                grouped.setdefault(key, []).append(record["event_type"])
        assert log.verify().ok
    return grouped


# --- tests ---------------------------------------------------------------------------------------------


def test_definitions_wire_the_trading_stage() -> None:
    from kalshi_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("paper_orders"))
    assert node.group_name == "trading"
    assert {k.to_user_string() for k in node.parent_keys} >= {"promotion_decisions", "distribution_snapshots",
                                                               "kalshi_markets"}  # fmt: skip
    assert {k.to_user_string() for k in graph.get(dg.AssetKey("paper_pnl")).parent_keys} == {"paper_positions"}
    assert isinstance(defs.resources["trading"], TradingResource)


def test_nothing_is_routed_when_no_strategy_is_promoted(warehouse: Path, tmp_path: Path) -> None:
    promote(warehouse, (STRATEGY, False, 1, 0.02))
    result = run(warehouse, tmp_path / "audit")
    assert result.success
    assert metadata(result, "paper_orders")["routed"] == 0
    assert orders(warehouse) == []
    assert not (tmp_path / "audit").exists() or AuditLog(tmp_path / "audit").query() == []
    assert metadata(result, "paper_pnl")["dagster/row_count"] == 0
    with db.connection(warehouse) as con:
        text = "\n".join(store.demo_report_lines(con))
    assert "no orders: no strategy is promoted" in text and "fills: 0" in text and "P&L: nothing traded yet" in text


def test_an_incubating_candidate_is_paper_traded_on_request_only(warehouse: Path, tmp_path: Path) -> None:
    promote(warehouse, (STRATEGY, False, 1, 0.02))
    with pytest.raises(dg.Failure, match="promoted strategies only"):
        run(warehouse, tmp_path / "audit", assets=[trading.paper_orders], mode="live",
            incubating_candidates=[STRATEGY])  # fmt: skip
    result = run(warehouse, tmp_path / "audit", incubating_candidates=[STRATEGY])
    assert metadata(result, "paper_orders")["promoted_strategies"] == f"{STRATEGY} (incubating)"
    placed = orders(warehouse)
    assert placed and {(o["mode"], o["promoted"]) for o in placed} == {("paper", False)}
    with db.connection(warehouse) as con:
        text = "\n".join(store.demo_report_lines(con))
    assert f"P&L paper {STRATEGY} (incubating, not promoted)" in text


def test_incubating_candidates_default_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert TradingResource().incubating_candidates == []
    monkeypatch.setenv("KALSHI_PAPER_INCUBATE", "a, b,")
    assert TradingResource().incubating_candidates == ["a", "b"]


def test_paper_orders_fill_audit_and_a_rerun_places_no_duplicate(warehouse: Path, tmp_path: Path) -> None:
    promote(warehouse, (STRATEGY, True, 1, 0.02), ("normal_h3d_edge0.10", False, 3, 0.10))
    audit = tmp_path / "audit"
    first = run(warehouse, audit)
    assert first.success and all(c.passed for c in first.get_asset_check_evaluations())
    placed = orders(warehouse)
    statuses = Counter(o["status"] for o in placed)
    assert statuses["filled"] >= 1 and sum(statuses.values()) == len(placed)
    assert {(o["strategy"], o["mode"], o["promoted"]) for o in placed} == {(STRATEGY, "paper", True)}
    assert all(o["notional"] <= Decimal("500") for o in placed)

    # Every routed order has exactly the audit records its path implies.
    audited = records_by_order(audit)
    with db.connection(warehouse) as con:
        fills = Counter(f.client_order_id for _, _, f in store.read_fills(con))
    for order in placed:
        expected = {"filled": [ORDER] + [TRADE] * fills[order["client_order_id"]], "rejected": [ORDER]}
        assert audited[order["client_order_id"]] == expected[order["status"]], order

    # P&L: realized (fees) plus unrealized at the latest mid, nothing settles before the demo's end.
    pnl = metadata(first, "paper_pnl")
    assert pnl["dagster/row_count"] == 1
    with db.connection(warehouse) as con:
        (row,) = con.execute("SELECT * FROM paper_pnl").df().to_dict("records")
        positions = store.read_positions(con)
    assert row["fills"] == sum(fills.values()) and row["orders"] == len(placed)
    assert row["settled_positions"] == 0 and row["open_positions"] == len(positions)
    assert {p["mark_source"] for p in positions} <= {"mid", "last_price"}
    assert Decimal(str(row["realized_pnl"])) == -Decimal(str(row["fees"]))

    # Re-materializing on the same information routes nothing again and writes no audit record.
    before = {o["client_order_id"]: (o["status"], o["updated_at"]) for o in placed}
    second = run(warehouse, audit)
    assert second.success
    again = metadata(second, "paper_orders")
    assert again["routed"] == 0
    assert again["already_placed"] == statuses["rejected"]  # filled ones are held; the rest are known ids
    assert {o["client_order_id"]: (o["status"], o["updated_at"]) for o in orders(warehouse)} == before
    assert records_by_order(audit) == audited

    with db.connection(warehouse) as con:
        text = "\n".join(store.demo_report_lines(con))
    assert "paper orders filled" in text and "fills:" in text and "P&L paper normal_h1d_edge0.02" in text


def test_decisions_priced_from_the_warehouse_quotes_use_the_last_hourly_ask(warehouse: Path, tmp_path: Path) -> None:
    promote(warehouse, (STRATEGY, True, 1, 0.02))
    assert run(warehouse, tmp_path / "audit", prices_from="quotes").success
    placed = orders(warehouse)
    assert placed
    with db.connection(warehouse) as con:
        for order in placed:
            yes_bid, yes_ask = con.execute(
                "SELECT yes_bid, yes_ask FROM kalshi_quotes WHERE market_ticker = ? "
                "AND ts = TIMESTAMP '2026-10-31 23:00:00'",
                [order["market_ticker"]],
            ).fetchone()
            assert order["limit_price"] == (yes_ask if order["side"] == "yes" else 1 - yes_bid)


def test_orders_over_the_notional_limit_are_rejected_and_audited(warehouse: Path, tmp_path: Path) -> None:
    promote(warehouse, (STRATEGY, True, 1, 0.02))
    audit = tmp_path / "audit"
    result = run(warehouse, audit, max_order_notional=5.0)
    assert result.success
    placed = orders(warehouse)
    over = [o for o in placed if o["notional"] > Decimal("5")]
    assert over and all((o["status"], o["reason"]) == ("rejected", RULE_NOTIONAL) for o in over)
    audited = records_by_order(audit)
    assert all(audited[o["client_order_id"]] == [RISK_VIOLATION] for o in over)
    with AuditLog(audit) as log:
        violation = log.query(event_type=RISK_VIOLATION)[0]["payload"]
    assert violation["rule"] == RULE_NOTIONAL and violation["limit"] == "5.0"
    assert Decimal(violation["observed"]) > 5 and violation["details"]["order"]["strategy"] == STRATEGY


def test_a_settled_position_realizes_at_the_settlement_value(warehouse: Path, tmp_path: Path) -> None:
    with db.connection(warehouse) as con:
        ticker, event, result = con.execute(
            "SELECT market_ticker, event_ticker, result FROM kalshi_markets WHERE result IN ('yes', 'no') "
            "ORDER BY market_ticker LIMIT 1"
        ).fetchone()
        con.execute(
            "INSERT INTO paper_orders (client_order_id, mode, strategy, event_ticker, market_ticker, side, action, "
            "contracts, limit_price, notional, time_in_force, decision_time, status, filled_contracts, fees, "
            "created_at, updated_at) VALUES ('c-1', 'paper', 's', ?, ?, 'yes', 'buy', 10, 0.40, 4.0, "
            "'immediate_or_cancel', TIMESTAMP '2026-09-01', 'filled', 10, 0.17, now(), now())",
            [event, ticker],
        )
        con.execute(
            "INSERT INTO paper_fills VALUES ('t-1', 'c-1', 'o-1', 'paper', 's', ?, ?, 'yes', 'buy', 10, 0.40, 0.17, "
            "TIMESTAMP '2026-09-01')",
            [event, ticker],
        )
    result_run = run(warehouse, tmp_path / "audit", assets=[trading.paper_positions, trading.paper_pnl])
    assert result_run.success
    with db.connection(warehouse) as con:
        (position,) = store.read_positions(con)
    expected = Decimal(10) * ((1 if result == "yes" else 0) - Decimal("0.40")) - Decimal("0.17")
    assert (position["status"], position["mark_source"], position["position"]) == ("settled", "settlement", 0)
    assert position["realized_pnl"] == expected and position["unrealized_pnl"] == 0


def test_live_mode_without_the_environment_switch_fails_clearly(warehouse: Path, tmp_path: Path) -> None:
    promote(warehouse, (STRATEGY, True, 1, 0.02))
    with pytest.raises(LiveTradingNotConfirmed, match=f"{LIVE_TRADING_ENV}={LIVE_TRADING_CONFIRMATION}"):
        run(warehouse, tmp_path / "audit", assets=[trading.paper_orders], mode="live")
    assert orders(warehouse) == []


@pytest.fixture()
def demo_server() -> Iterator[DemoServer]:
    with DemoServer(DemoExchange(seed=7), rate_limits=None) as running:
        yield running


def test_live_mode_routes_to_the_loopback_demo_exchange(
    warehouse: Path, tmp_path: Path, demo_server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LIVE_TRADING_ENV, LIVE_TRADING_CONFIRMATION)
    promote(warehouse, (STRATEGY, True, 1, 0.02))
    audit = tmp_path / "audit"
    live = {"mode": "live", "live_base_url": demo_server.base_url, "api_key_id": DEMO_API_KEY_ID,
            "private_key_pem": demo_key_pair()[0].decode()}  # fmt: skip
    first = run(warehouse, audit, assets=[trading.paper_orders], **live)
    assert first.success
    placed = orders(warehouse)
    assert placed and {o["mode"] for o in placed} == {"live"}
    assert len(demo_server.api.orders) == len(placed)  # every routed order reached the exchange once
    assert Counter(o["status"] for o in placed)["filled"] >= 1

    # The store refuses a re-run ...
    assert metadata(run(warehouse, audit, assets=[trading.paper_orders], **live), "paper_orders")["routed"] == 0
    assert len(demo_server.api.orders) == len(placed)
    # ... and if the store has lost its rows, the exchange refuses the same client_order_ids (409).
    with db.connection(warehouse) as con:
        con.execute("DELETE FROM paper_fills")
        con.execute("DELETE FROM paper_orders")
    third = run(warehouse, audit, assets=[trading.paper_orders], **live)
    assert third.success
    retried = orders(warehouse)
    assert {o["client_order_id"] for o in retried} == {o["client_order_id"] for o in placed}
    assert {(o["status"], o["reason"]) for o in retried} == {("rejected", REASON_DUPLICATE)}
    assert demo_server.stats.by_status[409] == len(placed)
    assert len(demo_server.api.orders) == len(placed)


def test_trading_resource_builds_the_broker_its_mode_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           demo_server: DemoServer) -> None:  # fmt: skip
    log = AuditLog(tmp_path / "audit", fsync="off")
    market_data = MarketDataResource()
    paper = TradingResource().get_broker(market_data=market_data, audit_log=log)
    assert isinstance(paper, PaperBroker)
    live = TradingResource(mode="live", live_base_url=demo_server.base_url, api_key_id=DEMO_API_KEY_ID,
                           private_key_pem=demo_key_pair()[0].decode())  # fmt: skip
    with pytest.raises(LiveTradingNotConfirmed):
        live.get_broker(market_data=market_data, audit_log=log)
    monkeypatch.setenv(LIVE_TRADING_ENV, "yes please")
    with pytest.raises(LiveTradingNotConfirmed):
        live.get_broker(market_data=market_data, audit_log=log)
    monkeypatch.setenv(LIVE_TRADING_ENV, LIVE_TRADING_CONFIRMATION)
    assert isinstance(live.get_broker(market_data=market_data, audit_log=log), LiveBroker)
    risk = TradingResource(max_order_notional=250.0, max_position_per_market=7, max_daily_loss=40.0).risk_manager()
    assert (risk.max_order_notional, risk.max_position_per_market, risk.max_daily_loss) == (
        Decimal("250.0"), 7, Decimal("40.0"))  # fmt: skip
    log.close()
