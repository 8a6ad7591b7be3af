"""The one schema of a distribution snapshot row and of its bins, and validators for both.

Every return path of `analytics.distribution` (empty ladder, no usable quotes, too few rungs, unresolved
direction, a full computation) yields exactly SNAPSHOT_COLUMNS, in this order, with these dtypes.
`validate_snapshot_frame` and `validate_bins_frame` return a list of problems (empty when valid); the
Dagster asset checks block on them. Pure: no I/O, no dagster.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

# --- vocabularies ----------------------------------------------------------------------------------

STATUS_OK = "ok"
STATUS_EMPTY_LADDER = "empty_ladder"
STATUS_DIRECTION_UNRESOLVED = "direction_unresolved"
STATUS_NO_USABLE_QUOTES = "no_usable_quotes"
STATUS_TOO_FEW_RUNGS = "too_few_rungs"
STATUS_ZERO_TOTAL_MASS = "zero_total_mass"
STATUSES: tuple[str, ...] = (
    STATUS_OK,
    STATUS_EMPTY_LADDER,
    STATUS_DIRECTION_UNRESOLVED,
    STATUS_NO_USABLE_QUOTES,
    STATUS_TOO_FEW_RUNGS,
    STATUS_ZERO_TOTAL_MASS,
)

# What the quotes of a ladder state (docs/METHODS.md section 1): S(k), F(k), both (converted to S), bin masses.
DIRECTION_SURVIVAL = "survival"
DIRECTION_CDF = "cdf"
DIRECTION_SURVIVAL_AND_CDF = "survival_and_cdf"
DIRECTION_BINS = "bins"
DIRECTION_UNRESOLVED = "unresolved"
DIRECTIONS: tuple[str, ...] = (
    DIRECTION_SURVIVAL,
    DIRECTION_CDF,
    DIRECTION_SURVIVAL_AND_CDF,
    DIRECTION_BINS,
    DIRECTION_UNRESOLVED,
)
# Direction comes from `strike_type` and the strike fields, never from titles.
DIRECTION_SOURCES: tuple[str, ...] = ("strike_type", "unresolved")

# Constraint names used in violated_constraints_pre / _post (";"-joined, "" when none).
CONSTRAINT_MONOTONE = "survival_monotone"
CONSTRAINT_SUM_TO_ONE = "masses_sum_to_one"
CONSTRAINT_BINS_ORDERED = "bins_ordered"
CONSTRAINT_BINS_DISJOINT = "bins_disjoint"
CONSTRAINT_BINS_CONTIGUOUS = "bins_contiguous"
CONSTRAINTS: tuple[str, ...] = (
    CONSTRAINT_MONOTONE,
    CONSTRAINT_SUM_TO_ONE,
    CONSTRAINT_BINS_ORDERED,
    CONSTRAINT_BINS_DISJOINT,
    CONSTRAINT_BINS_CONTIGUOUS,
)

QUANTILE_LEVELS: tuple[float, ...] = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)
QUANTILE_COLUMNS: tuple[str, ...] = ("q05", "q10", "q25", "median", "q75", "q90", "q95")
MOMENT_COLUMNS: tuple[str, ...] = ("mean", "std", "skew", "excess_kurtosis", *QUANTILE_COLUMNS)

# --- the snapshot row ------------------------------------------------------------------------------
# dtype kinds: "f" float64, "i" int64, "b" bool, "O" str (object)
SNAPSHOT_SCHEMA: tuple[tuple[str, str], ...] = (
    ("status", "O"),
    ("direction", "O"),
    ("direction_source", "O"),
    ("direction_confidence", "f"),
    ("n_contracts", "i"),
    ("n_resolved", "i"),
    ("n_quotes_used", "i"),
    ("n_quotes_mid", "i"),
    ("n_quotes_last_trade", "i"),
    ("n_excluded_missing", "i"),
    ("n_excluded_stale", "i"),
    ("n_excluded_unpriced", "i"),
    ("n_bins", "i"),
    ("value_grid", "f"),
    ("strike_min", "f"),
    ("strike_max", "f"),
    ("coverage_share", "f"),
    ("two_sided_share", "f"),
    ("median_spread", "f"),
    ("median_quote_age_hours", "f"),
    ("median_depth", "f"),
    ("monotonic_violations_pre", "i"),
    ("monotonic_violation_magnitude", "f"),
    ("isotonic_adjustment_magnitude", "f"),
    ("renormalization_delta", "f"),
    ("bin_overlap_count", "i"),
    ("bin_gap_count", "i"),
    ("bin_gap_mass_estimate", "f"),
    ("bin_support_is_ordered", "b"),
    ("violated_constraints_pre", "O"),
    ("violated_constraints_post", "O"),
    ("mean", "f"),
    ("std", "f"),
    ("skew", "f"),
    ("excess_kurtosis", "f"),
    ("q05", "f"),
    ("q10", "f"),
    ("q25", "f"),
    ("median", "f"),
    ("q75", "f"),
    ("q90", "f"),
    ("q95", "f"),
    ("tail_mass_lower", "f"),
    ("tail_mass_upper", "f"),
    ("tail_mass", "f"),
    ("quality_score", "f"),
    ("quality_low", "b"),
)
SNAPSHOT_COLUMNS: tuple[str, ...] = tuple(name for name, _ in SNAPSHOT_SCHEMA)

# --- the bins of a snapshot (long: one row per bin, only for snapshots with status ok) -------------
BIN_SCHEMA: tuple[tuple[str, str], ...] = (
    ("bin_index", "i"),
    ("lower_edge", "f"),      # in value units; the open tails get a finite edge (METHODS: support points)
    ("upper_edge", "f"),
    ("support_point", "f"),
    ("mass", "f"),
    ("cdf_upper", "f"),       # P(X <= upper_edge): cumulative mass through this bin
    ("survival_upper", "f"),  # 1 - cdf_upper: the repaired survival function at the bin's upper edge
    ("is_open_tail", "b"),
)
BIN_COLUMNS: tuple[str, ...] = tuple(name for name, _ in BIN_SCHEMA)

_KIND_NAMES = {"f": "float64", "i": "int64", "b": "bool", "O": "object (str)"}
_PROB_TOL = 1e-9


def empty_snapshot_frame(key_columns: Sequence[str] = ()) -> pd.DataFrame:
    """A zero-row frame with the full snapshot schema (keys as object columns)."""
    data: dict[str, np.ndarray] = {k: np.array([], dtype=object) for k in key_columns}
    for name, kind in SNAPSHOT_SCHEMA:
        data[name] = np.array([], dtype=_numpy_dtype(kind))
    return pd.DataFrame(data)


def _numpy_dtype(kind: str) -> type | str:
    return {"f": np.float64, "i": np.int64, "b": np.bool_, "O": object}[kind]


def _check_columns(
    df: pd.DataFrame, schema: Sequence[tuple[str, str]], key_columns: Sequence[str], what: str
) -> list[str]:
    problems: list[str] = []
    expected = [*key_columns, *(name for name, _ in schema)]
    actual = list(df.columns)
    if actual != expected:
        missing = [c for c in expected if c not in actual]
        extra = [c for c in actual if c not in expected]
        if missing or extra:
            problems.append(f"{what}: missing columns {missing}, unexpected columns {extra}")
        else:
            problems.append(f"{what}: columns out of order: {actual}")
    for name, kind in schema:
        if name not in df.columns:
            continue
        dt = df[name].dtype
        ok = dt.kind == kind or (kind == "O" and pd.api.types.is_string_dtype(dt))
        if kind == "i" and dt.kind == "u":
            ok = True
        if not ok:
            problems.append(f"{what}: column {name} has dtype {dt}, expected {_KIND_NAMES[kind]}")
    return problems


def validate_snapshot_frame(df: pd.DataFrame, key_columns: Sequence[str] = ()) -> list[str]:
    """Problems with a snapshot frame (empty list when it follows the schema and its invariants)."""
    problems = _check_columns(df, SNAPSHOT_SCHEMA, key_columns, "snapshots")
    if problems or df.empty:
        return problems
    if key_columns and df.duplicated(list(key_columns)).any():
        problems.append(f"snapshots: duplicate keys {list(key_columns)}")

    def bad(mask: pd.Series | np.ndarray, message: str) -> None:
        n = int(np.asarray(mask).sum())
        if n:
            problems.append(f"snapshots: {n} rows {message}")

    # Plain numpy arrays: one conversion per column, then cheap elementwise checks.
    col = {name: df[name].to_numpy() for name, _ in SNAPSHOT_SCHEMA}
    status, direction, source = col["status"], col["direction"], col["direction_source"]
    bad(~np.isin(status, STATUSES), f"with status outside {STATUSES}")
    bad(~np.isin(direction, DIRECTIONS), f"with direction outside {DIRECTIONS}")
    bad(~np.isin(source, DIRECTION_SOURCES), f"with direction_source outside {DIRECTION_SOURCES}")
    for name in ("violated_constraints_pre", "violated_constraints_post"):
        # Few distinct values: check each once rather than splitting every row.
        values = pd.unique(df[name])
        unknown = [v for v in values if not isinstance(v, str) or any(
            c not in CONSTRAINTS for c in v.split(";") if c)]
        bad(df[name].isin(unknown).to_numpy() if unknown else np.zeros(len(df), dtype=bool),
            f"naming an unknown constraint in {name}")
    floats = {name: np.asarray(col[name], dtype=float) for name, kind in SNAPSHOT_SCHEMA if kind == "f"}
    for name in ("direction_confidence", "coverage_share", "two_sided_share", "quality_score",
                 "tail_mass_lower", "tail_mass_upper", "tail_mass"):
        v = floats[name]
        with np.errstate(invalid="ignore"):
            bad(~np.isnan(v) & ((v < -_PROB_TOL) | (v > 1 + _PROB_TOL)), f"with {name} outside [0, 1]")
    for name in ("direction_confidence", "coverage_share", "quality_score"):
        bad(np.isnan(floats[name]), f"with {name} missing")
    ints = {name: np.asarray(col[name], dtype=np.int64) for name, kind in SNAPSHOT_SCHEMA if kind == "i"}
    for name, v in ints.items():
        bad(v < 0, f"with negative {name}")
    accounted = (ints["n_quotes_used"] + ints["n_excluded_missing"] + ints["n_excluded_stale"]
                 + ints["n_excluded_unpriced"] + (ints["n_contracts"] - ints["n_resolved"]))
    bad(accounted != ints["n_contracts"], "whose used + excluded + unresolved contracts != n_contracts")
    bad(ints["n_quotes_used"] != ints["n_quotes_mid"] + ints["n_quotes_last_trade"],
        "whose n_quotes_used != n_quotes_mid + n_quotes_last_trade")

    quality_low = np.asarray(col["quality_low"], dtype=bool)
    not_ok = status != STATUS_OK
    ok = ~not_ok
    moments = np.column_stack([floats[name] for name in MOMENT_COLUMNS])
    bad(not_ok & ~np.isnan(moments).all(axis=1), "with status != ok but moments present")
    bad(not_ok & (floats["quality_score"] != 0), "with status != ok but quality_score != 0")
    bad(not_ok & ~quality_low, "with status != ok but quality_low unset")
    unresolved = direction == DIRECTION_UNRESOLVED
    bad(unresolved & ok, "with an unresolved direction but status ok")
    bad(unresolved != (source == "unresolved"), "where direction and direction_source disagree about being unresolved")
    bad((col["violated_constraints_post"] != "") & ~quality_low,
        "violating a constraint after repair without quality_low")
    core = np.column_stack([floats[name] for name in ("mean", "median", "q05", "q95")])
    bad(ok & np.isnan(core).any(axis=1), "with status ok but no mean/quantiles")
    with np.errstate(invalid="ignore"):
        bad(ok & (floats["std"] < 0), "with negative std")
    q = np.column_stack([floats[name] for name in QUANTILE_COLUMNS])[ok]
    if len(q):
        with np.errstate(invalid="ignore"):
            bad(np.diff(q, axis=1).min(axis=1) < -1e-9, "whose quantiles decrease")
    return problems


def validate_bins_frame(
    bins: pd.DataFrame, key_columns: Sequence[str] = (), sum_tolerance: float = 1e-6
) -> list[str]:
    """Problems with a bins frame: probabilities in [0, 1], masses summing to 1 per snapshot, a
    non-increasing survival function and ordered edges within each snapshot."""
    problems = _check_columns(bins, BIN_SCHEMA, key_columns, "bins")
    if problems or bins.empty:
        return problems
    keys = list(key_columns)
    for col in ("mass", "cdf_upper", "survival_upper"):
        v = bins[col].to_numpy(dtype=float)
        n = int((np.isnan(v) | (v < -_PROB_TOL) | (v > 1 + _PROB_TOL)).sum())
        if n:
            problems.append(f"bins: {n} rows with {col} outside [0, 1]")
    ordered = bins.sort_values([*keys, "bin_index"]) if keys else bins.sort_values("bin_index")
    grouped = ordered.groupby(keys, sort=False) if keys else None
    totals = grouped["mass"].sum() if grouped is not None else pd.Series([ordered["mass"].sum()])
    off = (totals - 1.0).abs() > sum_tolerance
    if off.any():
        problems.append(f"bins: {int(off.sum())} snapshots whose masses do not sum to 1 "
                        f"(worst {float((totals - 1.0).abs().max()):.3g})")
    surv = ordered["survival_upper"].to_numpy(dtype=float)
    lower = ordered["lower_edge"].to_numpy(dtype=float)
    same = np.ones(len(ordered) - 1, dtype=bool) if not keys else np.logical_and.reduce(
        [ordered[k].to_numpy()[1:] == ordered[k].to_numpy()[:-1] for k in keys]
    )
    rising = same & (surv[1:] > surv[:-1] + 1e-9)
    if rising.any():
        problems.append(f"bins: survival function increases at {int(rising.sum())} places")
    backwards = same & (lower[1:] < lower[:-1])
    if backwards.any():
        problems.append(f"bins: lower edges decrease at {int(backwards.sum())} places")
    edges_bad = ~(ordered["lower_edge"] <= ordered["upper_edge"])
    if edges_bad.any():
        problems.append(f"bins: {int(edges_bad.sum())} bins with lower_edge > upper_edge or a missing edge")
    return problems
