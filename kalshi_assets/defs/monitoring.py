"""Monitoring in the UI: the audit log's health and the Kalshi API's circuit breakers, observed every few minutes.

`kalshi_api_breakers` (an asset materialized after `paper_orders`, the asset that writes audit records)
holds each breaker's state and counters as the audit log recorded them from every process, and the API
calls by outcome. `pipeline_monitor` (a sensor, on by default) also records observations of it and of
`audit_log_health` (verify status, last sequence, records, first problems) every five minutes. The asset
pages show both; `kalshi-assets status` prints the same figures (kalshi_assets/service.py).
"""

import dagster as dg

from kalshi_assets import service
from kalshi_assets.defs import keys
from kalshi_assets.defs.metadata import display_metadata, markdown_table
from kalshi_assets.defs.resources import AuditLogResource

MONITOR_INTERVAL_S = 300

def audit_metadata(audit: dict) -> dict[str, dg.MetadataValue]:
    problems = "\n".join(f"- {p}" for p in audit["problems"]) or "_none_"
    return {
        "verify_status": dg.MetadataValue.text(audit["verify_status"]),
        "last_seq": dg.MetadataValue.int(int(audit["last_seq"] or 0)),
        "total_entries": dg.MetadataValue.int(int(audit["total_entries"])),
        "checkpoint_seq": dg.MetadataValue.int(int(audit["checkpoint_seq"] or 0)),
        "problem_count": dg.MetadataValue.int(int(audit["problem_count"])),
        "problems": dg.MetadataValue.md(problems),
        "directory": dg.MetadataValue.path(audit["directory"]),
    }


def breaker_metadata(breakers: dict) -> dict[str, dg.MetadataValue]:
    import pandas as pd

    calls = breakers["api_calls"]
    table = pd.DataFrame(breakers["breakers"])
    states = {b["name"]: b["state"] for b in breakers["breakers"]}
    return {
        "open_breakers": dg.MetadataValue.int(sum(1 for s in states.values() if s != "closed")),
        "times_opened": dg.MetadataValue.int(sum(int(b["times_opened"]) for b in breakers["breakers"])),
        "breakers": dg.MetadataValue.md(markdown_table(table, max_rows=50) if not table.empty else "_no state change recorded_"),
        "api_calls": dg.MetadataValue.int(int(calls["total"])),
        "api_failure_rate": dg.MetadataValue.float(float(calls["failure_rate"])),
        "api_throttled": dg.MetadataValue.int(int(calls["throttled"])),
        "api_server_errors": dg.MetadataValue.int(int(calls["server_error"])),
        "api_unanswered": dg.MetadataValue.int(int(calls["no_response"])),
        "api_median_ms": dg.MetadataValue.float(float(calls["median_ms"] or 0.0)),
    }


@dg.asset(
    key=keys.KALSHI_API_BREAKERS,
    group_name="monitoring",
    # After what writes breaker changes and API calls to the audit log, so it counts them.
    deps=[keys.PAPER_ORDERS],
    kinds={"python"},
    description=(
        "Circuit breakers of the Kalshi API client: state, times opened, success rate, and the API calls by "
        "outcome, from the audit log (every process's breaker changes are audit records). Materialized after "
        "paper_orders and every hour; the pipeline_monitor sensor also observes it every 5 minutes."
    ),
)
def kalshi_api_breakers(audit_log: AuditLogResource) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata=display_metadata(breaker_metadata(service.breaker_status(audit_log.directory))))


def observations(audit_log: AuditLogResource) -> list[dg.AssetObservation]:
    audit = service.audit_status(audit_log.directory)
    breakers = service.breaker_status(audit_log.directory)
    return [
        dg.AssetObservation(asset_key=keys.AUDIT_LOG_HEALTH, metadata=audit_metadata(audit)),
        dg.AssetObservation(asset_key=keys.KALSHI_API_BREAKERS, metadata=display_metadata(breaker_metadata(breakers))),
    ]


@dg.sensor(
    name="pipeline_monitor",
    minimum_interval_seconds=MONITOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Observes the audit log's health and the API circuit breakers every 5 minutes (no runs).",
)
def pipeline_monitor(context: dg.SensorEvaluationContext, audit_log: AuditLogResource) -> dg.SensorResult:
    events = observations(audit_log)
    status = events[0].metadata["verify_status"].value
    if status == "damaged":
        context.log.error(f"audit log {audit_log.directory} is damaged: run `kalshi-assets audit verify`")
    return dg.SensorResult(asset_events=events)


defs = dg.Definitions(assets=[kalshi_api_breakers], sensors=[pipeline_monitor])
