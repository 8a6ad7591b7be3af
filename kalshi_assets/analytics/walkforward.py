"""Walk-forward strategy candidates: fit on train events, trade the test events' ladders, settle on the first print.

The model (a choice): an event's release X is Normal(implied_mean + bias * implied_sd, implied_sd * scale),
with bias and scale (in units of the implied sd, so series with different units pool safely) fitted per
series on the fold's training events; with fewer than `min_fit_events` training events of a series the
market is trusted (bias 0, scale 1). Releases settle on a grid (CPI on 0.1, FOMC decisions on 25 bps), so
contract probabilities integrate the normal over grid cells: a tie on a `greater` strike settles NO.

Trading arithmetic (docs/METHODS.md section 6): buying YES at the ask a (or NO at 1 - yes_bid) with belief p
has expected value p - a - fee/C per contract; a trade is taken when that edge exceeds the candidate's
threshold. Taker fee = ceil_to_cent(fee_multiplier x 0.07 x C x P x (1 - P)), in Decimal. Quotes come from
hourly candles, which carry the best bid and ask but no depth: fills are at the best price, and size is
capped by a share of the contracts traded in the capacity window and of open interest (never more than
traded), by the order notional limit and by the position limit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

import numpy as np
import pandas as pd
from scipy.special import ndtr

CENT = Decimal("0.01")
PRICE_QUANTUM = Decimal("0.0001")
TAKER_FEE_RATE = Decimal("0.07")
# Threshold rungs by default: a normal fitted to moments misprices mutually exclusive bins with wide
# open-ended ranges (the FOMC decision market's tail bins inflate the implied sd), so candidates leave
# `between` contracts alone unless asked to trade them.
THRESHOLD_STRIKE_TYPES: tuple[str, ...] = ("greater", "greater_or_equal", "less", "less_or_equal")

TRACE_COLUMNS: tuple[str, ...] = (
    "candidate",
    "fold",
    "event_ticker",
    "event_type",
    "release_time",
    "horizon_days",
    "as_of",
    "market_ticker",
    "strike_type",
    "floor_strike",
    "cap_strike",
    "side",
    "price",
    "size",
    "fee",
    "cost",
    "p_model",
    "edge",
    "first_print",
    "won",
    "payout",
    "pnl",
    "trade_return",
    "bankroll_return",
    "window_volume",
    "open_interest",
    "capacity_contracts",
    "size_limited_by",
)


def to_price(value: object) -> Decimal:
    """A dollar price as Decimal with Kalshi's 4-decimal precision; floats go through their shortest repr."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise ValueError("price is missing")
    price = value if isinstance(value, Decimal) else Decimal(str(value))
    if not Decimal(0) <= price <= Decimal(1):
        raise ValueError(f"price {price} outside [0, 1]")
    return price.quantize(PRICE_QUANTUM)


def taker_fee(contracts: int, price: Decimal | float | str, fee_multiplier: Decimal | float | str = 1) -> Decimal:
    """Kalshi's taker fee for one fill, rounded up to the cent: 10 contracts at $0.50 -> $0.18."""
    if contracts < 0:
        raise ValueError("contracts must not be negative")
    p = to_price(price)
    multiplier = fee_multiplier if isinstance(fee_multiplier, Decimal) else Decimal(str(fee_multiplier))
    if multiplier < 0:
        raise ValueError("fee multiplier must not be negative")
    raw = multiplier * TAKER_FEE_RATE * Decimal(contracts) * p * (Decimal(1) - p)
    return raw.quantize(CENT, rounding=ROUND_CEILING)


def capacity_contracts(window_volume: float, open_interest: float, share: float) -> int:
    """Contracts a strategy may take: a share of what traded in the window and of open interest.

    The result never exceeds the traded volume (share <= 1): a fill larger than what traded is not a fill.
    """
    if not 0 < share <= 1:
        raise ValueError("capacity share must be in (0, 1]")
    volume = 0.0 if window_volume is None or math.isnan(float(window_volume)) else max(float(window_volume), 0.0)
    oi = 0.0 if open_interest is None or math.isnan(float(open_interest)) else max(float(open_interest), 0.0)
    return int(math.floor(min(share * volume, share * oi) + 1e-9))


@dataclass(frozen=True)
class Candidate:
    """One strategy variant. `edge_threshold` is dollars per contract after the taker fee."""

    horizon_days: int
    edge_threshold: float
    capacity_share: float = 0.10
    max_contracts: int = 1000
    max_order_notional: float = 500.0
    bankroll: float = 10_000.0
    min_fit_events: int = 3
    strike_types: tuple[str, ...] = THRESHOLD_STRIKE_TYPES

    @property
    def name(self) -> str:
        return f"normal_h{self.horizon_days}d_edge{self.edge_threshold:.2f}"

    def __post_init__(self) -> None:
        if self.edge_threshold < 0:
            raise ValueError("edge threshold must not be negative")
        if not 0 < self.capacity_share <= 1:
            raise ValueError("capacity share must be in (0, 1]")
        if self.max_contracts < 1 or self.max_order_notional <= 0 or self.bankroll <= 0:
            raise ValueError("size limits and bankroll must be positive")


def candidate_family(
    horizons_days: Sequence[int] = (1, 3),
    edge_thresholds: Sequence[float] = (0.02, 0.05, 0.10),
    **limits: float,
) -> list[Candidate]:
    """The grid of candidates tried (every one counts towards the deflated Sharpe's N)."""
    return [Candidate(horizon_days=h, edge_threshold=t, **limits) for h in horizons_days for t in edge_thresholds]  # type: ignore[arg-type]


# --- the release model -----------------------------------------------------------------------------


def infer_grid(values: Iterable[float], decimals: int = 4) -> float:
    """The grid values sit on: the greatest common divisor of the values (to `decimals`), 0 if unknown.

    CPI prints 0.2, 0.3, -0.1 -> 0.1; FOMC upper bounds 4.25, 4.5 -> 0.25; decision changes -25, 0, 25 -> 25.
    """
    scale = 10**decimals
    divisor = 0
    for value in values:
        if value is None or not math.isfinite(float(value)):
            continue
        divisor = math.gcd(divisor, abs(round(float(value) * scale)))
    return divisor / scale


@dataclass(frozen=True)
class ModelFit:
    """Release = implied_mean + bias * implied_sd, spread implied_sd * scale (bias and scale in sd units)."""

    bias: float
    scale: float
    grid: float
    n_events: int


@dataclass(frozen=True)
class ReleaseModel:
    """Per model key (the series, else the event type): X ~ Normal(mean + bias sd, sd scale) on a grid."""

    fits: Mapping[str, ModelFit] = field(default_factory=dict)

    def params(self, key: str, implied_mean: float, implied_sd: float, grid: float | None = None) -> tuple[float, float, float]:
        """(mu, sigma, grid); an event's own grid (its snapshot's value_grid) wins over the fitted one."""
        fit = self.fits.get(key, ModelFit(0.0, 1.0, 0.0, 0))
        use_grid = grid if grid is not None and math.isfinite(grid) and grid > 0 else fit.grid
        return implied_mean + fit.bias * implied_sd, implied_sd * fit.scale, use_grid


def model_key(row: object) -> str:
    """Series when known (units differ between series of one event type), else the event type."""
    series = getattr(row, "series_ticker", None)
    return str(series) if isinstance(series, str) and series else str(row.event_type)  # type: ignore[attr-defined]


def fit_release_model(
    train: pd.DataFrame,
    *,
    min_fit_events: int = 3,
    scale_bounds: tuple[float, float] = (0.25, 4.0),
) -> ReleaseModel:
    """Fit bias and scale per model key from rows (event_type[, series_ticker], implied_mean, implied_sd, first_print).

    z = (first_print - implied_mean) / implied_sd; bias = mean z, scale = RMS of z about the bias. With fewer
    than `min_fit_events` rows the market is trusted as priced (bias 0, scale 1).
    """
    fits: dict[str, ModelFit] = {}
    usable = train.dropna(subset=["implied_mean", "implied_sd", "first_print"])
    usable = usable[usable["implied_sd"] > 0]
    if usable.empty:
        return ReleaseModel()
    keys = [model_key(row) for row in usable.itertuples(index=False)]
    for key, group in usable.groupby(np.asarray(keys)):
        grid = infer_grid(group["first_print"])
        if len(group) < min_fit_events:
            fits[str(key)] = ModelFit(0.0, 1.0, grid, len(group))
            continue
        z = (group["first_print"].to_numpy(float) - group["implied_mean"].to_numpy(float)) / group[
            "implied_sd"
        ].to_numpy(float)
        bias = float(z.mean())
        scale = float(np.clip(math.sqrt(float(np.mean((z - bias) ** 2))), *scale_bounds))
        fits[str(key)] = ModelFit(bias, scale, grid, len(group))
    return ReleaseModel(fits=fits)


def _lower_edge(strike: float, tick: float, inclusive: bool) -> float:
    """The boundary b with {X > strike} (or {X >= strike}) = {X >= b} on a grid of `tick` (b = strike when tick 0)."""
    if tick <= 0:
        return strike
    n = strike / tick
    on_grid = abs(n - round(n)) < 1e-6
    first = (round(n) if inclusive else round(n) + 1) if on_grid else math.ceil(n)
    return first * tick - tick / 2


def _upper_edge(strike: float, tick: float, inclusive: bool) -> float:
    """The boundary b with {X < strike} (or {X <= strike}) = {X <= b} on a grid of `tick`."""
    if tick <= 0:
        return strike
    n = strike / tick
    on_grid = abs(n - round(n)) < 1e-6
    last = (round(n) if inclusive else round(n) - 1) if on_grid else math.floor(n)
    return last * tick + tick / 2


def yes_probability(
    strike_type: str, floor_strike: float | None, cap_strike: float | None, mu: float, sigma: float, tick: float = 0.0
) -> float:
    """P(the contract settles YES) under Normal(mu, sigma) on a grid of `tick`; NaN for unmodelled strikes."""
    if not (sigma > 0 and math.isfinite(mu)):
        return float("nan")

    # scipy's norm.sf(z) is ndtr(-z) and norm.cdf(z) is ndtr(z); the ufunc on a float skips the ~50 us
    # of argument handling norm.* spends per call (this runs once per contract, candidate and fold).
    def above(b: float) -> float:
        return float(ndtr(-((b - mu) / sigma)))

    def below(b: float) -> float:
        return float(ndtr((b - mu) / sigma))

    def has(value: float | None) -> bool:
        return value is not None and math.isfinite(float(value))

    if strike_type in ("greater", "greater_or_equal") and has(floor_strike):
        return above(_lower_edge(float(floor_strike), tick, strike_type == "greater_or_equal"))  # type: ignore[arg-type]
    if strike_type in ("less", "less_or_equal") and has(cap_strike):
        return below(_upper_edge(float(cap_strike), tick, strike_type == "less_or_equal"))  # type: ignore[arg-type]
    if strike_type == "between" and has(floor_strike) and has(cap_strike):
        low = _lower_edge(float(floor_strike), tick, True)  # type: ignore[arg-type]
        high = _upper_edge(float(cap_strike), tick, True)  # type: ignore[arg-type]
        return max(below(high) - below(low), 0.0)
    return float("nan")


def settles_yes(strike_type: str, floor_strike: float | None, cap_strike: float | None, value: float) -> bool | None:
    """Whether a contract settles YES on the released value (Kalshi's strike semantics); None if unmodelled."""
    if value is None or not math.isfinite(float(value)):
        return None
    v = float(value)
    if strike_type == "greater" and floor_strike is not None and math.isfinite(floor_strike):
        return v > floor_strike
    if strike_type == "greater_or_equal" and floor_strike is not None and math.isfinite(floor_strike):
        return v >= floor_strike
    if strike_type == "less" and cap_strike is not None and math.isfinite(cap_strike):
        return v < cap_strike
    if strike_type == "less_or_equal" and cap_strike is not None and math.isfinite(cap_strike):
        return v <= cap_strike
    if strike_type == "between" and None not in (floor_strike, cap_strike):
        return floor_strike <= v <= cap_strike  # type: ignore[operator]
    return None


# --- one event's trades ----------------------------------------------------------------------------


def _num(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


SIGNAL_COLUMNS: tuple[str, ...] = (
    "market_ticker", "strike_type", "floor_strike", "cap_strike", "side", "price", "size", "fee", "p_model",
    "edge", "window_volume", "open_interest", "capacity_contracts", "size_limited_by",
)


def decide_trades(
    ladder: pd.DataFrame,
    mu: float,
    sigma: float,
    tick: float,
    candidate: Candidate,
    fee_multiplier: Decimal | float = 1,
) -> pd.DataFrame:
    """Signals on one event's ladder: at most one side per contract, where the edge after fee beats the threshold.

    `ladder` rows: market_ticker, strike_type, floor_strike, cap_strike, yes_bid, yes_ask, window_volume,
    open_interest. Returned rows carry `size` (0 when capacity allowed nothing) and `size_limited_by`.
    """
    rows = _signals(list(ladder.itertuples(index=False)), mu, sigma, tick, candidate, fee_multiplier)
    signals = pd.DataFrame(rows, columns=list(SIGNAL_COLUMNS))
    signals[["floor_strike", "cap_strike"]] = signals[["floor_strike", "cap_strike"]].astype(float)
    return signals


def _signals(
    contracts: Sequence[object], mu: float, sigma: float, tick: float, candidate: Candidate,
    fee_multiplier: Decimal | float,
) -> list[dict[str, object]]:
    """decide_trades on a ladder's rows (named tuples), as dicts: the walk-forward's inner loop."""
    rows: list[dict[str, object]] = []
    fee_mult = fee_multiplier if isinstance(fee_multiplier, Decimal) else Decimal(str(fee_multiplier))
    for contract in contracts:
        best = _best_offer(contract, mu, sigma, tick, candidate, fee_mult)
        if best is not None:
            rows.append(best)
    return rows


def _best_offer(
    contract: object, mu: float, sigma: float, tick: float, candidate: Candidate, fee_mult: Decimal
) -> dict[str, object] | None:
    """The side of one contract with the larger edge above the threshold, or None."""
    c = contract  # a named tuple of the ladder
    if c.strike_type not in candidate.strike_types:  # type: ignore[attr-defined]
        return None
    floor_strike, cap_strike = _num(c.floor_strike), _num(c.cap_strike)  # type: ignore[attr-defined]
    p_yes = yes_probability(str(c.strike_type), floor_strike, cap_strike, mu, sigma, tick)  # type: ignore[attr-defined]
    if math.isnan(p_yes):
        return None
    offers: list[tuple[str, Decimal, float]] = []
    ask = to_price(c.yes_ask) if _num(c.yes_ask) is not None else None  # type: ignore[attr-defined]
    if ask is not None and Decimal(0) < ask < Decimal(1):
        offers.append(("yes", ask, p_yes))
    bid = to_price(c.yes_bid) if _num(c.yes_bid) is not None else None  # type: ignore[attr-defined]
    if bid is not None and Decimal(0) < bid < Decimal(1):
        offers.append(("no", Decimal(1) - bid, 1.0 - p_yes))
    volume, open_interest = _num(c.window_volume) or 0.0, _num(c.open_interest) or 0.0  # type: ignore[attr-defined]
    capacity = capacity_contracts(volume, open_interest, candidate.capacity_share)
    best: dict[str, object] | None = None
    for side, price, belief in offers:
        by_notional = int(Decimal(str(candidate.max_order_notional)) / price)
        size = min(capacity, candidate.max_contracts, by_notional)
        limited_by = min(
            (("capacity", capacity), ("max_contracts", candidate.max_contracts), ("notional", by_notional)),
            key=lambda item: item[1],
        )[0]
        # The edge of a one-contract order when capacity is zero, so a blocked signal is still visible.
        fee = taker_fee(max(size, 1), price, fee_mult)
        edge = belief - float(price) - float(fee) / max(size, 1)
        if edge <= candidate.edge_threshold:
            continue
        if best is None or edge > float(best["edge"]):  # type: ignore[arg-type]
            best = {
                "market_ticker": c.market_ticker,  # type: ignore[attr-defined]
                "strike_type": c.strike_type,  # type: ignore[attr-defined]
                "floor_strike": floor_strike,
                "cap_strike": cap_strike,
                "side": side,
                "price": price,
                "size": int(size),
                "fee": fee if size > 0 else Decimal("0.00"),
                "p_model": belief,
                "edge": edge,
                "window_volume": volume,
                "open_interest": open_interest,
                "capacity_contracts": capacity,
                "size_limited_by": limited_by,
            }
    return best


def settle_trades(signals: pd.DataFrame, first_print: float, bankroll: float) -> pd.DataFrame:
    """P&L of filled signals (size > 0) on the first print; Decimal money, float returns."""
    filled = signals[signals["size"] > 0]
    settled = _settle(filled.to_dict("records"), first_print, bankroll)
    return pd.DataFrame(settled, columns=[*filled.columns, *SETTLEMENT_COLUMNS], index=filled.index)


SETTLEMENT_COLUMNS: tuple[str, ...] = ("won", "payout", "pnl", "cost", "trade_return", "bankroll_return", "first_print")


def _settle(signals: list[dict[str, object]], first_print: float, bankroll: float) -> list[dict[str, object]]:
    """settle_trades on signal dicts with size > 0: each gets the SETTLEMENT_COLUMNS."""
    out = []
    for trade in signals:
        yes = settles_yes(str(trade["strike_type"]), trade["floor_strike"], trade["cap_strike"], first_print)  # type: ignore[arg-type]
        if yes is None:
            raise ValueError(f"cannot settle {trade['market_ticker']} on {first_print}")
        side_wins = yes if trade["side"] == "yes" else not yes
        size = Decimal(int(trade["size"]))  # type: ignore[call-overload]
        trade_cost = size * trade["price"] + trade["fee"]  # type: ignore[operator]
        trade_payout = size if side_wins else Decimal(0)
        trade_pnl = trade_payout - trade_cost
        out.append(
            {
                **trade,
                "won": bool(side_wins),
                "payout": trade_payout.quantize(PRICE_QUANTUM),
                "pnl": trade_pnl.quantize(PRICE_QUANTUM),
                "cost": trade_cost.quantize(PRICE_QUANTUM),
                "trade_return": float(trade_pnl / trade_cost) if trade_cost > 0 else 0.0,
                "bankroll_return": float(trade_pnl) / bankroll,
                "first_print": float(first_print),
            }
        )
    return out


# --- the walk-forward ------------------------------------------------------------------------------


@dataclass
class WalkforwardRun:
    """Out-of-sample traces plus what was skipped and why (capacity reported honestly)."""

    traces: pd.DataFrame
    skipped: pd.DataFrame


def run_walkforward(
    roles: pd.DataFrame,
    features: pd.DataFrame,
    labels: pd.DataFrame,
    ladders: pd.DataFrame,
    candidates: Sequence[Candidate],
    fee_multipliers: Mapping[str, float] | None = None,
) -> WalkforwardRun:
    """Fit on each fold's train events, trade its test events, settle on the first print.

    roles: fold, event_ticker, role (from PurgedWalkForward.roles). features: event_ticker, event_type,
    release_time, horizon_days, as_of, implied_mean, implied_sd, optionally series_ticker and value_grid. labels: event_ticker, first_print.
    ladders: event_ticker, horizon_days, market_ticker, strike_type, floor_strike, cap_strike, yes_bid,
    yes_ask, window_volume, open_interest (quotes as of the features' asof). fee_multipliers: per
    event_ticker (1 when absent).
    """
    first_prints = labels.dropna(subset=["first_print"]).set_index("event_ticker")["first_print"].astype(float)
    feats = features.merge(first_prints.rename("first_print"), left_on="event_ticker", right_index=True, how="left")
    # Plain records, built once: the inner loop runs per fold x candidate x event and must not touch pandas.
    # One pass in row order (what groupby keeps within a group), one named-tuple class for all ladders.
    ladder_rows: dict[tuple[str, int], list[object]] = {}
    for row in ladders.itertuples(index=False):
        ladder_rows.setdefault((row.event_ticker, row.horizon_days), []).append(row)
    by_horizon = {int(h): group for h, group in feats.groupby("horizon_days")}
    event_rows = {h: {e.event_ticker: e for e in group.itertuples(index=False)} for h, group in by_horizon.items()}
    fee_multipliers = fee_multipliers or {}
    traces: list[dict[str, object]] = []
    skipped: list[dict[str, object]] = []
    for fold, fold_roles in roles.groupby("fold"):
        train_events = set(fold_roles.loc[fold_roles["role"] == "train", "event_ticker"])
        test_events = set(fold_roles.loc[fold_roles["role"] == "test", "event_ticker"])
        fits: dict[tuple[int, int], ReleaseModel] = {}
        for candidate in candidates:
            at_horizon = by_horizon.get(candidate.horizon_days, feats.iloc[0:0])
            key = (candidate.horizon_days, candidate.min_fit_events)
            if key not in fits:  # candidates of one horizon share the fold's fit
                fits[key] = fit_release_model(
                    at_horizon[at_horizon["event_ticker"].isin(train_events)], min_fit_events=candidate.min_fit_events
                )
            rows = event_rows.get(candidate.horizon_days, {})
            for ticker in [t for t in rows if t in test_events]:  # in the features' order
                base = {"candidate": candidate.name, "fold": int(fold), "event_ticker": ticker}
                traces.extend(
                    _trade_event(rows[ticker], base, fits[key], ladder_rows, candidate,
                                 fee_multipliers.get(ticker, 1.0), skipped)
                )
    trace_frame = pd.DataFrame(traces, columns=list(TRACE_COLUMNS))
    if not trace_frame.empty:
        trace_frame[["floor_strike", "cap_strike"]] = trace_frame[["floor_strike", "cap_strike"]].astype(float)
        trace_frame = trace_frame.sort_values(
            ["candidate", "release_time", "event_ticker", "market_ticker"], kind="mergesort"
        ).reset_index(drop=True)
    return WalkforwardRun(
        traces=trace_frame,
        skipped=pd.DataFrame(skipped, columns=["candidate", "fold", "event_ticker", "kind", "reason"]),
    )


def _trade_event(
    event: object,
    base: dict[str, object],
    model: ReleaseModel,
    ladder_rows: Mapping[tuple[str, int], list[object]],
    candidate: Candidate,
    fee_multiplier: float,
    skipped: list[dict[str, object]],
) -> list[dict[str, object]]:
    """One test event of one candidate: its settled trades as trace dicts; what it skips goes to `skipped`."""
    e = event  # a named tuple of the features (with first_print)
    if e.first_print is None or not math.isfinite(float(e.first_print)):  # type: ignore[attr-defined]
        skipped.append({**base, "kind": "no_first_print", "reason": "no first print yet"})
        return []
    mean, sd = _num(e.implied_mean), _num(e.implied_sd)  # type: ignore[attr-defined]
    if mean is None or sd is None or sd <= 0:
        skipped.append({**base, "kind": "no_distribution", "reason": "no implied distribution at as_of"})
        return []
    ladder = ladder_rows.get((e.event_ticker, candidate.horizon_days))  # type: ignore[attr-defined]
    if not ladder:
        skipped.append({**base, "kind": "no_quotes", "reason": "no fresh quotes at as_of"})
        return []
    mu, sigma, tick = model.params(model_key(e), mean, sd, _num(getattr(e, "value_grid", None)))
    signals = _signals(ladder, mu, sigma, tick, candidate, fee_multiplier)
    for signal in signals:
        if signal["size"] == 0:
            skipped.append(
                {**base, "kind": "no_capacity", "reason": f"edge on {signal['market_ticker']} but no capacity "
                 f"(window volume {signal['window_volume']:g}, open interest {signal['open_interest']:g})"}
            )
    filled = [signal for signal in signals if signal["size"] > 0]  # type: ignore[operator]
    extra = {**base, "event_type": e.event_type, "release_time": e.release_time,  # type: ignore[attr-defined]
             "horizon_days": candidate.horizon_days, "as_of": e.as_of}  # type: ignore[attr-defined]
    return [{**trade, **extra} for trade in _settle(filled, float(e.first_print), candidate.bankroll)]  # type: ignore[attr-defined]


def capacity_summary(traces: pd.DataFrame, skipped: pd.DataFrame) -> pd.DataFrame:
    """Per candidate: contracts traded, contracts that traded in the windows, share, trades capped by capacity."""
    rows = []
    names = sorted(set(traces["candidate"]) | set(skipped["candidate"])) if len(traces) or len(skipped) else []
    for name in names:
        mine = traces[traces["candidate"] == name]
        blocked = skipped[(skipped["candidate"] == name) & (skipped["kind"] == "no_capacity")]
        volume = float(mine["window_volume"].sum()) if len(mine) else 0.0
        contracts = int(mine["size"].sum()) if len(mine) else 0
        rows.append(
            {
                "candidate": name,
                "trades": len(mine),
                "contracts": contracts,
                "window_volume": volume,
                "share_of_volume": contracts / volume if volume > 0 else 0.0,
                "capped_by_capacity": int((mine["size_limited_by"] == "capacity").sum()) if len(mine) else 0,
                "blocked_no_capacity": len(blocked),
            }
        )
    # Typed even with no rows: a candidate that never traded is then filled with numbers, not objects.
    return pd.DataFrame(rows, columns=list(_CAPACITY_TYPES)).astype(_CAPACITY_TYPES)


_CAPACITY_TYPES = {"candidate": object, "trades": "int64", "contracts": "int64", "window_volume": "float64",
                   "share_of_volume": "float64", "capped_by_capacity": "int64", "blocked_no_capacity": "int64"}

