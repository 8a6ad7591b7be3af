"""Selection bias across the candidates tried (docs/METHODS.md section 4): the probability of backtest
overfitting by CSCV, and the effective number of independent trials for the deflated Sharpe.

Both read a returns matrix: one row per period (an out-of-sample event, in release order), one column
per candidate, the candidate's summed bankroll returns on that event (0 when it did not trade).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform


def returns_matrix(
    traces: pd.DataFrame, events: pd.DataFrame, candidates: Sequence[str], return_col: str = "bankroll_return"
) -> pd.DataFrame:
    """Periods x candidates: each candidate's summed return per out-of-sample event, 0 where it did not trade.

    events: event_ticker and release_time of every period (each tested event, traded or not).
    """
    order = events.drop_duplicates("event_ticker").sort_values(["release_time", "event_ticker"], kind="mergesort")
    index = pd.Index(order["event_ticker"], name="event_ticker")
    if traces.empty:
        return pd.DataFrame(0.0, index=index, columns=list(candidates))
    summed = traces.assign(_r=traces[return_col].astype(float)).pivot_table(
        index="event_ticker", columns="candidate", values="_r", aggfunc="sum", fill_value=0.0
    )
    unknown = set(summed.index) - set(index)
    if unknown:
        raise ValueError(f"trades on events that are not periods of the matrix: {sorted(unknown)[:5]}")
    return summed.reindex(index=index, columns=list(candidates), fill_value=0.0).astype(float)


# --- probability of backtest overfitting ------------------------------------------------------------


def ranking_sharpe(count: np.ndarray, total: np.ndarray, total_sq: np.ndarray) -> np.ndarray:
    """Mean / sample sd from sums, for ranking: 0 for a flat zero series, +-inf for a flat non-zero one."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / count
        variance = (total_sq - count * mean**2) / (count - 1)
        sd = np.sqrt(np.clip(variance, 0.0, None))
        flat = sd <= 1e-9 * np.abs(mean)  # a constant series up to rounding (sd 0 included)
        return np.where(flat, np.sign(mean) * np.where(mean == 0, 0.0, np.inf), mean / np.where(flat, 1.0, sd))


PBO_COMBINATION_COLUMNS: tuple[str, ...] = (
    "combination", "in_sample_blocks", "selected", "in_sample_sharpe", "out_of_sample_sharpe",
    "out_of_sample_rank", "relative_rank", "logit",
)


@dataclass(frozen=True)
class PboResult:
    """PBO and one row per combination: the candidate chosen in sample, its out-of-sample rank and logit."""

    pbo: float
    n_blocks: int
    combinations: pd.DataFrame


def probability_of_backtest_overfitting(matrix: pd.DataFrame | np.ndarray, n_blocks: int = 16) -> PboResult:
    """PBO by combinatorially symmetric cross-validation (Bailey, Borwein, Lopez de Prado and Zhu 2015).

    The T x N matrix is cut into `n_blocks` (S, even) consecutive row blocks (np.array_split: sizes differ
    by at most one). For each of the C(S, S/2) choices of half the blocks as in-sample J: n* = the
    candidate with the best in-sample Sharpe (first in column order on a tie), r = its average rank among
    the N out-of-sample Sharpes (1 = worst), w = r / (N + 1), logit = ln(w / (1 - w)). PBO is the share of
    combinations with logit <= 0.
    """
    values = np.asarray(matrix, dtype=float)
    names = list(matrix.columns) if isinstance(matrix, pd.DataFrame) else list(range(values.shape[1]))
    n_rows, n_cols = values.shape
    if n_blocks < 2 or n_blocks % 2:
        raise ValueError(f"the number of blocks must be even and at least 2, got {n_blocks}")
    if n_cols < 2:
        raise ValueError("PBO needs at least two candidates")
    if n_rows < 2 * n_blocks:
        raise ValueError(f"{n_rows} periods are too few for {n_blocks} blocks of at least two")
    if not np.isfinite(values).all():
        raise ValueError("returns must be finite numbers")
    blocks = np.array_split(np.arange(n_rows), n_blocks)
    count = np.array([len(b) for b in blocks], dtype=float)[:, None]
    total = np.stack([values[b].sum(axis=0) for b in blocks])
    total_sq = np.stack([(values[b] ** 2).sum(axis=0) for b in blocks])
    combos = list(itertools.combinations(range(n_blocks), n_blocks // 2))
    chosen = np.zeros((len(combos), n_blocks))
    chosen[np.repeat(np.arange(len(combos)), n_blocks // 2), np.concatenate(combos)] = 1.0
    rest = 1.0 - chosen
    in_sample = ranking_sharpe(chosen @ count, chosen @ total, chosen @ total_sq)
    out_sample = ranking_sharpe(rest @ count, rest @ total, rest @ total_sq)
    best = np.argmax(in_sample, axis=1)
    # The chosen candidate's average rank out of sample (scipy.stats.rankdata's "average" for that one
    # entry; ranking_sharpe gives no NaN): 1 + how many rank below it + half its ties besides itself.
    # Counted here rather than importing scipy.stats (about 1 s of every process that loads the code location).
    chosen_out = out_sample[np.arange(len(combos)), best][:, None]
    rank = 1.0 + (out_sample < chosen_out).sum(axis=1) + ((out_sample == chosen_out).sum(axis=1) - 1) / 2
    relative = rank / (n_cols + 1)
    logit = np.log(relative / (1 - relative))
    frame = pd.DataFrame(
        {
            "combination": np.arange(len(combos)),
            "in_sample_blocks": [",".join(map(str, c)) for c in combos],
            "selected": [names[i] for i in best],
            "in_sample_sharpe": in_sample[np.arange(len(combos)), best],
            "out_of_sample_sharpe": out_sample[np.arange(len(combos)), best],
            "out_of_sample_rank": rank,
            "relative_rank": relative,
            "logit": logit,
        },
        columns=list(PBO_COMBINATION_COLUMNS),
    )
    return PboResult(float(np.mean(logit <= 0)), n_blocks, frame)


def pbo_blocks(n_periods: int, max_blocks: int) -> int:
    """The largest even S <= max_blocks that leaves at least two periods per block (0 when none does)."""
    blocks = min(max_blocks, n_periods // 2)
    return blocks - blocks % 2 if blocks >= 2 else 0


# --- effective number of trials ---------------------------------------------------------------------


@dataclass(frozen=True)
class TrialCount:
    """Raw, distinct and effective trial counts, and each candidate's cluster (numbered from 1)."""

    raw: int
    distinct: int
    effective: int
    clusters: dict[str, int]


def effective_trials(matrix: pd.DataFrame, min_correlation: float) -> TrialCount:
    """Candidates that trade alike count as one trial.

    Candidates with identical return series (the same trades) are one distinct trial. The distinct series
    are then clustered by complete linkage on the distance 1 - correlation and cut at 1 - min_correlation,
    so every pair inside a cluster correlates at least `min_correlation`; the effective number of trials is
    the number of clusters (Lopez de Prado 2019 clusters the correlation matrix the same way). A flat
    series (a candidate that never traded) correlates with nothing but its identical twins.
    """
    if not 0 < min_correlation <= 1:
        raise ValueError("min_correlation must be in (0, 1]")
    names = list(matrix.columns)
    if not names:
        return TrialCount(0, 0, 0, {})
    values = matrix.to_numpy(dtype=float)
    distinct: dict[bytes, list[str]] = {}
    for j, name in enumerate(names):
        distinct.setdefault(np.ascontiguousarray(values[:, j]).tobytes(), []).append(name)
    members = list(distinct.values())
    if len(members) == 1:
        return TrialCount(len(names), 1, 1, dict.fromkeys(names, 1))
    series = np.stack([matrix[group[0]].to_numpy(dtype=float) for group in members], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.corrcoef(series, rowvar=False)
    correlation = np.nan_to_num(correlation, nan=0.0)
    np.fill_diagonal(correlation, 1.0)
    distance = np.clip(1.0 - correlation, 0.0, 2.0)
    labels = fcluster(linkage(squareform(distance, checks=False), method="complete"),
                      t=1.0 - min_correlation + 1e-12, criterion="distance")
    # Number clusters by their first candidate's position, so the labels are stable.
    first_seen: dict[int, int] = {}
    for label in labels:
        first_seen.setdefault(int(label), len(first_seen) + 1)
    clusters = {name: first_seen[int(label)] for group, label in zip(members, labels, strict=True) for name in group}
    return TrialCount(len(names), len(members), len(first_seen), clusters)


def cluster_sharpe_variance(sharpes: dict[str, float], clusters: dict[str, int]) -> float:
    """V[SR_n] across clusters: the sample variance of each cluster's mean finite Sharpe (0 below two)."""
    per_cluster: dict[int, list[float]] = {}
    for name, value in sharpes.items():
        if value is not None and math.isfinite(value):
            per_cluster.setdefault(clusters[name], []).append(value)
    means = [float(np.mean(v)) for v in per_cluster.values()]
    return float(np.var(means, ddof=1)) if len(means) >= 2 else 0.0
