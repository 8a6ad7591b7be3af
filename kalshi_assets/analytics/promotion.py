"""Promotion gates (docs/METHODS.md section 4): Sharpe, PSR, deflated Sharpe over the effective number of
trials, PBO, MinTRL, drawdown, regime stress.

Every gate yields a value, its limit, a verdict and a reason. A value that cannot be computed (too few
returns, zero variance with a non-zero mean, a regime without trades) fails its gate: gates fail closed.
A Sharpe or drawdown of exactly 0 is a value, never a missing one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri  # Phi, Phi^-1: scipy.stats.norm's own ufuncs, without its 1 s import

from kalshi_assets.analytics.overfitting import (
    PBO_COMBINATION_COLUMNS,
    PboResult,
    TrialCount,
    cluster_sharpe_variance,
    effective_trials,
    pbo_blocks,
    probability_of_backtest_overfitting,
    returns_matrix,
)
from kalshi_assets.settings import EVENT_TYPES, GateLimits

EULER_GAMMA = 0.5772156649015329


def _array(returns: Iterable[float]) -> np.ndarray:
    values = np.asarray(list(returns), dtype=float)
    if not np.isfinite(values).all():
        raise ValueError("returns must be finite numbers")
    return values


def sharpe_ratio(returns: Iterable[float]) -> float:
    """Per-period Sharpe: mean / sample sd. NaN with fewer than 2 returns or zero sd with a non-zero mean."""
    r = _array(returns)
    if len(r) < 2:
        return float("nan")
    mean, sd = float(r.mean()), float(r.std(ddof=1))
    if sd == 0.0:
        return 0.0 if mean == 0.0 else float("nan")
    return mean / sd


def skew_and_kurtosis(returns: Iterable[float]) -> tuple[float, float]:
    """Sample skewness g3 and raw (non-excess) kurtosis g4 with population moments; (0, 3) when sd is 0."""
    r = _array(returns)
    if len(r) < 2:
        return float("nan"), float("nan")
    centred = r - r.mean()
    squared = centred * centred  # products, not numpy's power: the same on every CPU (distribution_ladders says why)
    m2 = float(np.mean(squared))
    if m2 == 0.0:
        return 0.0, 3.0
    return float(np.mean(squared * centred) / m2**1.5), float(np.mean(squared * squared) / m2**2)


def _sr_variance_term(sr: float, skew: float, kurt: float) -> float:
    return 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr**2


def probabilistic_sharpe_ratio(
    sr: float, n_obs: float, skew: float = 0.0, kurt: float = 3.0, sr_benchmark: float = 0.0
) -> float:
    """PSR(SR*) = Phi[(SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1)/4 SR^2)]; NaN when undefined.

    T may be fractional (a minimum track record length is).
    """
    if n_obs <= 1 or not all(math.isfinite(x) for x in (sr, skew, kurt, sr_benchmark)):
        return float("nan")
    term = _sr_variance_term(sr, skew, kurt)
    if term <= 0:
        return float("nan")
    return float(ndtr((sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(term)))


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """SR0 = sqrt(V[SR_n]) [(1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e))]; 0 for one trial."""
    if n_trials < 1:
        raise ValueError("at least one trial")
    if n_trials == 1 or sharpe_variance <= 0:
        return 0.0
    return math.sqrt(sharpe_variance) * (
        (1 - EULER_GAMMA) * ndtri(1 - 1 / n_trials) + EULER_GAMMA * ndtri(1 - 1 / (n_trials * math.e))
    )


def deflated_sharpe_ratio(
    sr: float, n_obs: int, skew: float, kurt: float, n_trials: int, sharpe_variance: float
) -> tuple[float, float]:
    """(DSR, SR0): the PSR against the expected maximum Sharpe of N trials (Bailey and Lopez de Prado 2014).

    N is the effective number of independent trials (overfitting.effective_trials) and V[SR_n] the
    variance of their Sharpe ratios (overfitting.cluster_sharpe_variance).
    """
    sr0 = expected_max_sharpe(max(n_trials, 1), sharpe_variance)
    return probabilistic_sharpe_ratio(sr, n_obs, skew, kurt, sr0), sr0


def min_track_record_length(
    sr: float, skew: float, kurt: float, sr_benchmark: float = 0.0, alpha: float = 0.05
) -> float:
    """MinTRL = 1 + (1 - g3 SR + (g4 - 1)/4 SR^2) (Z_{1-alpha} / (SR - SR*))^2; inf when SR <= SR*."""
    if not all(math.isfinite(x) for x in (sr, skew, kurt)) or sr <= sr_benchmark:
        return float("inf")
    return 1.0 + _sr_variance_term(sr, skew, kurt) * (ndtri(1 - alpha) / (sr - sr_benchmark)) ** 2


def max_drawdown(returns: Iterable[float]) -> float:
    """min_k (e_k / max_{j<=k} e_j - 1) with e_k = prod_{i<=k} (1 + r_i); 0 for no returns or no loss."""
    r = _array(returns)
    if len(r) == 0:
        return 0.0
    equity = np.cumprod(1.0 + r)
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    return float(min(0.0, float(np.min(equity / peak - 1.0))))


# --- regimes -----------------------------------------------------------------------------------------

REGIME_COLUMNS: tuple[str, ...] = ("event_type", "trade_count", "mean_return", "sharpe", "max_drawdown")


def regime_performance(
    trades: pd.DataFrame, regimes: Sequence[str] = EVENT_TYPES, return_col: str = "bankroll_return"
) -> pd.DataFrame:
    """Per event type: trade count, mean return, Sharpe, max drawdown (trades in release order).

    Every regime in `regimes` gets a row; one without trades has count 0 and empty (NaN) metrics, which
    the stress gate treats as missing. Metrics that are exactly 0 stay 0.
    """
    rows = []
    for regime in regimes:
        mine = trades[trades["event_type"] == regime][return_col].astype(float) if len(trades) else pd.Series([])
        r = mine.to_numpy(float)
        rows.append(
            {
                "event_type": regime,
                "trade_count": len(r),
                "mean_return": float(r.mean()) if len(r) else float("nan"),
                "sharpe": sharpe_ratio(r),
                "max_drawdown": max_drawdown(r) if len(r) else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=list(REGIME_COLUMNS))


@dataclass(frozen=True)
class GateResult:
    gate: str
    value: float | None
    limit: str
    passed: bool
    reason: str


def _finite(value: float | None) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def stress_gate(
    regimes: pd.DataFrame | None, expected_regimes: Sequence[str], limits: GateLimits
) -> list[GateResult]:
    """One result per expected regime; missing performance fails closed with its reason."""
    results: list[GateResult] = []
    if regimes is None or regimes.empty:
        return [
            GateResult(f"stress:{regime}", None, "performance present", False,
                       f"no regime performance for {regime}: missing performance fails the candidate")
            for regime in (expected_regimes or ["any"])
        ]
    by_type = {str(row.event_type): row for row in regimes.itertuples(index=False)}
    limit_text = (
        f"trades >= {limits.regime_min_trades}, sharpe >= {limits.regime_min_sharpe}, "
        f"max_drawdown >= {limits.regime_max_drawdown}"
    )
    for regime in expected_regimes:
        name = f"stress:{regime}"
        row = by_type.get(regime)
        if row is None or not _finite(row.trade_count) or row.trade_count == 0:
            results.append(GateResult(name, None if row is None else 0.0, limit_text, False,
                                      f"{regime}: no out-of-sample trades, regime performance missing (fails closed)"))
            continue
        count = int(row.trade_count)
        if count < limits.regime_min_trades:
            results.append(GateResult(name, float(count), limit_text, False,
                                      f"{regime}: {count} trades < {limits.regime_min_trades}, too few to judge (fails closed)"))
            continue
        if not _finite(row.sharpe) or not _finite(row.max_drawdown):
            results.append(GateResult(name, None, limit_text, False,
                                      f"{regime}: Sharpe or drawdown undefined (fails closed)"))
            continue
        problems = []
        if row.sharpe < limits.regime_min_sharpe:
            problems.append(f"Sharpe {row.sharpe:.3f} < {limits.regime_min_sharpe}")
        if row.max_drawdown < limits.regime_max_drawdown:
            problems.append(f"max drawdown {row.max_drawdown:.3f} < {limits.regime_max_drawdown}")
        summary = (
            f"{regime}: {count} trades, mean return {row.mean_return:.5f}, Sharpe {row.sharpe:.3f}, "
            f"max drawdown {row.max_drawdown:.3f}"
        )
        results.append(GateResult(name, float(row.sharpe), limit_text, not problems,
                                  summary + ("; " + "; ".join(problems) if problems else "; within limits")))
    return results


@dataclass(frozen=True)
class Decision:
    candidate: str
    promoted: bool
    gates: list[GateResult]
    stats: dict[str, float]

    @property
    def reasons(self) -> list[str]:
        """Why it failed (every failed gate), or why it passed."""
        failed = [g.reason for g in self.gates if not g.passed]
        return failed or ["all gates passed"]


_COMPARE = {">": lambda v, lim: v > lim, ">=": lambda v, lim: v >= lim, "<": lambda v, lim: v < lim,
            "<=": lambda v, lim: v <= lim}


def _gate(name: str, value: float, limit: float, passed_if: str, label: str) -> GateResult:
    limit_text = f"{passed_if} {limit}"
    if not _finite(value):
        return GateResult(name, None, limit_text, False, f"{label} undefined (fails closed)")
    passed = bool(_COMPARE[passed_if](value, limit))
    verdict = "passes" if passed else "fails"
    return GateResult(name, float(value), limit_text, passed, f"{label} {value:.4g} {verdict} ({passed_if} {limit})")


@dataclass(frozen=True)
class Deflation:
    """How the deflated Sharpe counts the trials: N (effective), V[SR_n] across them, and the raw count."""

    n_trials: int = 1
    sharpe_variance: float = 0.0
    n_trials_raw: int = 1


def decide(
    candidate: str,
    returns: Sequence[float],
    regimes: pd.DataFrame | None,
    limits: GateLimits,
    expected_regimes: Sequence[str] = EVENT_TYPES,
    *,
    deflation: Deflation = Deflation(),
    pbo: float = float("nan"),
) -> Decision:
    """All gates of one candidate; promoted only when every gate passes.

    `pbo` is the family's probability of backtest overfitting (NaN when it could not be computed: the
    gate fails closed). `deflation` defaults to a single trial.
    """
    r = _array(returns)
    sr = sharpe_ratio(r)
    skew, kurt = skew_and_kurtosis(r)
    psr = probabilistic_sharpe_ratio(sr, len(r), skew, kurt, 0.0) if _finite(sr) else float("nan")
    dsr, sr0 = deflated_sharpe_ratio(sr, len(r), skew, kurt, deflation.n_trials, deflation.sharpe_variance)
    mdd = max_drawdown(r)
    min_trl = min_track_record_length(sr, skew, kurt) if _finite(sr) else float("inf")
    trials_text = f"{deflation.n_trials} effective of {deflation.n_trials_raw} candidates"
    gates = [
        _gate("min_trades", float(len(r)), float(limits.min_trades), ">=", "trades"),
        _gate("sharpe", sr, limits.min_sharpe, ">=", "Sharpe"),
        _gate("psr", psr, limits.min_psr, ">=", "PSR(0)"),
        _gate("dsr", dsr, limits.min_dsr, ">", f"DSR over {trials_text} (SR0 {sr0:.4g})"),
        _gate("pbo", pbo, limits.max_pbo, "<", "PBO of the candidate family"),
        _gate("max_drawdown", mdd, limits.max_drawdown, ">=", "max drawdown"),
        *stress_gate(regimes, expected_regimes, limits),
    ]
    stats = {
        "trades": float(len(r)),
        "sharpe": sr,
        "skew": skew,
        "kurtosis": kurt,
        "psr": psr,
        "dsr": dsr,
        "sr0": sr0,
        "max_drawdown": mdd,
        "min_trl": min_trl,
        "mean_return": float(r.mean()) if len(r) else float("nan"),
    }
    return Decision(candidate, all(g.passed for g in gates), gates, stats)


GATE_COLUMNS: tuple[str, ...] = ("candidate", "gate", "value", "limit_text", "passed", "reason")
DECISION_COLUMNS: tuple[str, ...] = (
    "candidate", "promoted", "reasons", "trades", "mean_return", "sharpe", "skew", "kurtosis", "psr", "dsr", "sr0",
    "n_trials", "max_drawdown", "min_trl", "n_trials_distinct", "n_trials_effective", "trial_cluster", "pbo",
    "pbo_combinations", "cpcv_paths", "cpcv_sharpe_mean", "cpcv_sharpe_sd", "cpcv_sharpe_min", "cpcv_sharpe_median",
    "cpcv_sharpe_max", "cpcv_share_positive",
)


# The CPCV path-Sharpe distribution each decision reports (analytics.cpcv.path_sharpe_summary).
CPCV_SUMMARY_COLUMNS: tuple[str, ...] = (
    "paths", "sharpe_mean", "sharpe_sd", "sharpe_min", "sharpe_median", "sharpe_max", "share_positive",
)


@dataclass(frozen=True)
class FamilyDecisions:
    """decide_candidates' frames: decisions, gate verdicts, regimes, and the PBO combinations."""

    decisions: pd.DataFrame
    gates: pd.DataFrame
    regimes: pd.DataFrame
    pbo_combinations: pd.DataFrame


def _family_evidence(
    candidates: Sequence[str], per_candidate: dict[str, pd.DataFrame], periods: pd.DataFrame, limits: GateLimits,
    return_col: str,
) -> tuple[Deflation, TrialCount, PboResult | None]:
    """Effective trials and PBO from the periods x candidates matrix of out-of-sample returns."""
    traded = [group for group in per_candidate.values() if len(group)]
    matrix = returns_matrix(pd.concat(traded) if traded else pd.DataFrame(), periods, candidates, return_col)
    trials = effective_trials(matrix, limits.trial_min_correlation)
    sharpes = {name: sharpe_ratio(group[return_col].astype(float)) if len(group) else float("nan")
               for name, group in per_candidate.items()}
    deflation = Deflation(trials.effective, cluster_sharpe_variance(sharpes, trials.clusters), trials.raw)
    blocks = pbo_blocks(len(matrix), limits.pbo_blocks)
    pbo = probability_of_backtest_overfitting(matrix, blocks) if blocks and len(candidates) >= 2 else None
    return deflation, trials, pbo


def decide_candidates(
    candidates: Sequence[str],
    traces: pd.DataFrame,
    expected_regimes: Sequence[str],
    limits: GateLimits,
    periods: pd.DataFrame,
    cpcv_summary: pd.DataFrame | None = None,
    return_col: str = "bankroll_return",
) -> FamilyDecisions:
    """Gate every candidate tried, traded or not.

    traces: candidate, event_ticker, event_type, release_time and the return column (one row per trade).
    periods: event_ticker and release_time of every out-of-sample event (the rows of the PBO matrix).
    cpcv_summary: per candidate the CPCV path-Sharpe distribution (cpcv.path_sharpe_summary), reported.
    """
    ordered = traces.sort_values(["release_time"], kind="mergesort") if len(traces) else traces
    per_candidate = {name: ordered[ordered["candidate"] == name] if len(ordered) else ordered for name in candidates}
    deflation, trials, pbo = _family_evidence(candidates, per_candidate, periods, limits, return_col)
    summary = cpcv_summary.set_index("candidate") if cpcv_summary is not None and len(cpcv_summary) else None
    decisions, gates, regimes = [], [], []
    for name, group in per_candidate.items():
        returns = group[return_col].astype(float).to_numpy() if len(group) else np.zeros(0)
        regime_table = regime_performance(group, expected_regimes, return_col) if len(group) else None
        decision = decide(name, returns, regime_table, limits, expected_regimes, deflation=deflation,
                          pbo=pbo.pbo if pbo else float("nan"))
        cpcv = summary.loc[name].to_dict() if summary is not None and name in summary.index else {}
        decisions.append(
            {
                "candidate": name, "promoted": decision.promoted, "reasons": "; ".join(decision.reasons),
                **{key: decision.stats[key] for key in ("mean_return", "sharpe", "skew", "kurtosis", "psr", "dsr",
                                                         "sr0", "max_drawdown", "min_trl")},
                "trades": len(returns), "n_trials": trials.raw, "n_trials_distinct": trials.distinct,
                "n_trials_effective": trials.effective, "trial_cluster": trials.clusters.get(name),
                "pbo": pbo.pbo if pbo else None, "pbo_combinations": len(pbo.combinations) if pbo else 0,
                **{f"cpcv_{key}": cpcv.get(key) for key in CPCV_SUMMARY_COLUMNS},
            }
        )
        gates.extend(
            {"candidate": name, "gate": g.gate, "value": g.value, "limit_text": g.limit, "passed": g.passed,
             "reason": g.reason}
            for g in decision.gates
        )
        table = regime_table if regime_table is not None else regime_performance(
            pd.DataFrame(columns=["event_type", return_col]), expected_regimes, return_col
        )
        regimes.extend({"candidate": name, **row} for row in table.to_dict("records"))
    combinations = pbo.combinations if pbo else pd.DataFrame(columns=PBO_COMBINATION_COLUMNS)
    return FamilyDecisions(
        pd.DataFrame(decisions, columns=list(DECISION_COLUMNS)),
        pd.DataFrame(gates, columns=list(GATE_COLUMNS)),
        pd.DataFrame(regimes, columns=["candidate", *REGIME_COLUMNS]),
        combinations,
    )


def candidates_failing_each_gate(gates: pd.DataFrame) -> pd.DataFrame:
    """Per gate (stress gates pooled), how many candidates fail it."""
    if gates.empty:
        return pd.DataFrame(columns=["gate", "candidates_failing"])
    failed = gates[~gates["passed"].astype(bool)]
    return (
        failed.assign(gate=failed["gate"].str.replace(r"^stress:.*", "stress", regex=True))
        .groupby("gate")["candidate"].nunique().rename("candidates_failing").reset_index()
    )


def judgement_problems(
    candidates: Sequence[str], decisions: pd.DataFrame, gates: pd.DataFrame, regimes: Sequence[str]
) -> list[str]:
    """Candidates tried without a decision, without a stress verdict per regime or a PBO verdict, or whose
    `promoted` flag disagrees with their gates; [] when every candidate was judged."""
    problems = [f"{name}: no decision" for name in sorted(set(candidates) - set(decisions["candidate"]))]
    for row in decisions.itertuples(index=False):
        mine = gates[gates["candidate"] == row.candidate]
        stress = set(mine.loc[mine["gate"].str.startswith("stress:"), "gate"])
        missing = {f"stress:{r}" for r in regimes} - stress
        if missing or not stress:
            problems.append(f"{row.candidate}: no stress verdict for {sorted(missing) or 'any regime'}")
        if "pbo" not in set(mine["gate"]) or "dsr" not in set(mine["gate"]):
            problems.append(f"{row.candidate}: no PBO or DSR verdict")
        if bool(row.promoted) != bool(mine["passed"].all()):
            problems.append(f"{row.candidate}: promoted={row.promoted} disagrees with its gates")
    return problems


LOGIT_EDGES: tuple[float, ...] = (-np.inf, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, np.inf)


def logit_histogram(logits: np.ndarray) -> list[tuple[str, int]]:
    """The CSCV combinations' logits counted in the bins of LOGIT_EDGES, labelled as numpy counts them:
    "[lo, hi)" (a logit on an edge counts in the bin above it)."""
    edges = list(LOGIT_EDGES)
    counts = np.histogram(logits, bins=edges)[0] if len(logits) else np.zeros(len(edges) - 1, dtype=int)
    return [(f"[{lo:g}, {hi:g})", int(n)) for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True)]


def trial_counts(decisions: pd.DataFrame) -> dict[str, int]:
    """The family's raw, distinct and effective numbers of trials (0 without decisions)."""
    return {k: int(decisions[k].iloc[0]) if len(decisions) else 0
            for k in ("n_trials", "n_trials_distinct", "n_trials_effective")}
