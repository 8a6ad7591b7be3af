"""Market-implied distributions from Kalshi ladders (docs/METHODS.md section 1), vectorized over snapshots.

Input: a long frame of rungs (one row per market and snapshot: the market's strike fields and its
latest quote at or before the snapshot time) and a frame of snapshots. Output: one row per snapshot
with the full SNAPSHOT_COLUMNS on every path, and the bins of every snapshot that could be computed.

The whole computation runs on flat numpy arrays segmented by snapshot; nothing loops over snapshots.
The only loop is the pool-adjacent-violators merge, which runs over all ladders at once and repeats
until no ladder has an adjacent violation (a handful of passes for real ladders).

Choices (docs/METHODS.md says "choice" for these) are parameters of `DistributionParams`.
Pure: no I/O, no dagster.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kalshi_assets.analytics.distribution_ladders import (
    antitonic_regression_segments as antitonic_regression_segments,  # public here too (tests, callers)
)
from kalshi_assets.analytics.distribution_ladders import (
    bin_ladders,
    bin_moments,
    count_in,
    segment_median,
    segment_starts,
    threshold_bins,
)
from kalshi_assets.analytics.snapshot_schema import (
    BIN_SCHEMA,
    CONSTRAINTS,
    DIRECTION_BINS,
    DIRECTION_CDF,
    DIRECTION_SURVIVAL,
    DIRECTION_SURVIVAL_AND_CDF,
    DIRECTION_UNRESOLVED,
    SNAPSHOT_SCHEMA,
    STATUS_DIRECTION_UNRESOLVED,
    STATUS_EMPTY_LADDER,
    STATUS_NO_USABLE_QUOTES,
    STATUS_OK,
    STATUS_TOO_FEW_RUNGS,
    STATUS_ZERO_TOTAL_MASS,
    STATUSES,
)

# Kalshi strike types a ladder can use; anything else (custom, functional, structured, missing) is
# unresolved. Codes index STRIKE_TYPES; -1 = unresolved.
STRIKE_TYPES: tuple[str, ...] = ("greater", "greater_or_equal", "less", "less_or_equal", "between")
_GT, _GE, _LT, _LE, _BT = range(5)

# Where a contract's probability came from (per rung); negative = excluded, with the reason.
SOURCE_MID = 1
SOURCE_LAST_TRADE = 2
EXCLUDED_MISSING = -1    # no quote and no trade at or before the snapshot
EXCLUDED_STALE = -2      # only quotes/trades older than max_staleness_hours
EXCLUDED_UNPRICED = -3   # a fresh book too wide or one-sided, and no fresh trade inside it

REQUIRED_RUNG_COLUMNS: tuple[str, ...] = (
    "strike_type",
    "floor_strike",
    "cap_strike",
    "yes_bid",
    "yes_ask",
    "last_price",
    "quote_age_hours",
    "last_trade_age_hours",
)
OPTIONAL_RUNG_COLUMNS: tuple[str, ...] = ("open_interest",)

_DIRECTION_NAMES = np.array(
    [DIRECTION_UNRESOLVED, DIRECTION_SURVIVAL, DIRECTION_CDF, DIRECTION_SURVIVAL_AND_CDF, DIRECTION_BINS],
    dtype=object,
)
_D_UNRESOLVED, _D_SURVIVAL, _D_CDF, _D_BOTH, _D_BINS = range(5)
_STATUS_NAMES = np.array(STATUSES, dtype=object)
_S_OK, _S_EMPTY, _S_UNRESOLVED, _S_NO_QUOTES, _S_TOO_FEW, _S_ZERO_MASS = (
    STATUSES.index(s)
    for s in (
        STATUS_OK,
        STATUS_EMPTY_LADDER,
        STATUS_DIRECTION_UNRESOLVED,
        STATUS_NO_USABLE_QUOTES,
        STATUS_TOO_FEW_RUNGS,
        STATUS_ZERO_TOTAL_MASS,
    )
)
# ";"-joined constraint names for every bitmask over CONSTRAINTS.
_CONSTRAINT_STRINGS = np.array(
    [";".join(c for b, c in enumerate(CONSTRAINTS) if mask >> b & 1) for mask in range(1 << len(CONSTRAINTS))],
    dtype=object,
)
_BIT = {c: 1 << i for i, c in enumerate(CONSTRAINTS)}


@dataclass(frozen=True)
class DistributionParams:
    """Tunable choices of docs/METHODS.md section 1."""

    max_spread: float = 0.10              # dollars; a wider book gives no mid
    max_staleness_hours: float = 6.0      # a quote or trade older than this is stale
    min_spread_for_weight: float = 0.01   # floor on the spread in the 1/spread^2 isotonic weight
    min_rungs: int = 3                    # fewer distinct priced rungs -> status too_few_rungs
    min_direction_confidence: float = 0.5  # share of contracts with a resolved strike_type
    value_grid: float | None = None       # the outcome's reporting grid (0.1 for CPI); None = continuous
    sum_tolerance: float = 0.02           # |sum of bin quotes - 1| above this violates masses_sum_to_one
    adjustment_scale: float = 0.25        # isotonic adjustment at which its quality ingredient hits 0
    renormalization_scale: float = 0.25   # |renormalization_delta| at which its ingredient hits 0
    tail_mass_scale: float = 0.5          # tail mass at which its ingredient hits 0
    depth_reference: float = 100.0        # open interest (contracts) that counts as full depth
    min_quality: float = 0.5              # quality_score below this sets quality_low

    def __post_init__(self) -> None:
        positive = ("max_spread", "max_staleness_hours", "min_spread_for_weight", "adjustment_scale",
                    "renormalization_scale", "tail_mass_scale", "depth_reference")
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and np.isfinite(value) and value > 0):
                raise ValueError(f"DistributionParams.{name} must be a positive number, got {value!r}")
        if not (isinstance(self.min_rungs, int) and self.min_rungs >= 2):
            raise ValueError(f"DistributionParams.min_rungs must be an integer >= 2, got {self.min_rungs!r}")
        for name in ("min_direction_confidence", "min_quality", "sum_tolerance"):
            value = getattr(self, name)
            if not (0 <= value <= 1):
                raise ValueError(f"DistributionParams.{name} must be in [0, 1], got {value!r}")
        if self.value_grid is not None and not (np.isfinite(self.value_grid) and self.value_grid >= 0):
            raise ValueError(f"DistributionParams.value_grid must be None or >= 0, got {self.value_grid!r}")


@dataclass(frozen=True)
class DistributionResult:
    """`snapshots`: one row per input snapshot (keys + SNAPSHOT_COLUMNS, in input order).
    `bins`: one row per bin of every snapshot with status ok (keys + BIN_COLUMNS)."""

    snapshots: pd.DataFrame
    bins: pd.DataFrame


# --- small pure pieces, public for tests ----------------------------------------------------------


def strike_type_codes(strike_types: Sequence[object] | np.ndarray | pd.Series) -> np.ndarray:
    """Code of each strike_type in STRIKE_TYPES (case and surrounding blanks ignored), -1 otherwise."""
    if isinstance(strike_types, pd.Series) and isinstance(strike_types.dtype, pd.CategoricalDtype):
        cat = strike_types.array  # already coded (the warehouse reads strike_type as an ENUM)
    else:
        cat = pd.Categorical(pd.Series(strike_types, dtype=object))
    lut = np.full(len(cat.categories) + 1, -1, dtype=np.int64)
    for i, name in enumerate(cat.categories):
        key = str(name).strip().lower()
        if key in STRIKE_TYPES:
            lut[i] = STRIKE_TYPES.index(key)
    return lut[np.asarray(cat.codes, dtype=np.int64)]  # code -1 (missing) reads the last entry, -1


def _all_within(values: np.ndarray, lo: float, hi: float) -> bool:
    """True when every non-NaN value lies in [lo, hi] (two reductions instead of a mask per value)."""
    if len(values) == 0:
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN input: nothing to check
        smallest, largest = np.nanmin(values), np.nanmax(values)
    return bool(np.isnan(smallest) or (smallest >= lo and largest <= hi))


def contract_probabilities(
    yes_bid: np.ndarray,
    yes_ask: np.ndarray,
    last_price: np.ndarray,
    quote_age_hours: np.ndarray,
    last_trade_age_hours: np.ndarray,
    params: DistributionParams = DistributionParams(),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Probability, isotonic weight, source code and two-sidedness of each contract.

    mid when both sides exist, the quote is fresh and the spread is <= max_spread; otherwise a fresh
    last trade inside [bid, ask] (a missing side bounds at 0 or 1); otherwise excluded (NaN, with a
    negative source code). Weight = 1 / max(spread, min_spread_for_weight)^2, using the book width
    (at least max_spread) for last-trade prices.
    """
    bid = np.asarray(yes_bid, dtype=np.float64)
    ask = np.asarray(yes_ask, dtype=np.float64)
    last = np.asarray(last_price, dtype=np.float64)
    qage = np.asarray(quote_age_hours, dtype=np.float64)
    tage = np.asarray(last_trade_age_hours, dtype=np.float64)
    for name, values in (("yes_bid", bid), ("yes_ask", ask), ("last_price", last)):
        if not _all_within(values, 0.0, 1.0):
            bad = ~np.isnan(values) & ~((values >= 0) & (values <= 1))
            raise ValueError(f"{name} must be a dollar price in [0, 1] or missing; "
                             f"{int(bad.sum())} values are not (first {values[bad][0]!r})")
    for name, values in (("quote_age_hours", qage), ("last_trade_age_hours", tage)):
        if not _all_within(values, 0.0, np.inf):
            bad = ~np.isnan(values) & ~(values >= 0)
            # A negative age is a quote from after the snapshot: look-ahead, never acceptable.
            raise ValueError(f"{name} must be >= 0 (a quote after the snapshot is look-ahead); "
                             f"{int(bad.sum())} values are not (first {values[bad][0]!r})")
    has_quote = ~np.isnan(qage)
    fresh_quote = has_quote & (qage <= params.max_staleness_hours)
    two_sided = fresh_quote & ~np.isnan(bid) & ~np.isnan(ask)
    spread = ask - bid
    with np.errstate(invalid="ignore"):
        mid_ok = two_sided & (spread >= 0) & (spread <= params.max_spread + 1e-12)
        lo = np.where(np.isnan(bid), 0.0, bid)
        hi = np.where(np.isnan(ask), 1.0, ask)
        trade_fresh = ~np.isnan(last) & (tage <= params.max_staleness_hours)
        last_ok = ~mid_ok & trade_fresh & (last >= lo) & (last <= hi)
    prob = np.where(mid_ok, 0.5 * (bid + ask), np.where(last_ok, last, np.nan))
    effective_spread = np.where(mid_ok, spread, np.maximum(hi - lo, params.max_spread))
    weight = 1.0 / np.maximum(effective_spread, params.min_spread_for_weight) ** 2
    source = np.full(len(prob), EXCLUDED_UNPRICED, dtype=np.int64)
    source[~fresh_quote & ~trade_fresh] = EXCLUDED_STALE
    source[~has_quote & np.isnan(tage)] = EXCLUDED_MISSING
    source[last_ok] = SOURCE_LAST_TRADE
    source[mid_ok] = SOURCE_MID
    return prob, np.where(np.isnan(prob), np.nan, weight), source, two_sided


# --- the vectorized core, in named stages ----------------------------------------------------------


@dataclass(frozen=True)
class _Rungs:
    """Per rung: the snapshot it belongs to (`seg`), its strike fields, its price and how it resolved."""

    seg: np.ndarray
    stype: np.ndarray
    floor: np.ndarray
    cap: np.ndarray
    res_g: np.ndarray    # a greater / greater_or_equal rung with a finite floor
    res_l: np.ndarray    # a less / less_or_equal rung with a finite cap
    res_b: np.ndarray    # a between rung with floor <= cap
    prob: np.ndarray
    weight: np.ndarray
    used: np.ndarray     # resolved and priced


def _empty_columns(n: int) -> dict[str, np.ndarray]:
    """Every snapshot column at its value for a snapshot that could not be computed."""
    out: dict[str, np.ndarray] = {}
    for name, kind in SNAPSHOT_SCHEMA:
        if kind == "f":
            out[name] = np.full(n, np.nan)
        elif kind == "i":
            out[name] = np.zeros(n, dtype=np.int64)
        elif kind == "b":
            out[name] = np.ones(n, dtype=bool) if name == "bin_support_is_ordered" else np.zeros(n, dtype=bool)
    return out


def _directions(seg: np.ndarray, stype: np.ndarray, floor: np.ndarray, cap: np.ndarray, n: int,
                params: DistributionParams, out: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Direction, per rung then per snapshot, from strike_type and the strike fields only.
    Returns (res_g, res_l, res_b, resolved) per rung and the direction code per snapshot."""
    is_g = (stype == _GT) | (stype == _GE)
    is_l = (stype == _LT) | (stype == _LE)
    res_g = is_g & np.isfinite(floor)
    res_l = is_l & np.isfinite(cap)
    with np.errstate(invalid="ignore"):
        res_b = (stype == _BT) & np.isfinite(floor) & np.isfinite(cap) & (floor <= cap)
    resolved = res_g | res_l | res_b
    n_contracts = np.bincount(seg, minlength=n).astype(np.int64)
    n_resolved = count_in(seg, resolved, n)
    n_g, n_l, n_b = count_in(seg, res_g, n), count_in(seg, res_l, n), count_in(seg, res_b, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.where(n_contracts > 0, n_resolved / np.maximum(n_contracts, 1), 0.0)
    direction = np.full(n, _D_UNRESOLVED, dtype=np.int64)
    direction[(n_b == 0) & (n_g > 0) & (n_l == 0)] = _D_SURVIVAL
    direction[(n_b == 0) & (n_g == 0) & (n_l > 0)] = _D_CDF
    direction[(n_b == 0) & (n_g > 0) & (n_l > 0)] = _D_BOTH
    direction[n_b > 0] = _D_BINS
    direction[(n_resolved == 0) | (confidence < params.min_direction_confidence)] = _D_UNRESOLVED
    out["n_contracts"] = n_contracts
    out["n_resolved"] = n_resolved
    out["direction_confidence"] = confidence
    return res_g, res_l, res_b, resolved, direction


def _price_columns(seg: np.ndarray, resolved: np.ndarray, floor: np.ndarray, cap: np.ndarray, bid: np.ndarray,
                   ask: np.ndarray, last: np.ndarray, quote_age: np.ndarray, trade_age: np.ndarray,
                   depth: np.ndarray, n: int, params: DistributionParams,
                   out: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each rung's probability and weight, and the per-snapshot counts, shares and medians of the
    quotes used. Returns (prob, weight, used) per rung."""
    prob, weight, source, two_sided = contract_probabilities(bid, ask, last, quote_age, trade_age, params)
    used = resolved & (source > 0)
    n_contracts = out["n_contracts"]
    out["n_quotes_used"] = n_used = count_in(seg, used, n)
    out["n_quotes_mid"] = count_in(seg, resolved & (source == SOURCE_MID), n)
    out["n_quotes_last_trade"] = count_in(seg, resolved & (source == SOURCE_LAST_TRADE), n)
    out["n_excluded_missing"] = count_in(seg, resolved & (source == EXCLUDED_MISSING), n)
    out["n_excluded_stale"] = count_in(seg, resolved & (source == EXCLUDED_STALE), n)
    out["n_excluded_unpriced"] = count_in(seg, resolved & (source == EXCLUDED_UNPRICED), n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["coverage_share"] = np.where(n_contracts > 0, n_used / np.maximum(n_contracts, 1), 0.0)
        out["two_sided_share"] = np.where(n_used > 0, count_in(seg, used & two_sided, n) / np.maximum(n_used, 1),
                                          np.nan)
    spread = np.where(used & two_sided, ask - bid, np.nan)
    out["median_spread"] = segment_median(seg, spread, n)
    out["median_quote_age_hours"] = segment_median(seg, np.where(used, quote_age, np.nan), n)
    out["median_depth"] = segment_median(seg, np.where(used, depth, np.nan), n)
    fin_floor, fin_cap = np.isfinite(floor), np.isfinite(cap)
    strikes_lo = np.where(used & fin_floor, floor, np.where(used & fin_cap, cap, np.inf))
    strikes_hi = np.where(used & fin_cap, cap, np.where(used & fin_floor, floor, -np.inf))
    smin = np.full(n, np.inf)
    smax = np.full(n, -np.inf)
    np.minimum.at(smin, seg, strikes_lo)
    np.maximum.at(smax, seg, strikes_hi)
    out["strike_min"] = np.where(np.isfinite(smin), smin, np.nan)
    out["strike_max"] = np.where(np.isfinite(smax), smax, np.nan)
    return prob, weight, used


def _value_grid(rungs: _Rungs, grid: np.ndarray, is_bins: np.ndarray, n: int) -> np.ndarray:
    """The value grid: given per snapshot, else continuous for threshold ladders and, for bins, the
    smallest positive step between one bin's cap and the next bin's floor (1-degree weather bins)."""
    seg, floor, cap = rungs.seg, rungs.floor, rungs.cap
    g = np.where(np.isfinite(grid), grid, np.nan)
    need_infer = is_bins & np.isnan(g)
    b_idx = np.flatnonzero(rungs.res_b & need_infer[seg])
    if len(b_idx):
        order = b_idx[np.lexsort((cap[b_idx], floor[b_idx], seg[b_idx]))]
        step = floor[order][1:] - cap[order][:-1]
        ok_step = (seg[order][1:] == seg[order][:-1]) & (step > 1e-9)
        gmin = np.full(n, np.inf)
        np.minimum.at(gmin, seg[order][1:][ok_step], step[ok_step])
        g = np.where(need_infer, np.where(np.isfinite(gmin), gmin, 0.0), g)
    return np.where(np.isnan(g), 0.0, g)


def _ladder_bins(rungs: _Rungs, g: np.ndarray, is_bins: np.ndarray, n: int, params: DistributionParams,
                 out: dict[str, np.ndarray], status: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Bins of every snapshot still ok, threshold and bin ladders alike, sorted by snapshot; and, per
    snapshot, whether its repaired survival function still rises."""
    seg, stype, floor, cap = rungs.seg, rungs.stype, rungs.floor, rungs.cap
    res_g, res_l, res_b = rungs.res_g, rungs.res_l, rungs.res_b
    half = 0.5 * g[seg]
    # Cuts in value coordinates: a grid outcome x stands for the interval [x - g/2, x + g/2], so each
    # strike's tie rule (X > k vs X >= k) moves its cut by half a grid step.
    cut = np.select(
        [stype == _GT, stype == _GE, stype == _LT, stype == _LE],
        [floor + half, floor - half, cap - half, cap + half],
        default=np.nan,
    )
    live = status == _S_OK
    thr = rungs.used & live[seg] & ~is_bins[seg] & (res_g | res_l)
    surv = np.where(res_g, rungs.prob, 1.0 - rungs.prob)
    *t_bins, post_monotone_broken = threshold_bins(seg[thr], cut[thr], surv[thr], rungs.weight[thr], n, params,
                                                   out, status)

    bsel = rungs.used & live[seg] & is_bins[seg]
    b_lo = np.where(res_b, floor - half, np.where(res_g, cut, -np.inf))
    b_hi = np.where(res_b, cap + half, np.where(res_l, cut, np.inf))
    width_all = np.where(res_b & is_bins[seg], cap - floor + 2 * half, np.nan)
    wsum = np.bincount(seg, weights=np.nan_to_num(width_all), minlength=n)
    wcnt = count_in(seg, ~np.isnan(width_all), n)
    fallback_width = np.where(wcnt > 0, wsum / np.maximum(wcnt, 1), 0.0)
    b_bins = bin_ladders(seg[bsel], b_lo[bsel], b_hi[bsel], rungs.prob[bsel], fallback_width, n, params, out, status)

    # One bins table for both kinds; segments are disjoint, so a stable sort by segment keeps order.
    merged = [np.concatenate([a, b]) for a, b in zip(t_bins, b_bins, strict=True)]
    order = np.argsort(merged[0], kind="stable")
    return tuple(column[order] for column in merged), post_monotone_broken


def _constraints(direction: np.ndarray, ok: np.ndarray, has_bins: np.ndarray, total: np.ndarray,
                 post_monotone_broken: np.ndarray, n: int, params: DistributionParams,
                 out: dict[str, np.ndarray]) -> np.ndarray:
    """Constraints violated before and after repair; returns the bitmask after repair."""
    bins_dir = direction == _D_BINS
    delta = out["renormalization_delta"]
    pre = np.zeros(n, dtype=np.int64)
    pre |= np.where(out["monotonic_violations_pre"] > 0, _BIT["survival_monotone"], 0)
    pre |= np.where(bins_dir & (np.abs(np.nan_to_num(delta)) > params.sum_tolerance), _BIT["masses_sum_to_one"], 0)
    structural = np.zeros(n, dtype=np.int64)
    structural |= np.where(bins_dir & ~out["bin_support_is_ordered"], _BIT["bins_ordered"], 0)
    structural |= np.where(out["bin_overlap_count"] > 0, _BIT["bins_disjoint"], 0)
    structural |= np.where(out["bin_gap_count"] > 0, _BIT["bins_contiguous"], 0)
    pre |= structural
    post = structural.copy()
    post |= np.where(post_monotone_broken, _BIT["survival_monotone"], 0)
    post |= np.where(ok & has_bins & (np.abs(total - 1.0) > 1e-9), _BIT["masses_sum_to_one"], 0)
    post = np.where(ok, post, pre)  # nothing was repaired on a snapshot that could not be computed
    out["violated_constraints_pre"] = _CONSTRAINT_STRINGS[pre]
    out["violated_constraints_post"] = _CONSTRAINT_STRINGS[post]
    return post


def _quality(post: np.ndarray, ok: np.ndarray, params: DistributionParams, out: dict[str, np.ndarray]) -> None:
    """Quality: each ingredient scored into [0, 1], averaged, halved per constraint still violated."""
    delta = out["renormalization_delta"]
    ingredients = np.vstack([
        out["coverage_share"],
        np.nan_to_num(out["two_sided_share"], nan=0.0),
        np.nan_to_num(1.0 - np.clip(out["median_spread"] / params.max_spread, 0, 1), nan=0.0),
        np.nan_to_num(1.0 - np.clip(out["median_quote_age_hours"] / params.max_staleness_hours, 0, 1), nan=0.0),
        1.0 - np.clip(np.nan_to_num(out["isotonic_adjustment_magnitude"], nan=1e9) / params.adjustment_scale, 0, 1),
        1.0 - np.clip(np.abs(np.nan_to_num(delta, nan=1e9)) / params.renormalization_scale, 0, 1),
        1.0 - np.clip(np.nan_to_num(out["tail_mass"], nan=1e9) / params.tail_mass_scale, 0, 1),
        np.clip(out["median_depth"] / params.depth_reference, 0, 1),  # NaN when depth is unknown: left out
        out["direction_confidence"],
    ])
    with np.errstate(invalid="ignore"):
        base_score = np.nanmean(ingredients, axis=0)
    n_post = np.array([bin(int(v)).count("1") for v in range(1 << len(CONSTRAINTS))])[post]
    score = np.where(ok, base_score * 0.5**n_post, 0.0)
    out["quality_score"] = np.clip(score, 0.0, 1.0)
    out["quality_low"] = ~ok | (score < params.min_quality) | (n_post > 0)


def _bins_table(bins: tuple[np.ndarray, ...], cdf: np.ndarray, ok: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """The bins of snapshots with status ok only, as BIN_SCHEMA columns plus `_seg`."""
    bseg, blo, bhi, bmass, btail_lo, btail_hi = bins
    keep = ok[bseg]
    bseg, blo, bhi, bmass, cdf = bseg[keep], blo[keep], bhi[keep], bmass[keep], cdf[keep]
    bin_starts, _ = segment_starts(bseg, n)
    return {
        "_seg": bseg,
        "bin_index": (np.arange(len(bseg)) - bin_starts[bseg]).astype(np.int64),
        "lower_edge": blo,
        "upper_edge": bhi,
        "support_point": 0.5 * (blo + bhi),
        "mass": bmass,
        "cdf_upper": cdf,
        "survival_upper": np.clip(1.0 - cdf, 0.0, 1.0),
        "is_open_tail": (btail_lo | btail_hi)[keep],
    }


def _compute(
    seg: np.ndarray,
    stype: np.ndarray,
    floor: np.ndarray,
    cap: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    last: np.ndarray,
    quote_age: np.ndarray,
    trade_age: np.ndarray,
    depth: np.ndarray,
    grid: np.ndarray,
    n: int,
    params: DistributionParams,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """All snapshots at once. `seg` maps each rung to its snapshot 0..n-1; `grid` is per snapshot."""
    out = _empty_columns(n)
    res_g, res_l, res_b, resolved, direction = _directions(seg, stype, floor, cap, n, params, out)
    prob, weight, used = _price_columns(seg, resolved, floor, cap, bid, ask, last, quote_age, trade_age, depth,
                                        n, params, out)
    rungs = _Rungs(seg, stype, floor, cap, res_g, res_l, res_b, prob, weight, used)

    status = np.full(n, _S_OK, dtype=np.int64)
    status[out["n_contracts"] == 0] = _S_EMPTY
    status[(out["n_contracts"] > 0) & (direction == _D_UNRESOLVED)] = _S_UNRESOLVED
    status[(status == _S_OK) & (out["n_quotes_used"] == 0)] = _S_NO_QUOTES

    is_bins = direction == _D_BINS
    out["value_grid"] = g = _value_grid(rungs, grid, is_bins, n)
    bins, post_monotone_broken = _ladder_bins(rungs, g, is_bins, n, params, out, status)
    ok = status == _S_OK
    has_bins, total, cdf = bin_moments(bins, ok, n, out)
    post = _constraints(direction, ok, has_bins, total, post_monotone_broken, n, params, out)
    _quality(post, ok, params, out)
    out["status"] = _STATUS_NAMES[status]
    out["direction"] = _DIRECTION_NAMES[direction]
    out["direction_source"] = np.where(direction == _D_UNRESOLVED, "unresolved", "strike_type").astype(object)
    return out, _bins_table(bins, cdf, ok, n)


# --- frame entry points ----------------------------------------------------------------------------


def _float_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    try:
        return pd.to_numeric(frame[name], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"rung column {name} must be numeric: {exc}") from exc


def implied_distributions(
    rungs: pd.DataFrame,
    snapshots: pd.DataFrame,
    key_columns: Sequence[str] = ("event_ticker", "snapshot_ts"),
    params: DistributionParams = DistributionParams(),
) -> DistributionResult:
    """Implied distributions of many snapshots at once.

    `snapshots`: one row per snapshot with `key_columns` (unique) and optionally `value_grid`.
    `rungs`: one row per (snapshot, market) with REQUIRED_RUNG_COLUMNS (prices in dollars, NaN when
    missing; ages in hours since the quote/last trade at or before the snapshot, NaN when none), and
    either `snapshot_id` (the row position in `snapshots`) or the `key_columns`. Optional:
    `open_interest` (depth). A snapshot without rungs is an empty ladder and still gets its full row.
    """
    keys = list(key_columns)
    missing_keys = [k for k in keys if k not in snapshots.columns]
    if missing_keys:
        raise ValueError(f"snapshots frame lacks key columns {missing_keys}")
    missing = [c for c in REQUIRED_RUNG_COLUMNS if c not in rungs.columns]
    if missing and len(rungs) == 0:
        rungs = pd.DataFrame({c: pd.Series([], dtype=object) for c in (*REQUIRED_RUNG_COLUMNS, "snapshot_id")})
        rungs["snapshot_id"] = rungs["snapshot_id"].astype(np.int64)
    elif missing:
        raise ValueError(f"rungs frame lacks columns {missing}")
    n = len(snapshots)
    if keys and snapshots.duplicated(keys).any():
        raise ValueError(f"snapshots frame has duplicate keys {keys}")
    if "snapshot_id" in rungs.columns:
        seg = pd.to_numeric(rungs["snapshot_id"], errors="raise").to_numpy()
        if len(seg) and (seg.dtype.kind not in "iu" or seg.min() < 0 or seg.max() >= n):
            raise ValueError(f"rungs.snapshot_id must be integer row positions in [0, {n}) of the snapshots frame")
        seg = seg.astype(np.int64)
    else:
        missing_keys = [k for k in keys if k not in rungs.columns]
        if missing_keys or not keys:
            raise ValueError(f"rungs frame needs snapshot_id or the key columns {keys}")
        index = pd.MultiIndex.from_frame(snapshots[keys])
        seg = index.get_indexer(pd.MultiIndex.from_frame(rungs[keys])).astype(np.int64)
        if (seg < 0).any():
            raise ValueError(f"{int((seg < 0).sum())} rungs belong to no snapshot of the snapshots frame")

    grid_default = np.nan if params.value_grid is None else float(params.value_grid)
    if "value_grid" in snapshots.columns:
        grid = pd.to_numeric(snapshots["value_grid"]).to_numpy(dtype=np.float64, na_value=np.nan)
        grid = np.where(np.isnan(grid), grid_default, grid)
        if np.any(grid < 0):
            raise ValueError("snapshots.value_grid must be >= 0")
    else:
        grid = np.full(n, grid_default)

    out, bins = _compute(
        seg,
        strike_type_codes(rungs["strike_type"].to_numpy(dtype=object)),
        _float_column(rungs, "floor_strike"),
        _float_column(rungs, "cap_strike"),
        _float_column(rungs, "yes_bid"),
        _float_column(rungs, "yes_ask"),
        _float_column(rungs, "last_price"),
        _float_column(rungs, "quote_age_hours"),
        _float_column(rungs, "last_trade_age_hours"),
        _float_column(rungs, "open_interest"),
        grid,
        n,
        params,
    )
    key_frame = snapshots[keys].reset_index(drop=True)
    snap = pd.concat([key_frame, pd.DataFrame({name: out[name] for name, _ in SNAPSHOT_SCHEMA})], axis=1)
    bin_keys = key_frame.iloc[bins["_seg"]].reset_index(drop=True)
    bin_frame = pd.concat([bin_keys, pd.DataFrame({name: bins[name] for name, _ in BIN_SCHEMA})], axis=1)
    return DistributionResult(snapshots=snap, bins=bin_frame)


def implied_distribution(
    ladder: pd.DataFrame, params: DistributionParams = DistributionParams(), value_grid: float | None = None
) -> DistributionResult:
    """One ladder (one snapshot): the same vectorized core with a single segment."""
    rungs = ladder.assign(snapshot_id=np.zeros(len(ladder), dtype=np.int64))
    snapshots = pd.DataFrame({"value_grid": [np.nan if value_grid is None else float(value_grid)]})
    return implied_distributions(rungs, snapshots, key_columns=(), params=params)
