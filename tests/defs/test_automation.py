"""The schedule, the automation conditions and the freshness policies of the code location."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from kalshi_assets.definitions import defs
from kalshi_assets.defs import automation
from kalshi_assets.defs.runner import plan_stages

SCHEDULE = "daily_ingest_schedule"


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def _tick(when: datetime) -> list[dg.RunRequest]:
    schedule = defs.resolve_schedule_def(SCHEDULE)
    with dg.instance_for_test() as instance:
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def()
        ) as context:
            return list(schedule.evaluate_tick(context).run_requests or [])


# --- the schedule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tick", "partition"),
    [
        (datetime(2026, 10, 2, 0, 30, tzinfo=UTC), "2026-10-01"),
        (datetime(2026, 1, 1, 0, 30, tzinfo=UTC), "2025-12-31"),  # across a year end
        (datetime(2026, 3, 1, 0, 30, tzinfo=UTC), "2026-02-28"),
        (datetime(2024, 10, 2, 0, 30, tzinfo=UTC), "2024-10-01"),  # the first partition
        # The same instant written in New York time targets the same UTC day.
        (datetime(2026, 10, 1, 20, 30, tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo("America/New_York")),
         "2026-09-30"),
    ],
)
def test_a_tick_ingests_the_utc_day_that_just_closed(tick: datetime, partition: str) -> None:
    (request,) = _tick(tick)
    assert request.partition_key == partition
    assert request.job_name == "daily_ingest"
    assert request.tags["kalshi/trigger"] == "schedule"


def test_the_schedule_runs_daily_after_the_utc_day_closes_and_is_on_by_default() -> None:
    schedule = defs.resolve_schedule_def(SCHEDULE)
    assert schedule.cron_schedule == "30 0 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_the_daily_job_refreshes_the_unpartitioned_ingest_assets_in_the_same_run(graph) -> None:
    job = defs.resolve_job_def("daily_ingest")
    selected = set(job.asset_layer.executable_asset_keys)
    ingest = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "ingest"}
    assert selected == ingest
    names = {k.to_user_string() for k in selected}
    assert {"kalshi_series", "kalshi_events", "kalshi_markets", "kalshi_quotes"} <= names
    partitioned = {k for k in selected if graph.get(k).partitions_def is not None}
    assert {k.to_user_string() for k in partitioned} >= {"kalshi_quotes"}
    assert all(graph.get(k).partitions_def == job.partitions_def for k in partitioned)


# --- declarative automation -----------------------------------------------------------------------


def test_the_automation_sensor_is_on_by_default_and_covers_every_asset() -> None:
    sensor = defs.resolve_sensor_def(automation.AUTOMATION_SENSOR)
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.asset_selection == dg.AssetSelection.all()


def test_every_asset_after_ingestion_follows_its_inputs(graph) -> None:
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        condition = node.automation_condition
        if node.group_name == "ingest":
            assert condition is None, f"{key.to_user_string()} is scheduled, not automated"
        elif not node.is_materializable:
            assert condition is None, key
        elif key in automation.MONITORING:
            assert condition is not None and condition.get_label() == "follow inputs, or hourly", key
        elif not node.parent_keys:
            assert condition is not None and condition.get_label() == "hourly", key
        elif node.partitions_def is not None:
            assert condition is not None and condition.get_label() == automation.FOLLOW_LATEST_PARTITION.get_label(), key
        else:
            assert condition is not None and condition.get_label() == automation.FOLLOW_INPUTS.get_label(), key


def test_outputs_people_read_carry_a_daily_freshness_policy(graph) -> None:
    keys = set(graph.get_all_asset_keys())
    read = [k for k in automation.READ_OUTPUTS if k in keys]
    assert dg.AssetKey("kalshi_quotes") in read and dg.AssetKey("quantile_fan") in read
    for key in read:
        policy = graph.get(key).freshness_policy
        assert policy is not None, key
        assert policy.fail_window.to_timedelta() == timedelta(hours=27)
        assert policy.warn_window.to_timedelta() == timedelta(hours=25)


def test_a_condition_a_stage_chose_itself_is_kept() -> None:
    own = dg.AutomationCondition.on_cron("0 6 * * *")

    @dg.asset(group_name="research", deps=["upstream"], automation_condition=own)
    def chosen() -> None: ...

    @dg.asset(group_name="research", deps=["upstream"])
    def plain() -> None: ...

    @dg.asset(group_name="ingest")
    def upstream() -> None: ...

    automated = automation.automate(dg.Definitions(assets=[upstream, chosen, plain]))
    graph = automated.resolve_asset_graph()
    assert graph.get(dg.AssetKey("chosen")).automation_condition.get_label() == own.get_label()
    assert graph.get(dg.AssetKey("plain")).automation_condition.get_label() == "follow inputs"
    assert graph.get(dg.AssetKey("upstream")).automation_condition is None


def test_refresh_downstream_holds_every_unpartitioned_asset_after_the_partitioned_ones(graph) -> None:
    job = defs.resolve_job_def(automation.REFRESH_DOWNSTREAM_JOB)
    selected = set(job.asset_layer.executable_asset_keys)
    assert selected == set(dict(plan_stages(defs))["downstream"])
    assert all(graph.get(k).partitions_def is None and graph.get(k).group_name != "ingest" for k in selected)
    assert {"quantile_fan", "calibration_curve"} <= {k.to_user_string() for k in selected}


def _report_ingest(instance: dg.DagsterInstance, graph, partitions: list[str]) -> None:
    """What a daily_ingest run leaves in the instance: materializations and passed checks."""
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.group_name != "ingest":
            continue
        for partition in partitions if node.partitions_def is not None else [None]:
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))
    for check in graph.asset_check_keys:
        if graph.get(check.asset_key).group_name == "ingest":
            instance.report_runless_asset_event(
                dg.AssetCheckEvaluation(asset_key=check.asset_key, check_name=check.name, passed=True)
            )


def _report_runs(instance: dg.DagsterInstance, graph, requested: dict[str, set]) -> None:
    """The requested runs succeeded: their materializations and passed checks."""
    for name, partitions in requested.items():
        key = dg.AssetKey(name)
        for partition in partitions or [None]:
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))
        for check in graph.get(key).check_keys:
            instance.report_runless_asset_event(
                dg.AssetCheckEvaluation(asset_key=key, check_name=check.name, passed=True)
            )


def _requested(result) -> dict[str, set]:
    out = {}
    for evaluation in result.results:
        if evaluation.true_subset.size:
            key = evaluation.key
            out[key.to_user_string()] = result.get_requested_partitions(key)
    return out


def test_after_the_scheduled_ingest_the_downstream_assets_follow_once(graph) -> None:
    now = datetime(2026, 10, 3, 1, 0, tzinfo=UTC)
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs, instance, evaluation_time=now)
        # Nothing runs on an empty instance: no storm of runs on an empty warehouse at start-up.
        assert first.total_requested == 0

        _report_ingest(instance, graph, ["2026-10-01", "2026-10-02"])
        second = dg.evaluate_automation_conditions(defs, instance, evaluation_time=now, cursor=first.cursor)
        requested = _requested(second)
        assert requested.get("distribution_snapshots") == {"2026-10-02"}  # the latest day only
        assert {"outcomes_first_print", "outcomes_revisions"} <= set(requested)
        assert not any(graph.get(dg.AssetKey(name)).group_name == "ingest" for name in requested)
        # The pictures read outcomes_first_print, whose blocking check has not passed on its new data yet.
        assert "calibration_curve" not in requested

        # Those runs finish and their checks pass: the next layer follows.
        _report_runs(instance, graph, requested)
        third = dg.evaluate_automation_conditions(defs, instance, evaluation_time=now, cursor=second.cursor)
        assert {"calibration_curve", "quantile_fan"} <= set(_requested(third))
        _report_runs(instance, graph, _requested(third))

        # Handled: nothing is requested again until an input updates again.
        later = dg.evaluate_automation_conditions(defs, instance, evaluation_time=now, cursor=third.cursor)
        settled = dg.evaluate_automation_conditions(defs, instance, evaluation_time=now, cursor=later.cursor)
        assert settled.total_requested == 0


def test_a_failed_blocking_check_upstream_holds_the_followers_back(graph) -> None:
    now = datetime(2026, 10, 3, 1, 0, tzinfo=UTC)
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs, instance, evaluation_time=now)
        _report_ingest(instance, graph, ["2026-10-01", "2026-10-02"])
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(asset_key=dg.AssetKey("kalshi_markets"), check_name="markets_keys_and_events",
                                    passed=False)
        )
        requested = _requested(dg.evaluate_automation_conditions(defs, instance, evaluation_time=now,
                                                                 cursor=first.cursor))
        followers_of_markets = {
            k.to_user_string() for k in graph.get(dg.AssetKey("kalshi_markets")).child_keys
            if graph.get(k).group_name != "ingest"
        }
        assert followers_of_markets and not followers_of_markets & set(requested)
