"""The daily partitions every partitioned asset shares (one per UTC day).

They start at settings.HISTORY_START. On the embedded demo exchange (the default source) they end where
the demo's history ends (the day before DEMO_END), so the UI shows no partition "Missing" that could
never exist; on Kalshi's API they run to yesterday. KALSHI_HISTORY_END (YYYY-MM-DD, exclusive) sets the
end explicitly, for either source.
"""

import os
from datetime import UTC, datetime

import dagster as dg

from kalshi_assets import settings
from kalshi_assets.demo.exchange import DEMO_END


def history_end(environ: dict[str, str] | None = None) -> str | None:
    """The exclusive end date of the daily partitions: $KALSHI_HISTORY_END, else DEMO_END's day on the demo
    source, else None (open: up to yesterday)."""
    environ = os.environ if environ is None else environ
    if environ.get("KALSHI_HISTORY_END"):
        return environ["KALSHI_HISTORY_END"]
    if environ.get("KALSHI_SOURCE", "demo") != "demo":
        return None
    return DEMO_END.date().isoformat()


daily_partitions = dg.DailyPartitionsDefinition(
    start_date=settings.HISTORY_START, end_date=history_end(), timezone="UTC", end_offset=0
)


def utc_window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    """The run's partition window as naive UTC datetimes (the warehouse's times)."""
    window = context.partition_time_window
    return window.start.astimezone(UTC).replace(tzinfo=None), window.end.astimezone(UTC).replace(tzinfo=None)
