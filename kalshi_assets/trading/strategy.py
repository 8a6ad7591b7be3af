"""From promoted strategies to the orders they would place now.

A promoted strategy is a walk-forward `Candidate` (kalshi_assets.analytics.walkforward): the release
is Normal(implied mean + bias x sd, implied sd x scale), with bias and scale fitted per series on every
event already released (first print known) at the candidate's horizon, exactly as a walk-forward fold
fits its training events. Now, for every open event with a fresh distribution
snapshot, the candidate's own rule (`decide_trades`: edge after fee above its threshold, size capped by
capacity, contracts and notional) names the contracts to buy, at the ask of the order book now (or, if
the trading resource says so, of the warehouse's latest hourly quote, which can be an hour old).

Choices, stated: the decision time of an order is the snapshot time it used (so a re-run on the same
information derives the same client_order_id); a strategy enters a contract once (no new order where
it already holds a position or has an order pending or resting), like the walk-forward's one trade per
contract and event; events are traded whatever their distance to the release unless the trading
resource sets `max_days_to_release` (the demo's open events are 5 to 38 days out, beyond the 1-3 day
horizons the candidates were validated on).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import pandas as pd

from kalshi_assets.analytics.features import asof_features, feature_grid
from kalshi_assets.analytics.walkforward import (
    Candidate,
    ReleaseModel,
    decide_trades,
    fit_release_model,
    model_key,
)
from kalshi_assets.times import aware_utc
from kalshi_assets.trading.orders import Order

_CANDIDATE_FIELDS = {f.name for f in fields(Candidate)}
_TRUE = {"true", "t", "yes", "1", "promoted", "pass", "passed"}


@dataclass(frozen=True)
class PromotedStrategy:
    name: str
    candidate: Candidate
    capacity_window_hours: float | None = None  # the window its capacity was measured over in research
    promoted: bool = True  # False: paper-traded while incubating (forward testing toward promotion)


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    if isinstance(value, int | float):
        return value != 0
    return str(value).strip().lower() in _TRUE


def _parameters(row: Mapping[str, Any]) -> dict[str, Any]:
    """The candidate's parameters: its own columns, or a JSON object in a `parameters`/`params` column."""
    params: dict[str, Any] = {}
    for key in ("parameters", "params", "candidate_params"):
        raw = row.get(key)
        if isinstance(raw, str) and raw.strip():
            params.update(json.loads(raw))
        elif isinstance(raw, Mapping):
            params.update(raw)
    for name in _CANDIDATE_FIELDS:
        if name not in params and row.get(name) is not None:
            params[name] = row[name]
    return {k: v for k, v in params.items() if k in _CANDIDATE_FIELDS}


def promoted_strategies(rows: Iterable[Mapping[str, Any]], incubating: Iterable[str] = ()) -> list[PromotedStrategy]:
    """The promoted candidates of promotion_decisions rows (a `promoted` flag per candidate, and the
    candidate's parameters), plus the `incubating` candidates named explicitly (paper-traded although not
    promoted). A selected row without usable parameters, or an incubating name without a row, is an error."""
    rows = list(rows)
    wanted = set(incubating)
    out: dict[str, PromotedStrategy] = {}
    for row in rows:
        promoted = _truthy(row.get("promoted"))
        if not promoted and row.get("candidate") not in wanted:
            continue
        params = _parameters(row)
        try:
            candidate = Candidate(
                horizon_days=int(params.pop("horizon_days")),
                edge_threshold=float(params.pop("edge_threshold")),
                **{k: (int(v) if k in ("max_contracts", "min_fit_events") else float(v)) for k, v in params.items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"candidate {row.get('candidate')!r} has unusable parameters: {exc}") from exc
        name = str(row.get("candidate") or candidate.name)
        window = row.get("capacity_window_hours")
        out[name] = PromotedStrategy(name, candidate, None if window is None else float(window), promoted)
    unknown = sorted(wanted - set(out))
    if unknown:
        raise ValueError(f"incubating candidates {unknown} are not in promotion_decisions (known: "
                         f"{sorted(str(r.get('candidate')) for r in rows)})")  # fmt: skip
    return [out[name] for name in sorted(out)]


def fit_model(
    candidate: Candidate,
    released: pd.DataFrame,
    snapshots: pd.DataFrame,
    purge_windows: Mapping[str, int] | None = None,
) -> ReleaseModel:
    """The release model of a candidate fitted on every released event at the candidate's horizon.

    released: event_ticker, series_ticker, event_type, release_time, first_print. snapshots: event_ticker,
    snapshot_ts, mean, std (status ok). Features are taken as of min(release - horizon, release - purge
    window), as event_features takes them for the walk-forward.
    """
    if released.empty or snapshots.empty:
        return ReleaseModel()
    grid = feature_grid(released, [candidate.horizon_days], purge_windows)
    features = asof_features(grid, snapshots, ["mean", "std"], [])
    train = features.merge(released[["event_ticker", "series_ticker", "first_print"]], on="event_ticker", how="left")
    train = train.rename(columns={"mean": "implied_mean", "std": "implied_sd"})
    return fit_release_model(train, min_fit_events=candidate.min_fit_events)


def proposed_orders(
    strategy: PromotedStrategy,
    model: ReleaseModel,
    ladders: pd.DataFrame,
    distributions: pd.DataFrame,
    now: datetime,
    *,
    held: Iterable[str] = (),
    time_in_force: str = "immediate_or_cancel",
    max_days_to_release: float | None = None,
) -> tuple[list[Order], list[dict[str, Any]]]:
    """(orders, skipped) for one strategy now. `ladders`: open_ladders rows; `distributions`: the
    latest snapshot per open event; `held`: market tickers the strategy holds or has orders working in.
    `skipped` rows say, per event or contract, why nothing was ordered."""
    now = aware_utc(now)
    held_set = set(held)
    orders: list[Order] = []
    skipped: list[dict[str, Any]] = []
    by_event = {event: group for event, group in ladders.groupby("event_ticker")} if len(ladders) else {}
    snapshots = {row.event_ticker: row for row in distributions.itertuples(index=False)}
    for event_ticker in sorted(by_event):
        ladder = by_event[event_ticker]
        release = aware_utc(pd.Timestamp(ladder["release_time"].iloc[0]).to_pydatetime())
        days_out = (release - now).total_seconds() / 86400
        base = {"strategy": strategy.name, "event_ticker": event_ticker}
        if max_days_to_release is not None and days_out > max_days_to_release:
            skipped.append({**base, "reason": f"release {days_out:.1f} days out, beyond {max_days_to_release:g}"})
            continue
        snapshot = snapshots.get(event_ticker)
        if snapshot is None:
            skipped.append({**base, "reason": "no fresh distribution snapshot"})
            continue
        quoted = ladder.dropna(subset=["quote_ts"])
        if quoted.empty:
            skipped.append({**base, "reason": "no fresh quotes"})
            continue
        key = model_key(ladder.iloc[0])  # the series (else the event type), as the walk-forward keys its fits
        grid = getattr(snapshot, "value_grid", None)
        grid = float(grid) if grid is not None and pd.notna(grid) else None
        mu, sigma, tick = model.params(key, float(snapshot.mean), float(snapshot.std), grid)
        fee_multiplier = float(ladder["fee_multiplier"].iloc[0])
        signals = decide_trades(quoted, mu, sigma, tick, strategy.candidate, fee_multiplier)
        decided_at = aware_utc(pd.Timestamp(snapshot.snapshot_ts).to_pydatetime())
        quote_times = dict(zip(quoted["market_ticker"], quoted["quote_ts"], strict=True))
        for signal in signals.itertuples(index=False):
            where = {**base, "market_ticker": signal.market_ticker}
            if signal.market_ticker in held_set:
                skipped.append({**where, "reason": "position or working order exists"})
                continue
            if int(signal.size) < 1:
                skipped.append({**where, "reason": f"edge {signal.edge:.3f} but no capacity ({signal.size_limited_by})"})
                continue
            orders.append(
                Order.create(
                    strategy.name, event_ticker, signal.market_ticker, signal.side, "buy", int(signal.size),
                    signal.price, decided_at, time_in_force=time_in_force,
                    details={
                        "p_model": float(signal.p_model),
                        "edge": float(signal.edge),
                        "fee_estimate": f"{signal.fee:.2f}",
                        "size_limited_by": str(signal.size_limited_by),
                        "model_mean": mu,
                        "model_sd": sigma,
                        "snapshot_ts": decided_at.isoformat(),
                        "quote_ts": pd.Timestamp(quote_times[signal.market_ticker]).isoformat(),
                        "days_to_release": round(days_out, 3),
                        "promoted": strategy.promoted,
                    },
                )  # fmt: skip
            )
    return orders, skipped


def with_book_quotes(ladders: pd.DataFrame, books: Any, now: datetime) -> pd.DataFrame:
    """The ladders priced from each market's order book now (YES bid = best YES bid, YES ask = 1 - best NO
    bid) instead of the warehouse's last hourly quote; a side the book does not show has no price."""
    if ladders.empty:
        return ladders
    priced = ladders.copy()
    bids, asks = [], []
    for ticker in priced["market_ticker"]:
        book = books.book(ticker)
        bids.append(float(book.bids("yes")[0][0]) if book.yes_bids else float("nan"))
        asks.append(float(book.asks("yes")[0][0]) if book.no_bids else float("nan"))
    priced["yes_bid"], priced["yes_ask"] = bids, asks
    priced["quote_ts"] = pd.Timestamp(aware_utc(now)).tz_localize(None)
    return priced


def strategies_summary(strategies: Sequence[PromotedStrategy]) -> str:
    return ", ".join(s.name + ("" if s.promoted else " (incubating)") for s in strategies) or "none"
