"""Dagster's SQLite event log, writing a batch of events in one transaction per shard.

A single-run backfill of 3 daily assets over two years logs one ASSET_MATERIALIZATION_PLANNED event
and one ASSET_MATERIALIZATION per asset and day (about 4,600 events; the UI's per-partition status
is built from them). Dagster's SqliteEventLogStorage opens a new engine, a new connection and two
commits (run shard and index shard) for every event, and closing the last connection to a WAL file
checkpoints it: the main job spent most of its wall time there (benchmarks/bench_pipeline.py).

This subclass stores the same events, with the same rows in the same shards, but
- keeps one pooled engine per shard instead of one engine per statement (no checkpoint per event);
- writes the batches Dagster hands it (the planned events of a run, the materializations of a
  partitioned step) in one transaction per shard, Dagster does that when DAGSTER_EVENT_BATCH_SIZE is
  set, which importing this module does (the runner of the main job imports it);
- runs SQLite with synchronous=NORMAL, the setting SQLite recommends with WAL: a power cut can lose
  the last committed events, never corrupt the file. Deployments that need more use Postgres
  (deploy/dagster.yaml).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from dagster import EventLogEntry, StringSource

# Private Dagster APIs: Dagster 1.13 has no public base class for a custom event log storage; the
# storage is named by module and class in dagster.yaml, and these are the SQLite storage it extends.
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, EVENT_TYPE_TO_PIPELINE_RUN_STATUS
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    AssetKeyTable,
    SqlEventLogStorageTable,
)
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import serialize_value

# Events per stored batch. Dagster buffers a batch until its last event or this many events.
EVENT_BATCH_SIZE = "2000"
os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)
# Engines kept open: the index shard plus the most recently written runs.
MAX_OPEN_SHARDS = 8


def event_log_directory(home: str | os.PathLike) -> str:
    """Where Dagster's default SQLite event log of an instance home lives (its history stays readable)."""
    return os.path.join(os.fspath(home), "history", "runs", "")


def batched_event_log(home: str | os.PathLike) -> dict:
    """Instance overrides (InstanceRef.from_dir) that store a home's events through this storage, in the
    files Dagster's default SQLite storage of that home uses (the runner applies them only to such a home)."""
    return {"event_log_storage": {"module": __name__, "class": BatchedSqliteEventLogStorage.__name__,
                                  "config": {"base_dir": event_log_directory(home)}}}


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with pooled engines and one transaction per shard for a batch of events."""

    def __init__(self, base_dir: str, inst_data=None) -> None:
        self._engines: OrderedDict[str, sa.Engine] = OrderedDict()
        self._batch_connections: dict[str, sa.Connection] = {}
        self._known_tables: set[str] = set()
        self._known_asset_key_columns: set[str] = set()
        super().__init__(base_dir, inst_data=inst_data)
        self._db_lock = threading.RLock()  # a batch holds it while store_event takes it again

    @classmethod
    def config_type(cls):
        return {"base_dir": StringSource}

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> BatchedSqliteEventLogStorage:
        return cls(base_dir=config_value["base_dir"], inst_data=inst_data)

    def _engine(self, shard: str) -> sa.Engine:
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = sa.create_engine(self.conn_string_for_shard(shard),
                                      connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            sa.event.listen(engine, "connect", _synchronous_normal)
            while len(self._engines) >= MAX_OPEN_SHARDS:
                self._engines.popitem(last=False)[1].dispose()
        self._engines[shard] = engine  # most recently used last
        return engine

    @contextlib.contextmanager
    def _connect(self, shard: str) -> Iterator[sa.Connection]:
        with self._db_lock:
            batch = self._batch_connections.get(shard)
            if batch is not None:  # inside store_event_batch: its transaction commits the whole batch
                yield batch
                return
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """The rows store_event stores for every event, in one transaction per shard (all or none).

        Dagster's store_event builds and runs three to five SQLAlchemy statements per event (about 3 ms);
        a batch of 3,000 planned events spent 10 s there. Here each shard's event rows go in as one
        executemany, and the index shard's consecutive asset events as one more (with RETURNING for their
        ids, in the order given); the asset key table gets each key's final values once per such group,
        which is what applying every event's update in turn leaves. Check and run-status events keep
        Dagster's own per-event path, so the index shard's ids follow the batch's order as before.
        """
        shards = [*sorted({event.run_id for event in events}), INDEX_SHARD_NAME]
        with self._db_lock, contextlib.ExitStack() as stack:
            try:
                for shard in shards:
                    self._batch_connections[shard] = stack.enter_context(self._connect(shard))
                self._store_rows(events)
            finally:
                self._batch_connections.clear()

    def _store_rows(self, events: Sequence[EventLogEntry]) -> None:
        rows = [self._event_to_row(event) for event in events]
        by_run: dict[str, list[dict]] = {}
        for row in rows:
            by_run.setdefault(row["run_id"], []).append(row)
        for run_id, run_rows in by_run.items():
            self._batch_connections[run_id].execute(SqlEventLogStorageTable.insert(), run_rows)
        index = self._batch_connections[INDEX_SHARD_NAME]
        assets: list[tuple[EventLogEntry, dict]] = []
        for event, row in zip(events, rows, strict=True):
            kind = event.dagster_event_type if event.is_dagster_event else None
            if kind in ASSET_EVENTS:
                assets.append((event, row))
                continue
            if kind in ASSET_CHECK_EVENTS or kind in EVENT_TYPE_TO_PIPELINE_RUN_STATUS:
                self._store_asset_events(index, assets)
                assets = []
                event_id = index.execute(SqlEventLogStorageTable.insert().values(**row)).inserted_primary_key[0]
                if kind in ASSET_CHECK_EVENTS:
                    self.store_asset_check_event(event, event_id)
        self._store_asset_events(index, assets)

    def _store_asset_events(self, conn: sa.Connection, assets: Sequence[tuple[EventLogEntry, dict]]) -> None:
        """What store_event writes to the index shard for these asset events, in statements per group."""
        if not assets:
            return
        events = [event for event, _ in assets]
        returning = SqlEventLogStorageTable.insert().returning(SqlEventLogStorageTable.c.id,
                                                              sort_by_parameter_order=True)
        event_ids = conn.execute(returning, [row for _, row in assets]).scalars().all()
        if len(event_ids) != len(events) or None in event_ids:
            raise DagsterInvariantViolationError("Cannot store asset event tags for null event id.")
        self._store_asset_event_tags(conn, events, event_ids)
        has_index_cols = self._has_asset_key_index_cols_on_connection(conn)
        final: dict[str, dict] = {}  # asset key -> the value each column has after the last event sets it
        for event, event_id in zip(reversed(events), reversed(event_ids), strict=True):
            dagster_event = event.dagster_event
            if not (dagster_event and dagster_event.asset_key):
                continue
            key = dagster_event.asset_key.to_string()
            values = final.setdefault(key, {})
            if dagster_event.is_step_materialization and "last_materialization" in values:
                continue  # a later materialization of this key set every column it would set
            for column, value in self._get_asset_entry_values(event, event_id, has_index_cols).items():
                values.setdefault(column, value)
        for key, values in final.items():
            if not values:
                continue
            try:  # Dagster's own upsert (SQLite undoes just the failed statement)
                conn.execute(AssetKeyTable.insert().values(asset_key=key, **values))
            except sa_exc.IntegrityError:
                conn.execute(AssetKeyTable.update().values(**values).where(AssetKeyTable.c.asset_key == key))

    # Dagster asks, for every asset event, whether the index shard has the tags table and the asset
    # key columns, each time through a new engine or a schema inspection (~5 ms an event). Tables and
    # columns are only ever added (by migrations), so a yes is remembered; a no is asked again.
    def has_table(self, table_name: str) -> bool:
        if table_name in self._known_tables:
            return True
        found = super().has_table(table_name)
        if found:
            self._known_tables.add(table_name)
        return found

    def _has_asset_key_col_on_connection(self, conn: sa.Connection, column_name: str) -> bool:
        if column_name in self._known_asset_key_columns:
            return True
        found = super()._has_asset_key_col_on_connection(conn, column_name)
        if found:
            self._known_asset_key_columns.add(column_name)
        return found

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        """Dagster's rows (one PLANNED execution per partition of a partitioned check), with the event
        serialized once rather than once per partition: 761 times per check over the demo's history."""
        planned = event.get_dagster_event().event_specific_data
        keys = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        shared = dict(asset_key=planned.asset_key.to_string(), check_name=planned.check_name, run_id=event.run_id,
                      execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
                      evaluation_event=serialize_value(event),
                      evaluation_event_timestamp=self._event_insert_timestamp(event),
                      evaluation_event_storage_id=event_id)
        with self.index_connection() as conn:  # executemany: a 761-row VALUES statement compiled in ~0.3 s
            conn.execute(AssetCheckExecutionsTable.insert(), [{**shared, "partition": key} for key in keys])

    def _dispose_engines(self) -> None:
        self._known_tables, self._known_asset_key_columns = set(), set()
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def delete_events(self, run_id: str) -> None:
        self._dispose_engines()  # no open connection to a file about to be removed
        super().delete_events(run_id)

    def wipe(self) -> None:
        self._dispose_engines()
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()


def _synchronous_normal(dbapi_connection, connection_record) -> None:  # noqa: ARG001 - SQLAlchemy's signature
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()

