"""Scores of implied distributions as forecasts (docs/METHODS.md section 5).

Per rung: Brier score and log loss of the rung's probability against whether it settled YES. Whole
distribution: CRPS and PIT of a piecewise-linear CDF against the first print. The CDF passes through
(k_i, F_i) at the ladder's strikes and reaches 0 and 1 one strike spacing beyond the outer strikes,
the same tails docs/METHODS.md's support points use (a choice).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

LOG_LOSS_EPS = 1e-6


def _pair(forecasts: Sequence[float], outcomes: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(forecasts, dtype=float)
    o = np.asarray(outcomes, dtype=float)
    if f.shape != o.shape:
        raise ValueError("forecasts and outcomes differ in length")
    if len(f) == 0:
        raise ValueError("nothing to score")
    if not np.isfinite(f).all() or ((f < 0) | (f > 1)).any():
        raise ValueError("forecasts must be probabilities in [0, 1]")
    if not np.isin(o, (0.0, 1.0)).all():
        raise ValueError("outcomes must be 0 or 1")
    return f, o


def brier_score(forecasts: Sequence[float], outcomes: Sequence[float]) -> float:
    """BS = mean (f - o)^2."""
    f, o = _pair(forecasts, outcomes)
    return float(np.mean((f - o) ** 2))


def log_loss(forecasts: Sequence[float], outcomes: Sequence[float], eps: float = LOG_LOSS_EPS) -> float:
    """-mean [o ln f + (1 - o) ln(1 - f)], f clipped to [eps, 1 - eps]."""
    f, o = _pair(forecasts, outcomes)
    f = np.clip(f, eps, 1 - eps)
    return float(-np.mean(o * np.log(f) + (1 - o) * np.log(1 - f)))


def reliability_curve(forecasts: Sequence[float], outcomes: Sequence[float], n_bins: int = 10) -> pd.DataFrame:
    """Per probability bin [k/n, (k+1)/n): count, mean forecast, observed frequency (empty bins left out)."""
    f, o = _pair(forecasts, outcomes)
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    bins = np.minimum((f * n_bins).astype(int), n_bins - 1)
    rows = []
    for k in range(n_bins):
        mask = bins == k
        if mask.any():
            rows.append(
                {"bin": k, "lower": k / n_bins, "upper": (k + 1) / n_bins, "count": int(mask.sum()),
                 "mean_forecast": float(f[mask].mean()), "observed_frequency": float(o[mask].mean())}
            )
    return pd.DataFrame(rows, columns=["bin", "lower", "upper", "count", "mean_forecast", "observed_frequency"])


def expected_calibration_error(forecasts: Sequence[float], outcomes: Sequence[float], n_bins: int = 10) -> float:
    """ECE = sum (n_k / N) |obar_k - fbar_k| over the reliability bins."""
    curve = reliability_curve(forecasts, outcomes, n_bins)
    total = curve["count"].sum()
    return float((curve["count"] / total * (curve["observed_frequency"] - curve["mean_forecast"]).abs()).sum())


# --- whole distributions -----------------------------------------------------------------------------


def cdf_knots(strikes: Sequence[float], cdf: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Knots of the piecewise-linear CDF: the strikes plus a 0 and a 1 one spacing beyond each end.

    `cdf` holds F(k_i) = P(X <= k_i) at increasing strikes; it must be non-decreasing in [0, 1] (repair
    it first: docs/METHODS.md section 1). A single strike uses a spacing of 1.
    """
    k = np.asarray(strikes, dtype=float)
    F = np.asarray(cdf, dtype=float)
    if k.shape != F.shape or len(k) == 0:
        raise ValueError("strikes and cdf must be non-empty and of equal length")
    if not (np.isfinite(k).all() and np.isfinite(F).all()):
        raise ValueError("strikes and cdf must be finite")
    if (np.diff(k) <= 0).any():
        raise ValueError("strikes must increase")
    if (np.diff(F) < -1e-12).any() or F.min() < -1e-12 or F.max() > 1 + 1e-12:
        raise ValueError("cdf must be non-decreasing inside [0, 1]")
    F = np.clip(F, 0.0, 1.0)
    low_gap = k[1] - k[0] if len(k) > 1 else 1.0
    high_gap = k[-1] - k[-2] if len(k) > 1 else 1.0
    xs = np.concatenate([[k[0] - low_gap], k, [k[-1] + high_gap]])
    ys = np.concatenate([[0.0], F, [1.0]])
    return xs, ys


def _segment_integral(a: float, b: float, fa: float, fb: float, h: float) -> float:
    """Exact integral over [a, b] of (F - h)^2 for F linear from fa to fb."""
    u, v = fa - h, fb - h
    return (b - a) * (u * u + u * v + v * v) / 3.0


def crps_piecewise_linear(xs: Sequence[float], ys: Sequence[float], observation: float) -> float:
    """CRPS = integral (F(y) - 1{y >= x})^2 dy for a CDF linear between knots (0 before, 1 after)."""
    x = np.asarray(xs, dtype=float)
    F = np.asarray(ys, dtype=float)
    if not np.isfinite(observation):
        raise ValueError("observation must be finite")
    if F[0] != 0.0 or F[-1] != 1.0:
        raise ValueError("the CDF must start at 0 and end at 1")
    # Split at the observation so the step function is constant on every segment.
    if x[0] < observation < x[-1] and observation not in x:
        at = float(np.interp(observation, x, F))
        position = int(np.searchsorted(x, observation))
        x = np.insert(x, position, observation)
        F = np.insert(F, position, at)
    total = 0.0
    for i in range(len(x) - 1):
        step = 1.0 if x[i] >= observation else 0.0
        total += _segment_integral(x[i], x[i + 1], F[i], F[i + 1], step)
    # Outside the knots F is 0 (left) or 1 (right): only the gap up to the observation counts.
    if observation < x[0]:
        total += x[0] - observation
    if observation > x[-1]:
        total += observation - x[-1]
    return float(total)


def crps_ladder(strikes: Sequence[float], cdf: Sequence[float], observation: float) -> float:
    """CRPS of a ladder's repaired CDF (see cdf_knots) against the realised value."""
    xs, ys = cdf_knots(strikes, cdf)
    return crps_piecewise_linear(xs, ys, observation)


def pit_ladder(strikes: Sequence[float], cdf: Sequence[float], observation: float) -> float:
    """PIT = F(x_realised) on the piecewise-linear CDF; uniform for a calibrated forecaster."""
    xs, ys = cdf_knots(strikes, cdf)
    return float(np.interp(observation, xs, ys, left=0.0, right=1.0))


def pit_histogram(pit_values: Sequence[float], n_bins: int = 10) -> pd.DataFrame:
    """Counts of PIT values per bin; a flat histogram means calibrated."""
    values = np.asarray(pit_values, dtype=float)
    counts, edges = np.histogram(values, bins=n_bins, range=(0.0, 1.0))
    return pd.DataFrame({"lower": edges[:-1], "upper": edges[1:], "count": counts})


def _discrete(points: Sequence[float], masses: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(points, dtype=float)
    p = np.asarray(masses, dtype=float)
    if x.shape != p.shape or len(x) == 0:
        raise ValueError("points and masses must be non-empty and of equal length")
    if not (np.isfinite(x).all() and np.isfinite(p).all()) or (p < -1e-12).any():
        raise ValueError("points and masses must be finite, masses non-negative")
    total = p.sum()
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"masses sum to {total}, not 1")
    return x, np.clip(p, 0.0, None) / total


def crps_discrete(points: Sequence[float], masses: Sequence[float], observation: float) -> float:
    """CRPS of a distribution with masses on support points: E|X - x| - E|X - X'| / 2 (exact for the step CDF)."""
    x, p = _discrete(points, masses)
    if not np.isfinite(observation):
        raise ValueError("observation must be finite")
    spread = float(np.sum(p[:, None] * p[None, :] * np.abs(x[:, None] - x[None, :])))
    return float(np.sum(p * np.abs(x - observation)) - 0.5 * spread)


def pit_discrete(points: Sequence[float], masses: Sequence[float], observation: float) -> float:
    """Mid-PIT of a discrete forecast: F(x-) + P(X = x) / 2 (a tie with a support point counts half)."""
    x, p = _discrete(points, masses)
    tie = np.isclose(x, observation, rtol=0.0, atol=1e-9)
    return float(p[(x < observation) & ~tie].sum() + 0.5 * p[tie].sum())


# --- snapshots as forecasts --------------------------------------------------------------------------

SCORE_COLUMNS: tuple[str, ...] = (
    "event_ticker", "horizon_days", "event_type", "series_ticker", "snapshot_ts", "first_print", "n_rungs", "brier", "log_loss",
    "crps", "pit",
)
RUNG_COLUMNS: tuple[str, ...] = ("event_ticker", "horizon_days", "event_type", "strike", "forecast", "outcome")


def rung_outcomes(strikes: Sequence[float], observation: float) -> np.ndarray:
    """1{x > k} per strike; a print equal to the strike is not above it (ties settle NO on `greater`)."""
    k = np.asarray(strikes, dtype=float)
    return (observation > k + 1e-9 * np.maximum(1.0, np.abs(k))).astype(int)


def score_snapshots(forecasts: pd.DataFrame, bins: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score each (event, horizon) snapshot's distribution against its first print.

    forecasts: event_ticker, horizon_days, event_type, snapshot_ts, first_print. bins: the snapshots' bins
    (event_ticker, snapshot_ts, bin_index, upper_edge, support_point, mass, survival_upper). Rungs are the
    upper edges of every bin but the last: forecast P(X > k) = survival_upper. CRPS and mid-PIT use the
    masses on their support points, the distribution the snapshot's moments describe.
    Returns (scores with SCORE_COLUMNS, rungs with RUNG_COLUMNS); a snapshot without bins is left out.
    """
    grouped = {key: group.sort_values("bin_index") for key, group in bins.groupby(["event_ticker", "snapshot_ts"])}
    scores, rungs = [], []
    for row in forecasts.itertuples(index=False):
        group = grouped.get((row.event_ticker, pd.Timestamp(row.snapshot_ts)))
        if group is None or group.empty or not np.isfinite(row.first_print):
            continue
        x = float(row.first_print)
        strikes = group["upper_edge"].to_numpy(float)[:-1]
        forecast = np.clip(group["survival_upper"].to_numpy(float)[:-1], 0.0, 1.0)
        outcome = rung_outcomes(strikes, x)
        masses = group["mass"].to_numpy(float)
        masses = masses / masses.sum()
        scores.append(
            {
                "event_ticker": row.event_ticker,
                "horizon_days": int(row.horizon_days),
                "event_type": row.event_type,
                "series_ticker": getattr(row, "series_ticker", None),
                "snapshot_ts": row.snapshot_ts,
                "first_print": x,
                "n_rungs": len(strikes),
                "brier": brier_score(forecast, outcome) if len(strikes) else float("nan"),
                "log_loss": log_loss(forecast, outcome) if len(strikes) else float("nan"),
                "crps": crps_discrete(group["support_point"].to_numpy(float), masses, x),
                "pit": pit_discrete(group["support_point"].to_numpy(float), masses, x),
            }
        )
        rungs.extend(
            {"event_ticker": row.event_ticker, "horizon_days": int(row.horizon_days), "event_type": row.event_type,
             "strike": float(k), "forecast": float(f), "outcome": int(o)}
            for k, f, o in zip(strikes, forecast, outcome, strict=True)
        )
    return pd.DataFrame(scores, columns=list(SCORE_COLUMNS)), pd.DataFrame(rungs, columns=list(RUNG_COLUMNS))


def scores_by_event_type(scores: pd.DataFrame, rungs: pd.DataFrame) -> pd.DataFrame:
    """Per (event type, series, horizon): events, rungs, rung Brier, log loss and ECE, mean CRPS (in the
    series' units, so series are kept apart), PIT mean and the Kolmogorov-Smirnov distance of the PIT
    values from uniform."""
    rows = []
    scores = scores.assign(series_ticker=scores["series_ticker"].fillna("")) if len(scores) else scores
    for (event_type, series, horizon), group in scores.groupby(["event_type", "series_ticker", "horizon_days"]):
        events = set(group["event_ticker"])
        mine = rungs[rungs["event_ticker"].isin(events) & (rungs["horizon_days"] == horizon)]
        pits = np.sort(group["pit"].to_numpy(float))
        n = len(pits)
        ks = float(np.max(np.maximum(np.arange(1, n + 1) / n - pits, pits - np.arange(n) / n))) if n else float("nan")
        has_rungs = len(mine) > 0
        rows.append(
            {
                "event_type": event_type,
                "series_ticker": series,
                "horizon_days": int(horizon),
                "events": n,
                "rungs": len(mine),
                "brier": brier_score(mine["forecast"], mine["outcome"]) if has_rungs else float("nan"),
                "log_loss": log_loss(mine["forecast"], mine["outcome"]) if has_rungs else float("nan"),
                "ece": expected_calibration_error(mine["forecast"], mine["outcome"]) if has_rungs else float("nan"),
                "crps": float(group["crps"].mean()),
                "pit_mean": float(pits.mean()) if n else float("nan"),
                "pit_ks": ks,
            }
        )
    return pd.DataFrame(
        rows,
        columns=["event_type", "series_ticker", "horizon_days", "events", "rungs", "brier", "log_loss", "ece", "crps", "pit_mean", "pit_ks"],
    )



def forecasts_with_first_print(features: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The feature rows that have a snapshot, each with its event's first print (`labels` has
    event_ticker and first_print); events without a label are left out."""
    return features[features["snapshot_ts"].notna()].merge(
        labels[["event_ticker", "first_print"]], on="event_ticker", how="inner"
    )
