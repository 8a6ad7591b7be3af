"""Trading: the orders promoted strategies would place now, routed through risk checks, circuit breakers
and the audit log (paper by default, live only when the trading resource and the environment both say
so), and the positions and P&L that follow from their fills and the markets' settlements.

"Now" is the market-data source's now (the demo exchange's DEMO_END, 2026-11-01 00:00 UTC). Open events
are those released after now; each is traded on its latest distribution snapshot at or before now.
Markets still open at the demo's end never settle within it, so their P&L is marked at the latest mid.
"""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from kalshi_assets.audit import ORDER, RISK_VIOLATION
from kalshi_assets.defs import keys
from kalshi_assets.defs.metadata import WRITER_POOL, markdown_table, table_metadata
from kalshi_assets.defs.resources import (
    AuditLogResource,
    MarketDataResource,
    SettingsResource,
    TradingResource,
    WarehouseResource,
)
from kalshi_assets.times import aware_utc
from kalshi_assets.trading import MarketDataBooks, OrderRouter, PositionBook, accounts
from kalshi_assets.trading import strategy as strategies
from kalshi_assets.warehouse import trading as store

GROUP = "trading"


def _now(market_data: MarketDataResource) -> datetime:
    return aware_utc(market_data.get_source().now())


def _marks(con, tickers: list[str], now: datetime, trading: TradingResource, market_data: MarketDataResource) -> dict:
    """The latest YES mid per market: the order book's now (when prices come from it), else the warehouse's."""
    marks = store.marks(con, tickers, now)
    if trading.prices_from == "orderbook":
        marks.update(accounts.book_marks(MarketDataBooks(market_data.get_source()), tickers, now))
    return marks


def _account_book(con, fills: list, now: datetime, trading: TradingResource, market_data: MarketDataResource):
    """The whole account (every strategy of one mode): the risk limits apply to it, not to one strategy."""
    book = PositionBook.from_fills(fill for _, _, fill in fills)
    accounts.settle_book(book, store.settlements(con, list(book.positions), now))
    marks = _marks(con, [t for t, p in book.positions.items() if p.contracts], now, trading, market_data)
    return book, {ticker: mark["price"] for ticker, mark in marks.items()}


def _route_promoted(
    con, promoted: list, now: datetime, settings: SettingsResource, trading: TradingResource,
    market_data: MarketDataResource, log,
) -> tuple[list, list[dict], int]:
    """Route the orders each promoted strategy would place now (orders routed before are skipped, by their
    client_order_id): the routing results, the markets skipped and why, and how many were placed before."""
    routed: list = []
    skipped: list[dict] = []
    already_placed = 0
    ladders = {
        window: store.open_ladders(con, now, window, settings.max_staleness_hours)
        for window in {s.capacity_window_hours or trading.capacity_window_hours for s in promoted}
    }
    if trading.prices_from == "orderbook":
        books = MarketDataBooks(market_data.get_source())
        ladders = {w: strategies.with_book_quotes(frame, books, now) for w, frame in ladders.items()}
    markets = next(iter(ladders.values()))  # the same markets whatever the capacity window
    events = sorted(set(markets["event_ticker"]))
    distributions = store.latest_distributions(con, events, now, trading.max_snapshot_age_hours)
    released = store.released_events(con, now)
    history = store.snapshot_history(con, list(released["event_ticker"]), now)
    fills = store.read_fills(con, trading.mode)
    book, marks = _account_book(con, fills, now, trading, market_data)
    held_by_strategy = accounts.books_by_account(fills)
    broker = trading.get_broker(
        market_data=market_data, audit_log=log,
        fee_multipliers=dict(zip(markets["market_ticker"], markets["fee_multiplier"], strict=True)),
        is_market_open=set(markets["market_ticker"]).__contains__,
    )  # fmt: skip
    router = OrderRouter(
        broker, trading.risk_manager(book, marks, clock=lambda: now), log, user_id=trading.user_id,
        store=store.WarehouseOrderStore(con),
    )  # fmt: skip
    for strategy in promoted:
        model = strategies.fit_model(strategy.candidate, released, history, settings.purge_window_days)
        own = held_by_strategy.get((trading.mode, strategy.name))
        held = {t for t, p in own.positions.items() if p.contracts} if own is not None else set()
        held |= store.working_markets(con, trading.mode, strategy.name)
        orders, why_not = strategies.proposed_orders(
            strategy, model, ladders[strategy.capacity_window_hours or trading.capacity_window_hours],
            distributions, now, held=held, time_in_force=trading.time_in_force,
            max_days_to_release=trading.max_days_to_release,
        )  # fmt: skip
        skipped.extend(why_not)
        known = store.known_order_ids(con, [o.client_order_id for o in orders])
        already_placed += len(known)
        routed.extend(router.route_all([o for o in orders if o.client_order_id not in known]))
    return routed, skipped, already_placed


@dg.asset(
    group_name=GROUP,
    deps=[keys.PROMOTION_DECISIONS, keys.DISTRIBUTION_SNAPSHOTS, keys.KALSHI_MARKETS, keys.KALSHI_QUOTES],
    pool=WRITER_POOL,
    kinds={"duckdb"},
)
def paper_orders(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    market_data: MarketDataResource,
    settings: SettingsResource,
    trading: TradingResource,
    audit_log: AuditLogResource,
) -> dg.MaterializeResult:
    """Every order the promoted strategies would place now, routed (risk, breaker, audit) and kept with
    its status and reason. A re-run derives the same client_order_ids and routes none of them again.
    Nothing is routed when no strategy is promoted."""
    now = _now(market_data)
    routed: list = []
    skipped: list[dict] = []
    already_placed = 0
    if trading.mode == "live" and trading.incubating_candidates:
        raise dg.Failure("live trading trades promoted strategies only: empty incubating_candidates (paper only)")
    with warehouse.connect() as con:
        promoted = strategies.promoted_strategies(store.promotion_rows(con), trading.incubating_candidates)
        if not promoted:
            context.log.info("no promoted strategy (or no promotion_decisions table yet): nothing routed")
        else:
            routed, skipped, already_placed = _route_promoted(
                con, promoted, now, settings, trading, market_data, audit_log.get_log()
            )
        statuses, rejection_reasons = accounts.routing_summary(routed)
        context.log.info(
            f"{len(routed)} orders routed ({statuses}); {already_placed} already placed by an earlier run; "
            f"strategies: {strategies.strategies_summary(promoted)}"
        )
        return dg.MaterializeResult(
            metadata=table_metadata(
                con, store.ORDERS, len(routed), order_by="decision_time",
                now=dg.MetadataValue.text(now.isoformat()),
                mode=dg.MetadataValue.text(trading.mode),
                promoted_strategies=dg.MetadataValue.text(strategies.strategies_summary(promoted)),
                routed=dg.MetadataValue.int(len(routed)),
                filled=dg.MetadataValue.int(statuses.get("filled", 0)),
                submitted=dg.MetadataValue.int(statuses.get("submitted", 0)),
                rejected=dg.MetadataValue.int(statuses.get("rejected", 0)),
                errors=dg.MetadataValue.int(statuses.get("error", 0)),
                already_placed=dg.MetadataValue.int(already_placed),
                rejection_reasons=dg.MetadataValue.json(rejection_reasons),
                skipped=dg.MetadataValue.md(markdown_table(pd.DataFrame(skipped), max_rows=20)),
            )  # fmt: skip
        )


@dg.asset(group_name=GROUP, deps=[keys.PAPER_ORDERS, keys.KALSHI_MARKETS, keys.KALSHI_QUOTES], pool=WRITER_POOL,
          kinds={"duckdb"})  # fmt: skip
def paper_positions(
    warehouse: WarehouseResource, market_data: MarketDataResource, trading: TradingResource
) -> dg.MaterializeResult:
    """Positions per (mode, strategy, market) from every fill: settled on Kalshi's result when the market
    has settled, else marked at the latest mid (the demo's open markets settle after its end)."""
    now = _now(market_data)
    with warehouse.connect() as con:
        books = accounts.books_by_account(store.read_fills(con))
        tickers = sorted({t for book in books.values() for t in book.positions})
        settled = store.settlements(con, tickers, now)
        marks = _marks(con, [t for t in tickers if t not in settled], now, trading, market_data)
        rows = []
        for account in sorted(books):
            accounts.settle_book(books[account], settled)
            rows.extend(accounts.position_rows(account, books[account], marks, now))
        frame = pd.DataFrame(rows, columns=store.POSITION_COLUMNS)
        written = store.replace_positions(con, frame)
        return dg.MaterializeResult(
            metadata=table_metadata(
                con, store.POSITIONS, written, order_by="market_ticker",
                as_of=dg.MetadataValue.text(now.isoformat()),
                open_positions=dg.MetadataValue.int(int((frame["status"] == "open").sum())),
                settled_positions=dg.MetadataValue.int(int((frame["status"] == "settled").sum())),
            )  # fmt: skip
        )


@dg.asset(group_name=GROUP, deps=[keys.PAPER_POSITIONS], pool=WRITER_POOL, kinds={"duckdb"})
def paper_pnl(warehouse: WarehouseResource, market_data: MarketDataResource) -> dg.MaterializeResult:
    """P&L per (mode, strategy) as of now: realized (closes, settlements, fees) plus unrealized (open
    positions at the latest mid), with orders by status and fills; one row per as_of is kept."""
    now = _now(market_data)
    with warehouse.connect() as con:
        positions = store.read_positions(con)
        rows = accounts.pnl_rows(positions, store.order_counts(con), now, datetime.now(UTC))
        frame = pd.DataFrame(rows, columns=store.PNL_COLUMNS)
        written = store.upsert_pnl(con, frame)
        totals = accounts.pnl_totals(rows)
        return dg.MaterializeResult(
            metadata=table_metadata(
                con, store.PNL, written, order_by="as_of",
                as_of=dg.MetadataValue.text(now.isoformat()),
                **{name: dg.MetadataValue.float(value) for name, value in totals.items()},
            )  # fmt: skip
        )


# --- checks ------------------------------------------------------------------------------------------


@dg.asset_check(
    asset=paper_orders,
    blocking=True,
    description="Every completed order has its audit records (ORDER, or RISK_VIOLATION for a risk rejection), "
    "the audit log verifies, and no order is left pending by a run that died mid-order.",
)
def paper_orders_audited(warehouse: WarehouseResource, audit_log: AuditLogResource) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        orders = store.read_orders(con)
    log = audit_log.get_log()
    audited: set[str] = set()
    for event_type in (ORDER, RISK_VIOLATION):
        audited |= {r["payload"].get("client_order_id") for r in log.query(event_type=event_type)}
    missing, pending = accounts.audit_gaps(orders, audited)
    report = log.verify()
    return dg.AssetCheckResult(
        passed=not missing and not pending and report.ok,
        metadata={
            "orders": len(orders),
            "without_audit_record": len(missing),
            "pending": len(pending),
            "audit_log_ok": report.ok,
            "examples": dg.MetadataValue.json({"without_audit_record": missing[:10], "pending": pending[:10]}),
        },
    )


@dg.asset_check(
    asset=paper_orders,
    blocking=True,
    description="Statuses agree with fills: filled orders have fills summing to filled_contracts, others none; "
    "rejected and error orders carry a reason.",
)
def paper_orders_consistent(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        problems = store.order_consistency(con)
    return dg.AssetCheckResult(passed=not any(problems.values()), metadata=problems)


defs = dg.Definitions(
    assets=[paper_orders, paper_positions, paper_pnl],
    asset_checks=[paper_orders_audited, paper_orders_consistent],
)
