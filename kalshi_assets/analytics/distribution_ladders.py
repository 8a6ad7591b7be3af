"""Ladder repair for implied distributions (docs/METHODS.md section 1): the pool-adjacent-violators fit,
threshold ladders turned into bins, bin ladders validated and renormalized, the moments and quantiles of
the bins; segment helpers.

All on flat numpy arrays segmented by snapshot (`seg`), like analytics/distribution.py, whose core calls
these. Pure: no I/O, no dagster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kalshi_assets.analytics.snapshot_schema import (
    QUANTILE_COLUMNS,
    QUANTILE_LEVELS,
    STATUS_TOO_FEW_RUNGS,
    STATUS_ZERO_TOTAL_MASS,
    STATUSES,
)

if TYPE_CHECKING:
    from kalshi_assets.analytics.distribution import DistributionParams

# Status codes are positions in STATUSES (as in analytics/distribution.py).
_S_TOO_FEW = STATUSES.index(STATUS_TOO_FEW_RUNGS)
_S_ZERO_MASS = STATUSES.index(STATUS_ZERO_TOTAL_MASS)

def antitonic_regression_segments(y: np.ndarray, w: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Weighted non-increasing least-squares fit within each segment, all segments at once.

    Pool-adjacent-violators: every pass merges, in every segment, each maximal run of adjacent blocks
    whose means increase (merging any adjacent violators in any order reaches the unique optimum, and a
    run of violators stays violating as it is merged left to right). `seg` must be sorted; within a
    segment the order of `y` is the order of the constraint. Weights must be positive.
    """
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    seg = np.asarray(seg)
    n = len(y)
    if not (len(w) == n == len(seg)):
        raise ValueError("y, w and seg must have one length")
    if n == 0:
        return y.copy()
    if not np.all(w > 0):
        raise ValueError("isotonic weights must be positive")
    if np.any(seg[1:] < seg[:-1]):
        raise ValueError("seg must be sorted")
    block_sum = w * y
    block_weight = w.copy()
    block_seg = seg.copy()
    block_start = np.arange(n)
    while True:
        mean = block_sum / block_weight
        violates = (block_seg[1:] == block_seg[:-1]) & (mean[1:] > mean[:-1])
        if not violates.any():
            break
        starts_block = np.ones(len(mean), dtype=bool)
        starts_block[1:] = ~violates
        group = np.cumsum(starts_block) - 1
        block_sum = np.bincount(group, weights=block_sum)
        block_weight = np.bincount(group, weights=block_weight)
        block_seg = block_seg[starts_block]
        block_start = block_start[starts_block]
    lengths = np.diff(np.append(block_start, n))
    return np.repeat(mean, lengths)


def segment_starts(seg: np.ndarray, n_segments: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(seg, minlength=n_segments)
    return np.cumsum(counts) - counts, counts


def segment_cumsum(seg: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Running sum of `values` within each segment (`seg` sorted), added in order from the segment's first
    value: the same floats whatever the segment's position in the batch (a global cumsum minus each
    segment's base is not, once the batch holds thousands of snapshots)."""
    if not len(values):
        return np.asarray(values, dtype=float)
    return pd.Series(values, dtype=float).groupby(seg, sort=False).cumsum().to_numpy()


def segment_median(seg: np.ndarray, values: np.ndarray, n_segments: int) -> np.ndarray:
    """Median of `values` per segment (NaN ignored; NaN for a segment without values)."""
    keep = ~np.isnan(values)
    seg, values = seg[keep], values[keep]
    order = np.lexsort((values, seg))
    seg, values = seg[order], values[order]
    starts, counts = segment_starts(seg, n_segments)
    out = np.full(n_segments, np.nan)
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    out[has] = 0.5 * (values[lo] + values[hi])
    return out


def is_sorted_by(seg: np.ndarray, *keys: np.ndarray) -> bool:
    """True when rows are already in lexicographic order of (seg, *keys): the sort can be skipped."""
    if len(seg) < 2:
        return True
    ahead = seg[1:] > seg[:-1]
    tie = seg[1:] == seg[:-1]
    for key in keys:
        ahead |= tie & (key[1:] > key[:-1])
        tie &= key[1:] == key[:-1]
    return bool(np.all(ahead | tie))


def count_in(seg: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(seg[mask], minlength=n).astype(np.int64)



def threshold_bins(
    seg: np.ndarray, cut: np.ndarray, surv: np.ndarray, weight: np.ndarray, n: int, params: DistributionParams,
    out: dict[str, np.ndarray], status: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Repair threshold ladders and turn them into bins. Inputs are the priced threshold rungs of
    snapshots still ok, in value coordinates (cut) with S(cut). Returns bin arrays."""
    if not is_sorted_by(seg, cut):
        order = np.lexsort((cut, seg))
        seg, cut, surv, weight = seg[order], cut[order], surv[order], weight[order]
    # Two rungs on one cut (greater 3 and less_or_equal 3) state one S value: pool them by weight.
    dup = np.zeros(len(seg), dtype=bool)
    dup[1:] = (seg[1:] == seg[:-1]) & (np.abs(cut[1:] - cut[:-1]) <= 1e-12 * (1 + np.abs(cut[1:])))
    group = np.cumsum(~dup) - 1
    wsum = np.bincount(group, weights=weight)
    surv = np.bincount(group, weights=weight * surv) / wsum
    weight, seg, cut = wsum, seg[~dup], cut[~dup]

    distinct = np.bincount(seg, minlength=n)
    too_few = (distinct > 0) & (distinct < params.min_rungs)
    status[too_few] = _S_TOO_FEW
    keep = ~too_few[seg]
    seg, cut, surv, weight = seg[keep], cut[keep], surv[keep], weight[keep]
    computed = np.bincount(seg, minlength=n) > 0

    same = seg[1:] == seg[:-1]
    rise = np.where(same, surv[1:] - surv[:-1], 0.0)
    violating = rise > 1e-12
    out["monotonic_violations_pre"] += count_in(seg[1:], violating, n)
    out["monotonic_violation_magnitude"][computed] = np.bincount(
        seg[1:], weights=np.where(violating, rise, 0.0), minlength=n)[computed]
    # Only ladders with a violation need the pool-adjacent-violators passes.
    needs_repair = (out["monotonic_violations_pre"] > 0)[seg]
    repaired = surv.copy()
    repaired[needs_repair] = antitonic_regression_segments(surv[needs_repair], weight[needs_repair], seg[needs_repair])
    repaired = np.clip(repaired, 0.0, 1.0)
    out["isotonic_adjustment_magnitude"][computed] = np.bincount(
        seg, weights=np.abs(repaired - surv), minlength=n)[computed]
    out["renormalization_delta"][computed] = 0.0  # bins from a ladder sum to 1 by construction
    out["bin_gap_mass_estimate"][computed] = 0.0  # and are contiguous by construction
    post_rise = np.where(same, repaired[1:] - repaired[:-1], 0.0) > 1e-12
    post_monotone_broken = count_in(seg[1:], post_rise, n) > 0

    # Bins: P(X <= k1) = 1 - S1, P(k_i < X <= k_i+1) = S_i - S_i+1, P(X > kn) = Sn.
    m = len(seg)
    first = np.ones(m, dtype=bool)
    first[1:] = ~same
    last = np.ones(m, dtype=bool)
    last[:-1] = ~same
    rank = np.cumsum(first) - 1                      # ordinal of the segment among threshold segments
    next_cut = np.append(cut[1:], np.nan)
    prev_cut = np.insert(cut[:-1], 0, np.nan)
    prev_surv = np.insert(repaired[:-1], 0, np.nan)
    lower = np.where(first, cut - 2.0 * (next_cut - cut), prev_cut)
    mass = np.where(first, 1.0 - repaired, prev_surv - repaired)
    n_out = m + int(first.sum())
    b_seg = np.empty(n_out, dtype=np.int64)
    b_lo = np.empty(n_out)
    b_hi = np.empty(n_out)
    b_mass = np.empty(n_out)
    b_tail_lo = np.zeros(n_out, dtype=bool)
    b_tail_hi = np.zeros(n_out, dtype=bool)
    pos = np.arange(m) + rank
    b_seg[pos], b_lo[pos], b_hi[pos], b_mass[pos], b_tail_lo[pos] = seg, lower, cut, mass, first
    tail_pos = np.flatnonzero(last) + rank[last] + 1
    width_last = cut[last] - prev_cut[last]
    b_seg[tail_pos] = seg[last]
    b_lo[tail_pos] = cut[last]
    b_hi[tail_pos] = cut[last] + 2.0 * width_last
    b_mass[tail_pos] = repaired[last]
    b_tail_hi[tail_pos] = True
    return b_seg, b_lo, b_hi, np.maximum(b_mass, 0.0), b_tail_lo, b_tail_hi, post_monotone_broken


def bin_ladders(
    seg: np.ndarray, lo: np.ndarray, hi: np.ndarray, r: np.ndarray, fallback_width: np.ndarray, n: int,
    params: DistributionParams, out: dict[str, np.ndarray], status: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Validate and renormalize mutually exclusive bins (open tails have an infinite edge)."""
    if not is_sorted_by(seg, lo, hi):
        order = np.lexsort((hi, lo, seg))
        seg, lo, hi, r = seg[order], lo[order], hi[order], r[order]
    counts = np.bincount(seg, minlength=n)
    too_few = (counts > 0) & (counts < params.min_rungs)
    total = np.bincount(seg, weights=r, minlength=n)
    zero = (counts > 0) & ~too_few & (total <= 0)
    status[too_few] = _S_TOO_FEW
    status[zero] = _S_ZERO_MASS
    keep = ~(too_few | zero)[seg]
    seg, lo, hi, r = seg[keep], lo[keep], hi[keep], r[keep]
    computed = np.bincount(seg, minlength=n) > 0
    out["renormalization_delta"][computed] = total[computed] - 1.0
    out["isotonic_adjustment_magnitude"][computed] = 0.0
    out["monotonic_violation_magnitude"][computed] = 0.0
    mass = r / total[seg]

    same = seg[1:] == seg[:-1]
    scale = np.where(np.isfinite(hi[:-1]), np.abs(hi[:-1]), 0.0)
    tol = 1e-9 * (1.0 + scale)
    with np.errstate(invalid="ignore"):
        overlap = same & (lo[1:] < hi[:-1] - tol)
        gap_width = lo[1:] - hi[:-1]
        gap = same & (gap_width > tol)

    # Open tails get a finite edge one adjacent-bin width beyond their strike (METHODS: support points).
    width = hi - lo
    finite_width = np.isfinite(width)
    next_width = np.append(width[1:], np.nan)
    next_same = np.append(same, False)
    prev_width = np.insert(width[:-1], 0, np.nan)
    prev_same = np.insert(same, 0, False)
    tail_lo = np.isinf(lo)
    tail_hi = np.isinf(hi)
    use_next = next_same & np.isfinite(next_width)
    use_prev = prev_same & np.isfinite(prev_width)
    lo_width = np.where(use_next, next_width, fallback_width[seg])
    hi_width = np.where(use_prev, prev_width, fallback_width[seg])
    lo_f = np.where(tail_lo, hi - 2.0 * lo_width, lo)
    hi_f = np.where(tail_hi, lo + 2.0 * hi_width, hi)
    support = 0.5 * (lo_f + hi_f)
    unordered = same & ~(support[1:] > support[:-1])

    finite_f = np.where(np.isfinite(hi_f - lo_f), hi_f - lo_f, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        density = mass / np.maximum(np.where(finite_width, width, finite_f), 1e-12)
        pair_gap = np.where(gap, gap_width, 0.0)
        gap_mass = np.where(gap, 0.5 * (density[:-1] + density[1:]) * pair_gap, 0.0)
    gap_mass = np.nan_to_num(gap_mass, nan=0.0, posinf=1.0)
    out["bin_overlap_count"] += count_in(seg[1:], overlap, n)
    out["bin_gap_count"] += count_in(seg[1:], gap, n)
    out["bin_gap_mass_estimate"][computed] = np.minimum(
        np.bincount(seg[1:], weights=gap_mass, minlength=n), 1.0)[computed]
    out["bin_support_is_ordered"][count_in(seg[1:], unordered, n) > 0] = False
    return seg, lo_f, hi_f, mass, tail_lo, tail_hi


def bin_moments(bins: tuple[np.ndarray, ...], ok: np.ndarray, n: int,
                           out: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, spread, shape, quantiles and tail masses of every ok snapshot from its bins.
    Returns (has_bins, total mass) per snapshot and the cdf at each bin's upper edge."""
    bseg, blo, bhi, bmass, btail_lo, btail_hi = bins
    has_bins = np.bincount(bseg, minlength=n) > 0
    if np.any(ok & ~has_bins):
        raise AssertionError("internal: a snapshot with status ok has no bins")
    support = 0.5 * (blo + bhi)
    total = np.bincount(bseg, weights=bmass, minlength=n)
    denominator = np.where(has_bins, total, 1.0)
    mean = np.bincount(bseg, weights=bmass * support, minlength=n) / denominator
    dev = support - mean[bseg]
    weighted_dev2 = bmass * dev * dev
    var = np.bincount(bseg, weights=weighted_dev2, minlength=n) / denominator
    m3 = np.bincount(bseg, weights=weighted_dev2 * dev, minlength=n) / denominator
    m4 = np.bincount(bseg, weights=weighted_dev2 * dev * dev, minlength=n) / denominator
    std = np.sqrt(np.maximum(var, 0.0))
    # Powers as products: numpy's float64 power differs between CPUs in the last bit (its AVX-512 path is
    # not libm's), so the same ladders gave other moments on another machine; a product is the same everywhere.
    std2 = std * std
    with np.errstate(invalid="ignore", divide="ignore"):
        spread_ok = std > 1e-12 * (1.0 + np.abs(mean))
        skew = np.where(spread_ok, m3 / (std2 * std), np.nan)
        kurt = np.where(spread_ok, m4 / (std2 * std2) - 3.0, np.nan)
    starts, counts = segment_starts(bseg, n)
    cdf = np.clip(segment_cumsum(bseg, bmass), 0.0, 1.0)
    quantiles = bin_quantiles(bins, cdf, starts, counts, ok, n)
    tail_lo_mass = np.bincount(bseg, weights=np.where(btail_lo, bmass, 0.0), minlength=n)
    tail_hi_mass = np.bincount(bseg, weights=np.where(btail_hi, bmass, 0.0), minlength=n)
    out["mean"] = np.where(ok, mean, np.nan)
    out["std"] = np.where(ok, std, np.nan)
    out["skew"] = np.where(ok, skew, np.nan)
    out["excess_kurtosis"] = np.where(ok, kurt, np.nan)
    for j, col in enumerate(QUANTILE_COLUMNS):
        out[col] = np.where(ok, quantiles[:, j], np.nan)
    out["tail_mass_lower"] = np.where(ok, tail_lo_mass, np.nan)
    out["tail_mass_upper"] = np.where(ok, tail_hi_mass, np.nan)
    out["tail_mass"] = np.where(ok, tail_lo_mass + tail_hi_mass, np.nan)
    out["n_bins"] = np.where(ok, counts, 0).astype(np.int64)
    return has_bins, total, cdf


def bin_quantiles(bins: tuple[np.ndarray, ...], cdf: np.ndarray, starts: np.ndarray, counts: np.ndarray,
               ok: np.ndarray, n: int) -> np.ndarray:
    """QUANTILE_LEVELS of every ok snapshot, interpolated linearly inside the bin that crosses each level."""
    bseg, blo, bhi, bmass = bins[:4]
    quantiles = np.full((n, len(QUANTILE_LEVELS)), np.nan)
    ok_idx = np.flatnonzero(ok)
    if len(ok_idx):
        # Per segment, the first bin whose cdf reaches the level (else its last bin). Found with a per-segment
        # minimum, not a search over one global key such as 2*segment + cdf: offsets that grow with a
        # segment's position cost precision, and a snapshot's quantiles then depended on which run made it.
        nonempty = np.flatnonzero(counts > 0)
        positions = np.arange(len(cdf))
        last = starts[ok_idx] + counts[ok_idx] - 1
        for j, level in enumerate(QUANTILE_LEVELS):
            crossing = np.where(cdf >= level - 1e-12, positions, len(cdf))
            first = np.full(n, len(cdf))
            first[nonempty] = np.minimum.reduceat(crossing, starts[nonempty])
            idx = np.minimum(first[ok_idx], last)
            before = cdf[idx] - bmass[idx]
            with np.errstate(invalid="ignore", divide="ignore"):
                frac = np.clip(np.where(bmass[idx] > 0, (level - before) / bmass[idx], 0.0), 0.0, 1.0)
            quantiles[ok_idx, j] = blo[idx] + frac * (bhi[idx] - blo[idx])
        # Invalid (overlapping) bins can give crossing quantiles; keep them ordered.
        quantiles[ok_idx] = np.maximum.accumulate(quantiles[ok_idx], axis=1)
    return quantiles
