"""Typed settings: which series we track, what event type each is, purge windows, gate and risk limits.

Per-series facts (event type, value grid, purge class) come from the series catalog (`catalog.py`);
the helpers below read it. Other defaults live here as plain values; `defs/resources.py` exposes them
as a Dagster config resource so a run can override them from the launchpad. Nothing here imports
dagster.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kalshi_assets.catalog import load_catalog

# --- series, event types and purge windows: from the series catalog (kalshi_assets/series_catalog.toml) ---


def event_type_for_series(series_ticker: str) -> str | None:
    """The event type of a series (by ticker, older alias or demo replica), or None if the catalog lacks it."""
    entry = load_catalog().lookup(series_ticker)
    return entry.event_type if entry is not None else None


def purge_window_days(event_type: str, overrides: dict[str, int] | None = None) -> int:
    """Purge window in days for an event type (its catalog purge class, docs/METHODS.md section 3);
    `overrides` (from the settings resource) win."""
    if overrides and event_type in overrides:
        return int(overrides[event_type])
    return purge_windows().get(event_type, DEFAULT_PURGE_WINDOW_DAYS)


def purge_windows() -> dict[str, int]:
    """Purge window in days by event type, as the catalog gives them."""
    return load_catalog().purge_window_by_event_type()


# An event type no catalog series names (only reachable through overrides or hand-made frames).
DEFAULT_PURGE_WINDOW_DAYS = 2

# Taken from the catalog when this module is imported: the series ingested from Kalshi's API by default,
# and every event type (research reports and stresses per event type).
DEFAULT_SERIES: tuple[str, ...] = load_catalog().default_series
EVENT_TYPES: tuple[str, ...] = load_catalog().event_types


# --- paths and history window -------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parent.parent


def warehouse_path() -> Path:
    """The DuckDB file: $KALSHI_WAREHOUSE, else data/warehouse.duckdb inside the repository."""
    return Path(os.environ.get("KALSHI_WAREHOUSE", REPO_ROOT / "data" / "warehouse.duckdb"))


# DuckDB's own memory per process (its buffer pool: query working sets, cached pages and table data not yet
# checkpointed), in DuckDB's syntax ("256MB", "2GB"); beyond it DuckDB spills to a temporary directory next to
# the warehouse file. DuckDB's default (80% of the machine's memory) let one query of the main job take ~1 GiB
# at demo scale 10 (issue 16). $KALSHI_DUCKDB_MEMORY_LIMIT overrides it.
DEFAULT_DUCKDB_MEMORY_LIMIT = "256MB"


def duckdb_memory_limit() -> str:
    """DuckDB's memory limit for warehouse connections: $KALSHI_DUCKDB_MEMORY_LIMIT, else the default."""
    return os.environ.get("KALSHI_DUCKDB_MEMORY_LIMIT", "").strip() or DEFAULT_DUCKDB_MEMORY_LIMIT


# First day of the daily partitions. The demo history starts here; a user with a longer Kalshi history
# sets KALSHI_HISTORY_START (YYYY-MM-DD) before the code location loads.
HISTORY_START = os.environ.get("KALSHI_HISTORY_START", "2024-10-01")


@dataclass(frozen=True)
class QuoteRules:
    """How a contract's probability is taken from its quote (docs/METHODS.md section 1, a choice)."""

    max_spread: float = 0.10
    max_staleness_hours: float = 6.0


@dataclass(frozen=True)
class GateLimits:
    """Promotion gates (docs/METHODS.md section 4)."""

    min_trades: int = 30
    min_sharpe: float = 0.0
    min_psr: float = 0.95
    min_dsr: float = 0.95
    max_drawdown: float = -0.5
    regime_min_trades: int = 5
    regime_min_sharpe: float = -0.5
    regime_max_drawdown: float = -0.6
    # Probability of backtest overfitting by CSCV: the family passes when PBO < max_pbo, i.e. the candidate
    # chosen in sample is more likely than not to beat the median out of sample (docs/METHODS.md section 4).
    max_pbo: float = 0.5
    pbo_blocks: int = 16  # S, even: C(16, 8) = 12,870 combinations
    # Candidates whose out-of-sample returns correlate at least this much count as one trial for the DSR.
    trial_min_correlation: float = 0.9


@dataclass(frozen=True)
class RiskLimits:
    """Paper/live trading risk limits, in dollars and contracts."""

    max_order_notional: float = 500.0
    max_position_per_market: int = 1000
    max_daily_loss: float = 1000.0


# --- value grids (docs/METHODS.md section 1, support points; used by the distributions stage) ----------


def value_grid_for_series(series_ticker: str) -> float | None:
    """The grid a series' released value sits on (CPI to one decimal, payrolls in thousands), from the
    catalog; None for a series without one (mutually exclusive bins infer theirs from the bins)."""
    entry = load_catalog().lookup(series_ticker)
    return entry.value_grid if entry is not None else None
