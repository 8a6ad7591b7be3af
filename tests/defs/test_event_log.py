"""defs/event_log.py: the main job's instance (runner.instance_for_cli) stores events through
BatchedSqliteEventLogStorage, which keeps every per-partition event (the UI's per-partition status) in the
files Dagster's own SQLite storage reads, while writing batches at once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from kalshi_assets.defs.event_log import BatchedSqliteEventLogStorage
from kalshi_assets.defs.runner import instance_for_cli

REPO = Path(__file__).resolve().parents[2]
DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-11")
RANGE_TAGS = {"dagster/asset_partition_range_start": "2026-01-01", "dagster/asset_partition_range_end": "2026-01-10"}


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def upstream_days() -> None:
    return None


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run(), deps=[upstream_days])
def downstream_days() -> None:
    return None


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run(), deps=[upstream_days])
def failing_days() -> None:
    raise RuntimeError("boom")


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with instance_for_cli() as instance:
        yield instance


def _stock_home(tmp_path: Path) -> Path:
    """A Dagster home whose dagster.yaml names Dagster's own SQLite event log storage."""
    home = tmp_path / "stock_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(f"event_log_storage:\n  module: dagster._core.storage.event_log\n"
                                       f"  class: SqliteEventLogStorage\n  config:\n"
                                       f"    base_dir: {tmp_path / 'stock_events'}\n")
    return home


def _events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list:
    return [e for e in instance.all_logs(run_id) if e.dagster_event and e.dagster_event.event_type == kind]


def test_the_main_jobs_instance_uses_the_batched_storage_on_dagster_homes_files(instance) -> None:
    storage = instance.event_log_storage
    assert isinstance(storage, BatchedSqliteEventLogStorage)
    assert Path(storage._base_dir) == Path(os.environ["DAGSTER_HOME"]) / "history" / "runs"
    assert os.environ.get("DAGSTER_EVENT_BATCH_SIZE")  # Dagster hands batches only when it is set


def test_a_single_run_backfill_keeps_one_planned_and_one_materialization_event_per_partition(instance) -> None:
    result = dg.materialize([upstream_days, downstream_days], instance=instance, tags=RANGE_TAGS)
    assert result.success
    keys = DAYS.get_partition_keys()
    planned = _events(instance, result.run_id, dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
    done = _events(instance, result.run_id, dg.DagsterEventType.ASSET_MATERIALIZATION)
    for events in (planned, done):
        assert sorted((e.dagster_event.asset_key.path[-1], e.dagster_event.partition) for e in events) == sorted(
            (name, key) for name in ("downstream_days", "upstream_days") for key in keys)
    for asset in (upstream_days, downstream_days):
        assert instance.get_materialized_partitions(asset.key) == set(keys)
    with dg.DagsterInstance.get() as stock:  # what the UI opens: the home's dagster.yaml, Dagster's storage
        assert not isinstance(stock.event_log_storage, BatchedSqliteEventLogStorage)
        assert len(_events(stock, result.run_id, dg.DagsterEventType.ASSET_MATERIALIZATION)) == 2 * len(keys)
        assert stock.get_materialized_partitions(downstream_days.key) == set(keys)
    # A second run of the same days adds its own events next to the first run's (nothing overwritten).
    again = dg.materialize([upstream_days], instance=instance, tags=RANGE_TAGS)
    assert len(_events(instance, again.run_id, dg.DagsterEventType.ASSET_MATERIALIZATION)) == len(keys)
    assert len(_events(instance, result.run_id, dg.DagsterEventType.ASSET_MATERIALIZATION)) == 2 * len(keys)


def test_a_home_with_its_own_storage_keeps_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(_stock_home(tmp_path)))
    with instance_for_cli() as instance:
        assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"


def test_a_failed_backfill_keeps_one_planned_event_per_partition_and_no_materialization(instance) -> None:
    result = dg.materialize([upstream_days, failing_days], instance=instance, tags=RANGE_TAGS,
                            raise_on_error=False)
    assert not result.success
    planned = _events(instance, result.run_id, dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
    assert {e.dagster_event.partition for e in planned if e.dagster_event.asset_key == failing_days.key} == set(
        DAYS.get_partition_keys())
    failed = instance.get_latest_planned_materialization_info(failing_days.key)
    assert failed is not None and failed.run_id == result.run_id
    assert instance.get_materialized_partitions(failing_days.key) == set()


@dg.asset_check(asset=upstream_days)
def upstream_days_are_fine() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def _check_executions(instance: dg.DagsterInstance) -> list[tuple]:
    import sqlalchemy as sa
    from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
    from dagster._serdes import deserialize_value

    table = AssetCheckExecutionsTable.c
    with instance.event_log_storage.index_connection() as conn:
        rows = conn.execute(sa.select(table.check_name, table.partition, table.execution_status,
                                      table.evaluation_event)).fetchall()
    return sorted(((name, partition, status, deserialize_value(event).dagster_event.event_type_value)
                   for name, partition, status, event in rows), key=repr)


def test_a_partitioned_checks_execution_rows_are_dagsters_own(instance, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """One execution row per partition of a partitioned check, as Dagster's storage writes them (the batched
    storage serializes the planned event once for all of them)."""
    result = dg.materialize([upstream_days, upstream_days_are_fine], instance=instance, tags=RANGE_TAGS)
    assert result.success
    monkeypatch.setenv("DAGSTER_HOME", str(_stock_home(tmp_path)))
    with instance_for_cli() as stock:
        assert type(stock.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert dg.materialize([upstream_days, upstream_days_are_fine], instance=stock, tags=RANGE_TAGS).success
        expected = _check_executions(stock)
    got = _check_executions(instance)
    assert {row[1] for row in got if row[2] == "PLANNED"} == set(DAYS.get_partition_keys())
    assert got == expected


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run(), deps=[upstream_days])
def versioned_days() -> dg.MaterializeResult:
    return dg.MaterializeResult(data_version=dg.DataVersion("v1"), metadata={"rows": 3})


@dg.asset(deps=[versioned_days])
def whole_history(context) -> None:  # noqa: ANN001 - Dagster reads the annotation; postponed ones it refuses
    context.log_event(dg.AssetObservation(asset_key=context.asset_key, metadata={"seen": 1}))


@dg.asset_check(asset=whole_history)
def whole_history_is_fine() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, metadata={"why": "a failed check is stored too"})


def _index_rows(instance: dg.DagsterInstance) -> dict[str, list]:
    """The index shard's rows that a run writes, with ids as positions and run ids, timestamps and
    serialized events reduced to what does not differ between two runs of the same graph."""
    import sqlalchemy as sa
    from dagster._core.storage.event_log.schema import (
        AssetCheckExecutionsTable,
        AssetEventTagsTable,
        AssetKeyTable,
        SqlEventLogStorageTable,
    )
    from dagster._serdes import deserialize_value

    with instance.event_log_storage.index_connection() as conn:
        events = conn.execute(sa.select(SqlEventLogStorageTable.c.id, SqlEventLogStorageTable.c.dagster_event_type,
                                        SqlEventLogStorageTable.c.step_key, SqlEventLogStorageTable.c.asset_key,
                                        SqlEventLogStorageTable.c.partition)
                              .order_by(SqlEventLogStorageTable.c.id)).fetchall()
        position = {row.id: i for i, row in enumerate(events)}
        keys = conn.execute(sa.select(AssetKeyTable.c.asset_key, AssetKeyTable.c.last_materialization,
                                      AssetKeyTable.c.last_run_id, AssetKeyTable.c.last_materialization_timestamp)
                            ).fetchall()
        tags = conn.execute(sa.select(AssetEventTagsTable.c.event_id, AssetEventTagsTable.c.asset_key,
                                      AssetEventTagsTable.c.key)).fetchall()
        checks = conn.execute(sa.select(AssetCheckExecutionsTable.c.check_name, AssetCheckExecutionsTable.c.partition,
                                        AssetCheckExecutionsTable.c.execution_status,
                                        AssetCheckExecutionsTable.c.evaluation_event_storage_id)).fetchall()
    run_ids = [run.run_id for run in instance.get_runs(ascending=True)]

    def last_materialization(text: str | None) -> tuple | None:
        if text is None:
            return None
        record = deserialize_value(text)
        return position[record.storage_id], record.event_log_entry.dagster_event.partition

    return {
        "events": [tuple(row)[1:] for row in events],
        "asset_keys": sorted((row.asset_key, last_materialization(row.last_materialization),
                              run_ids.index(row.last_run_id) if row.last_run_id else None,
                              row.last_materialization_timestamp is not None) for row in keys),
        "tags": sorted((position[row.event_id], row.asset_key, row.key) for row in tags),
        "checks": sorted(((row.check_name, row.partition, row.execution_status,
                           position.get(row.evaluation_event_storage_id)) for row in checks), key=repr),
    }


def _run_graph(instance: dg.DagsterInstance) -> list[list[tuple]]:
    """A partition range with a partitioned check and data versions, an unpartitioned asset with an
    observation and a failing check, and a failed range run; each run's own shard rows."""
    import sqlalchemy as sa
    from dagster._core.storage.event_log.schema import SqlEventLogStorageTable

    results = [
        dg.materialize([upstream_days, upstream_days_are_fine, versioned_days], instance=instance, tags=RANGE_TAGS),
        dg.materialize([whole_history, whole_history_is_fine], instance=instance),
        dg.materialize([upstream_days, failing_days], instance=instance, tags=RANGE_TAGS, raise_on_error=False),
    ]
    shards = []
    for result in results:
        with instance.event_log_storage.run_connection(result.run_id) as conn:
            table = SqlEventLogStorageTable.c
            shards.append([tuple(row) for row in conn.execute(
                sa.select(table.dagster_event_type, table.step_key, table.asset_key, table.partition)
                .order_by(table.id))])
    return shards


def test_a_batch_stores_the_rows_dagsters_own_storage_stores(instance, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Every index table a run writes (events, asset keys with their last materialization, indexed tags,
    check executions) and every run shard hold the same rows, in the same order, as with Dagster's storage."""
    got_shards = _run_graph(instance)
    got = _index_rows(instance)
    monkeypatch.setenv("DAGSTER_HOME", str(_stock_home(tmp_path)))
    with instance_for_cli() as stock:
        assert type(stock.event_log_storage).__name__ == "SqliteEventLogStorage"
        expected_shards = _run_graph(stock)
        expected = _index_rows(stock)
    assert got_shards == expected_shards
    kinds = {row[0] for row in got["events"]}
    assert {"ASSET_MATERIALIZATION_PLANNED", "ASSET_MATERIALIZATION", "ASSET_OBSERVATION",
            "ASSET_CHECK_EVALUATION_PLANNED", "ASSET_CHECK_EVALUATION",
            "PIPELINE_SUCCESS", "PIPELINE_FAILURE"} <= kinds
    assert got["tags"] and got["checks"] and len(got["asset_keys"]) == 4
    for table in ("events", "asset_keys", "tags", "checks"):
        assert got[table] == expected[table], table
