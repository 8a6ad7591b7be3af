"""Typed settings: which series we track, what event type each is, purge windows, gate and risk limits.

Defaults live here as plain values; `defs/resources.py` exposes them as a Dagster config resource so a
run can override them from the launchpad. Nothing here imports dagster.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

# --- event types ---------------------------------------------------------------------------------

CPI = "CPI"
FOMC = "FOMC"
UNEMPLOYMENT = "UNEMPLOYMENT"
GDP = "GDP"
PAYROLLS = "PAYROLLS"
EVENT_TYPES: tuple[str, ...] = (CPI, FOMC, UNEMPLOYMENT, GDP, PAYROLLS)

# Series ticker -> event type. Old names (FED, CPI, PAYROLLS) were renamed with a KX prefix; both map.
SERIES_EVENT_TYPES: dict[str, str] = {
    "KXCPI": CPI,
    "CPI": CPI,
    "KXFED": FOMC,
    "FED": FOMC,
    "KXFEDDECISION": FOMC,
    "KXU3": UNEMPLOYMENT,
    "U3": UNEMPLOYMENT,
    "KXPAYROLLS": PAYROLLS,
    "PAYROLLS": PAYROLLS,
    "KXGDP": GDP,
    "GDP": GDP,
}

# The series ingested by default from Kalshi's API.
DEFAULT_SERIES: tuple[str, ...] = ("KXCPI", "KXU3", "KXPAYROLLS", "KXGDP", "KXFED", "KXFEDDECISION")

# The demo exchange's `scale` knob adds replica series named <base>R<n> (KXCPIR2 ...).
_DEMO_REPLICA = re.compile(r"^(?P<base>[A-Z0-9]+?)R(?P<n>\d+)$")


def event_type_for_series(series_ticker: str) -> str | None:
    """The event type of a series, or None for a series this project does not model."""
    if series_ticker in SERIES_EVENT_TYPES:
        return SERIES_EVENT_TYPES[series_ticker]
    match = _DEMO_REPLICA.match(series_ticker)
    if match and match.group("base") in SERIES_EVENT_TYPES:
        return SERIES_EVENT_TYPES[match.group("base")]
    return None


# --- purge windows (docs/METHODS.md section 3) ---------------------------------------------------------

KALSHI_DEFAULT_PURGE_WINDOW = 2  # days, for event types without their own window (PAYROLLS)
PURGE_WINDOW_DAYS: dict[str, int] = {CPI: 3, FOMC: 1, UNEMPLOYMENT: 2, GDP: 3}


def purge_window_days(event_type: str, overrides: dict[str, int] | None = None) -> int:
    """Purge window in days for an event type; `overrides` (from the settings resource) win."""
    if overrides and event_type in overrides:
        return int(overrides[event_type])
    return PURGE_WINDOW_DAYS.get(event_type, KALSHI_DEFAULT_PURGE_WINDOW)


# --- paths and history window -------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parent.parent


def warehouse_path() -> Path:
    """The DuckDB file: $KALSHI_WAREHOUSE, else data/warehouse.duckdb inside the repository."""
    return Path(os.environ.get("KALSHI_WAREHOUSE", REPO_ROOT / "data" / "warehouse.duckdb"))


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


@dataclass(frozen=True)
class Settings:
    series: tuple[str, ...] = DEFAULT_SERIES
    purge_window_overrides: dict[str, int] = field(default_factory=dict)
    quote_rules: QuoteRules = QuoteRules()
    gates: GateLimits = GateLimits()
    risk: RiskLimits = RiskLimits()


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- value grids (docs/METHODS.md section 1, support points; used by the distributions stage) ----------

# The grid each series' released value sits on (CPI to one decimal, payrolls in thousands, the Fed's
# upper bound in quarter points). A series not listed is treated as continuous; mutually exclusive bins
# infer their grid from the step between one bin's cap and the next bin's floor.
SERIES_VALUE_GRID: dict[str, float] = {
    "KXCPI": 0.1, "CPI": 0.1, "KXU3": 0.1, "U3": 0.1, "KXGDP": 0.1, "GDP": 0.1,
    "KXPAYROLLS": 1000.0, "PAYROLLS": 1000.0, "KXFED": 0.25, "FED": 0.25,
}


def value_grid_for_series(series_ticker: str) -> float | None:
    """The reporting grid of a series (demo replicas <base>R<n> take their base's), or None."""
    if series_ticker in SERIES_VALUE_GRID:
        return SERIES_VALUE_GRID[series_ticker]
    match = _DEMO_REPLICA.match(series_ticker)
    if match and match.group("base") in SERIES_VALUE_GRID:
        return SERIES_VALUE_GRID[match.group("base")]
    return None
