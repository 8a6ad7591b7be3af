"""The daily partitions every partitioned asset shares (one per UTC day).

They start at settings.HISTORY_START. On the embedded demo exchange (the default source) they end where
the demo's history ends (the day before DEMO_END), so the UI shows no partition "Missing" that could
never exist; on Kalshi's API they run to yesterday. KALSHI_HISTORY_END (YYYY-MM-DD, exclusive) sets the
end explicitly, for either source.
"""

import os
from datetime import datetime

import dagster as dg

from kalshi_assets import settings
from kalshi_assets.demo.exchange import DEMO_END
from kalshi_assets.times import naive_utc


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
    return naive_utc(window.start), naive_utc(window.end)


# How a backfill of the daily partitions is cut into runs. On the single DuckDB file one process writes at a
# time, so a backfill is one run over the whole range (each asset reads and writes it in one go). On the lake
# (KALSHI_WAREHOUSE=ducklake:...) writers run side by side, so a backfill becomes runs of
# KALSHI_BACKFILL_RUN_SIZE partitions (default 10) that the daemon spreads over the workers (docs/DEPLOY.md);
# 0 keeps one run over the range there too (what `dagster asset materialize --partition-range` needs).
DEFAULT_RUN_SIZE = 10


def backfill_policy_for(environ: dict[str, str] | None = None) -> dg.BackfillPolicy:
    environ = os.environ if environ is None else environ
    run_size = int(environ.get("KALSHI_BACKFILL_RUN_SIZE", DEFAULT_RUN_SIZE))
    if environ.get("KALSHI_WAREHOUSE", "").startswith("ducklake:") and run_size > 0:
        return dg.BackfillPolicy.multi_run(max_partitions_per_run=run_size)
    return dg.BackfillPolicy.single_run()


backfill_policy = backfill_policy_for()
