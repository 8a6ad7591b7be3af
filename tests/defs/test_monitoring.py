"""The pipeline_monitor sensor: audit log health and circuit breakers as asset observations."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from kalshi_assets.definitions import defs
from kalshi_assets.defs import keys, monitoring
from kalshi_assets.defs.resources import AuditLogResource
from tests import service_warehouse as sw


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KALSHI_AUDIT_HMAC_KEY", raising=False)


def _evaluate(directory: Path, instance: dg.DagsterInstance) -> dict[dg.AssetKey, dict]:
    with dg.build_sensor_context(instance=instance, resources={"audit_log": AuditLogResource(directory=str(directory))}) as ctx:
        result = monitoring.pipeline_monitor(ctx)
    assert isinstance(result, dg.SensorResult) and not result.run_requests
    return {event.asset_key: {k: v.value for k, v in event.metadata.items()} for event in result.asset_events}


def test_observations_carry_audit_health_and_breaker_stats(tmp_path: Path) -> None:
    audit = sw.build_audit_log(tmp_path / "audit")
    with dg.instance_for_test() as instance:
        seen = _evaluate(audit, instance)
    health = seen[keys.AUDIT_LOG_HEALTH]
    assert (health["verify_status"], health["last_seq"], health["total_entries"], health["problem_count"]) == ("ok", 8, 8, 0)
    breakers = seen[keys.KALSHI_API_BREAKERS]
    assert breakers["open_breakers"] == 0 and breakers["times_opened"] == 1
    assert breakers["api_calls"] == 5 and breakers["api_throttled"] == 1 and breakers["api_unanswered"] == 1
    assert breakers["api_failure_rate"] == pytest.approx(0.6)
    assert "kalshi" in breakers["breakers"] and "closed" in breakers["breakers"]


def test_a_damaged_log_is_observed_as_damaged(tmp_path: Path) -> None:
    audit = sw.build_audit_log(tmp_path / "audit")
    sw.damage_audit_log(audit)
    with dg.instance_for_test() as instance:
        health = _evaluate(audit, instance)[keys.AUDIT_LOG_HEALTH]
    assert health["verify_status"] == "damaged" and health["problem_count"] == 1
    assert "seq 2" in health["problems"]


def test_no_log_yet_is_absent_not_an_error(tmp_path: Path) -> None:
    with dg.instance_for_test() as instance:
        seen = _evaluate(tmp_path / "none", instance)
    assert seen[keys.AUDIT_LOG_HEALTH]["verify_status"] == "absent"
    assert seen[keys.KALSHI_API_BREAKERS]["api_calls"] == 0
    assert not (tmp_path / "none").exists()


def test_the_monitor_is_on_by_default_and_its_observations_land_on_the_ui_assets(tmp_path: Path) -> None:
    sensor = defs.resolve_sensor_def("pipeline_monitor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    graph = defs.resolve_asset_graph()
    assert keys.AUDIT_LOG_HEALTH in graph.get_all_asset_keys()
    node = graph.get(keys.KALSHI_API_BREAKERS)
    assert node.is_materializable and dg.AssetKey("paper_orders") in node.parent_keys  # after what writes it
    assert dg.AssetKey("paper_orders") in graph.get(keys.AUDIT_LOG_HEALTH).parent_keys
    audit = sw.build_audit_log(tmp_path / "audit")
    with dg.instance_for_test() as instance:
        for observation in monitoring.observations(AuditLogResource(directory=str(audit))):
            instance.report_runless_asset_event(observation)
        record = instance.fetch_observations(keys.KALSHI_API_BREAKERS, limit=1).records[0]
        assert record.asset_observation.metadata["api_calls"].value == 5
        health = instance.fetch_observations(keys.AUDIT_LOG_HEALTH, limit=1).records[0]
        assert health.asset_observation.metadata["last_seq"].value == 8


def test_the_breaker_asset_materializes_what_the_audit_log_recorded(tmp_path: Path) -> None:
    audit = sw.build_audit_log(tmp_path / "audit")
    result = dg.materialize([monitoring.kalshi_api_breakers],
                            resources={"audit_log": AuditLogResource(directory=str(audit))})
    (event,) = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata["api_calls"] == 5 and metadata["times_opened"] == 1 and metadata["open_breakers"] == 0
