"""What the research assets share: their group, the upstream keys they name, and small helpers."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from kalshi_assets.defs.metadata import markdown_table
from kalshi_assets.defs.resources import SettingsResource

GROUP = "research"
DISTRIBUTION_SNAPSHOTS = dg.AssetKey("distribution_snapshots")
EVENT_LABELS = dg.AssetKey("event_labels")
KALSHI_EVENTS = dg.AssetKey("kalshi_events")
KALSHI_MARKETS = dg.AssetKey("kalshi_markets")
KALSHI_QUOTES = dg.AssetKey("kalshi_quotes")
KALSHI_SERIES = dg.AssetKey("kalshi_series")
KALSHI_FORECAST_PERCENTILES = dg.AssetKey("kalshi_forecast_percentiles")
# Kalshi pays on the first print: trades always settle on it, whatever label mode cuts the folds.
SETTLEMENT_LABEL_MODE = "first_print"


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def purge_windows(settings: SettingsResource, event_types: object) -> dict[str, int]:
    """The settings resource's window for every event type present (it owns the defaults)."""
    return {str(t): settings.purge_days(str(t)) for t in sorted(set(event_types))}  # type: ignore[call-overload]


def md(frame: pd.DataFrame, max_rows: int = 30) -> dg.MetadataValue:
    return dg.MetadataValue.md(markdown_table(frame, max_rows=max_rows))


def problems_md(problems: list[str], limit: int = 10) -> dg.MetadataValue:
    return dg.MetadataValue.md("\n".join(f"- {p}" for p in problems[:limit]) or "none")
