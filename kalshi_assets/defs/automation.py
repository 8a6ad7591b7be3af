"""When things run: a daily ingestion schedule, declarative automation for everything after it, freshness.

- `daily_ingest_schedule` (00:30 UTC, on by default) runs `daily_ingest`, the ingest group: series, events
  and markets (unpartitioned, refreshed first in the same run), then the daily partitions (quotes, forecast
  percentiles) of the UTC day that just closed.
- Everything downstream follows its inputs through `AutomationCondition`s that `automate()` puts on the
  merged definitions (the stage modules' decorators stay as they are); the automation sensor that
  evaluates them is on by default.
- Freshness policies say how old the outputs people read may get.
- The runner's three jobs (`refresh_upstream`, `backfill_partitions`, `refresh_downstream`: defs/runner.py)
  are defined here, so `kalshi-assets demo` runs jobs the UI knows; `refresh_downstream` also serves CLI
  backfills: `dagster job execute -m kalshi_assets.definitions -j refresh_downstream`.

`dagster dev` (or `make ui`) starts the UI and the daemon that runs all of it.
"""

import warnings
from datetime import timedelta

import dagster as dg

from kalshi_assets.defs import keys
from kalshi_assets.defs.partitions import daily_partitions
from kalshi_assets.defs.runner import STAGE_JOBS, stage_jobs

INGEST_GROUP = "ingest"
SCHEDULE_HOUR_UTC = 0
SCHEDULE_MINUTE = 30  # after the UTC day closes and the exchange's hourly candles for its last hour exist
AUTOMATION_SENSOR = "kalshi_automation"
REFRESH_DOWNSTREAM_JOB = STAGE_JOBS["downstream"]

daily_ingest_job = dg.define_asset_job(
    "daily_ingest",
    selection=dg.AssetSelection.groups(INGEST_GROUP),
    partitions_def=daily_partitions,
    description=(
        "The ingest group: series, events and markets (refreshed whole), then the daily partitions of one UTC "
        "day (hourly quotes, forecast percentiles)."
    ),
)

daily_ingest_schedule = dg.build_schedule_from_partitioned_job(
    daily_ingest_job,
    name="daily_ingest_schedule",
    description="Every day at 00:30 UTC: ingest the day that just closed (its daily partition).",
    hour_of_day=SCHEDULE_HOUR_UTC,
    minute_of_hour=SCHEDULE_MINUTE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    tags={"kalshi/trigger": "schedule"},
)

# --- declarative automation ------------------------------------------------------------------------

# A partitioned asset follows its inputs partition by partition: the latest day, once its inputs for
# that day exist and have updated (Dagster's eager), and never on inputs that failed a blocking check.
FOLLOW_LATEST_PARTITION = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("follow inputs (latest partition)")

# An unpartitioned asset reads every day of its partitioned inputs, and some days are always missing
# (before the first backfill, after the source's last day): eager's "no missing input" and "newly missing"
# would keep it from ever running, or run it on an empty warehouse at start-up. It runs when an input
# has updated instead.
FOLLOW_INPUTS = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & dg.AutomationCondition.all_deps_blocking_checks_passed()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("follow inputs")

# Assets with no input refresh on a clock.
HOURLY = dg.AutomationCondition.on_cron("0 * * * *", cron_timezone="UTC").with_label("hourly")

# The monitoring assets follow what writes the audit log, and also run every hour (a tampered or
# damaged log shows up even when nothing trades).
MONITORING = frozenset({keys.AUDIT_LOG_HEALTH, keys.KALSHI_API_BREAKERS})
FOLLOW_INPUTS_OR_HOURLY = (FOLLOW_INPUTS | HOURLY).with_label("follow inputs, or hourly")

# The outputs people read, and how stale they may get: the schedule runs daily, so a day plus slack for
# the run and the automation after it.
READ_OUTPUTS = frozenset(
    {
        keys.KALSHI_QUOTES,
        keys.DISTRIBUTION_SNAPSHOTS,
        keys.OUTCOMES_FIRST_PRINT,
        keys.OUTCOMES_LATEST,
        keys.EVENT_LABELS,
        keys.EVENT_FEATURES,
        keys.PROMOTION_DECISIONS,
        keys.PAPER_POSITIONS,
        keys.PAPER_PNL,
        keys.QUANTILE_FAN,
        keys.CALIBRATION_CURVE,
    }
)
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=27), warn_window=timedelta(hours=25))


def condition_for(spec: dg.AssetSpec) -> dg.AutomationCondition | None:
    """The automation condition an asset gets: none for the scheduled ingest assets."""
    if spec.group_name == INGEST_GROUP:
        return None
    if spec.key in MONITORING:
        return FOLLOW_INPUTS_OR_HOURLY
    if not spec.deps:
        return HOURLY
    return FOLLOW_LATEST_PARTITION if spec.partitions_def is not None else FOLLOW_INPUTS


def _automate_spec(spec: dg.AssetSpec, observed_only: frozenset[dg.AssetKey] = frozenset()) -> dg.AssetSpec:
    if spec.key in observed_only:  # an external asset: observed, never materialized
        return spec
    changes = {}
    if spec.automation_condition is None:  # a condition a stage chose itself wins
        condition = condition_for(spec)
        if condition is not None:
            changes["automation_condition"] = condition
    if spec.key in READ_OUTPUTS and spec.freshness_policy is None:
        changes["freshness_policy"] = DAILY_FRESHNESS
    return spec.replace_attributes(**changes) if changes else spec


def automate(defs: dg.Definitions) -> dg.Definitions:
    """The merged definitions with automation conditions and freshness policies on their assets, and the
    jobs of the runner's three stages (`refresh_upstream`, `backfill_partitions`, `refresh_downstream`:
    kalshi_assets/defs/runner.py), so `kalshi-assets demo` runs jobs the UI knows and can re-execute."""
    observed_only = frozenset(a.key for a in defs.assets or [] if isinstance(a, dg.AssetSpec))
    with warnings.catch_warnings():
        # Definitions.map_asset_specs is marked preview in Dagster 1.13; dagster is pinned (pyproject.toml)
        # and tests/defs/test_automation.py checks what it produces.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        automated = defs.map_asset_specs(func=lambda spec: _automate_spec(spec, observed_only))
    return dg.Definitions.merge(automated, dg.Definitions(jobs=stage_jobs(automated)))


automation_sensor = dg.AutomationConditionSensorDefinition(
    AUTOMATION_SENSOR,
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    run_tags={"kalshi/trigger": "automation"},
    description="Evaluates every asset's automation condition and launches what is due (on by default).",
)

defs = dg.Definitions(jobs=[daily_ingest_job], schedules=[daily_ingest_schedule], sensors=[automation_sensor])
