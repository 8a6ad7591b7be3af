"""What DuckLake (catalog in a real PostgreSQL, data as Parquet in a temp dir) does under the project's write
patterns: groundwork for the lake backend of issue 18. Real servers, real extensions, real processes.

Findings pinned here (DuckDB 1.5.5, its ducklake and postgres extensions from the pip packages):
- Readers in another process never wait for a writer, and a read transaction keeps one snapshot.
- Concurrent INSERTs into one table both commit: DuckLake retries the losing commit itself
  (`ducklake_max_retry_count`, default 10; with 0 the loser fails with "Exceeded the maximum retry count").
- A DELETE-then-INSERT window replace conflicts with ANY concurrent commit that deleted from the same table,
  whatever the window: "Transaction conflict - attempting to insert into table ... but another transaction
  has deleted from it". DuckLake does not retry that; the application must re-run the whole transaction.
- Two replaces of the same window when the window is still empty both commit (their DELETEs removed
  nothing, so nothing conflicts) and the rows are doubled: a writer must hold a lock on (table, window),
  e.g. a Postgres advisory lock, around its transaction.
- PRIMARY KEY/UNIQUE and CHECK constraints and sequences are refused; MERGE INTO and COMMENT ON COLUMN work.
"""

from __future__ import annotations

import multiprocessing
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from kalshi_assets.warehouse import lake_extensions
from kalshi_assets.warehouse.lake_extensions import LakeExtensionError, load_lake_extensions
from tests.servers import PostgresServer

pytestmark = pytest.mark.slow

ROWS_PER_WINDOW = 500  # above the inlining limit would not matter: the lake is attached with inlining off


def literal(text: str) -> str:
    """A SQL string literal: ATTACH takes no parameters, so its path and libpq string are quoted here."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Lake:
    dsn: str  # libpq keywords, no password
    data_path: str
    passfile: str


def attach(lake: Lake, retries: int | None = None) -> duckdb.DuckDBPyConnection:
    """A connection with the lake attached as `lake`; libpq reads the password from PGPASSFILE (set by the
    `lake` fixture here, by `worker_main` in the workers)."""
    con = duckdb.connect()
    load_lake_extensions(con)
    con.execute(f"ATTACH {literal('ducklake:postgres:' + lake.dsn)} AS lake "
                f"(DATA_PATH {literal(lake.data_path)}, DATA_INLINING_ROW_LIMIT 0)")
    if retries is not None:
        con.execute("SET ducklake_max_retry_count = ?", [retries])
    return con


def replace_window(con: duckdb.DuckDBPyConnection, table: str, day: str, writer: str) -> None:
    """The project's idempotent partition replace: delete the day's rows, insert the new ones, one transaction."""
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM lake.{table} WHERE ts >= ?::DATE AND ts < ?::DATE + 1", [day, day])
        con.execute(f"INSERT INTO lake.{table} SELECT ?::DATE + i * INTERVAL 1 MINUTE, i, ? FROM range(?) t(i)",
                    [day, writer, ROWS_PER_WINDOW])
    except BaseException:
        con.execute("ROLLBACK")
        raise


def is_conflict(error: duckdb.Error) -> bool:
    return isinstance(error, duckdb.TransactionException) and "Transaction conflict" in str(error)


# ---- steps run inside the worker processes (module-level so that the spawned workers can import them) ----

def step_replace(con, sync, table: str, day: str, writer: str, overlap: bool = False, hold: bool = False,
                 app_retries: int = 0, lock_dsn: str | None = None) -> str:
    """Replace one window. `overlap` holds the commit until every worker has written (the forced race);
    `hold` holds it until the test says go. On a conflict, re-run the whole transaction up to
    `app_retries` times. `lock_dsn`: hold a Postgres advisory lock on (table, window) throughout."""
    lock = _advisory_lock(lock_dsn, table, day) if lock_dsn else None
    try:
        for attempt in range(app_retries + 1):
            replace_window(con, table, day, writer)
            if overlap and attempt == 0:
                sync.barrier.wait(60)
            if hold:
                sync.written.set()
                if not sync.reader_done.wait(60):
                    con.execute("ROLLBACK")
                    return "never told to commit"
            try:
                con.execute("COMMIT")
                return f"committed after {attempt} conflicts"
            except duckdb.Error as error:  # a failed COMMIT has already rolled the transaction back
                if not is_conflict(error) or attempt == app_retries:
                    return f"failed: {error}"
        raise AssertionError("unreachable")
    finally:
        if lock is not None:
            lock.close()  # ends the session, which releases its advisory locks


def _advisory_lock(dsn: str, table: str, day: str):
    """A session-level Postgres advisory lock on (table, window), held until the connection closes."""
    import psycopg2

    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    key = zlib.crc32(f"{table}/{day}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    return connection


def step_insert(con, sync, table: str, writer: str) -> str:
    con.execute("BEGIN")
    con.execute(f"INSERT INTO lake.{table} SELECT ?::DATE, i, ? FROM range(?) t(i)",
                ["2026-03-01", writer, ROWS_PER_WINDOW])
    sync.barrier.wait(60)
    try:
        con.execute("COMMIT")
        return "committed"
    except duckdb.Error as error:
        return f"failed: {error}"


def step_write_and_hold(con, sync, table: str, writer: str) -> str:
    """Write inside an open transaction, tell the test, and commit only once the test says it has read."""
    con.execute("BEGIN")
    con.execute(f"INSERT INTO lake.{table} SELECT ?::DATE, i, ? FROM range(?) t(i)",
                ["2026-04-01", writer, ROWS_PER_WINDOW])
    sync.written.set()
    if not sync.reader_done.wait(60):
        con.execute("ROLLBACK")
        return "the reader never finished: it waited for this writer"
    con.execute("COMMIT")
    return "committed"


def step_set_retries(con, sync, retries: int) -> str:
    con.execute("SET ducklake_max_retry_count = ?", [retries])
    return "set"


STEPS: dict[str, Callable[..., str]] = {f.__name__: f for f in
                                        (step_replace, step_insert, step_write_and_hold, step_set_retries)}


@dataclass
class Sync:
    barrier: object
    written: object
    reader_done: object


def worker_main(lake: Lake, sync: Sync, inbox, outbox) -> None:
    os.environ["PGPASSFILE"] = lake.passfile
    try:
        con = attach(lake)
        outbox.send("ready")
    except BaseException as error:  # noqa: BLE001 - reported to the test, which fails with it
        outbox.send(f"failed to attach: {error}")
        return
    while True:
        message = inbox.recv()
        if message is None:
            return
        name, kwargs = message
        try:
            outbox.send(STEPS[name](con, sync, **kwargs))
        except BaseException as error:  # noqa: BLE001
            outbox.send(f"error: {type(error).__name__}: {error}")


class Worker:
    """A spawned process holding one attached lake connection; runs steps sent to it."""

    def __init__(self, context, lake: Lake, sync: Sync) -> None:
        self.inbox, remote_inbox = context.Pipe()
        remote_outbox, self.outbox = context.Pipe()
        self.process = context.Process(target=worker_main, args=(lake, sync, remote_inbox, remote_outbox),
                                       daemon=True)
        self.process.start()

    def ready(self) -> None:
        assert self.outbox.poll(120), "a lake worker did not start"
        assert (answer := self.outbox.recv()) == "ready", answer

    def send(self, step: str, **kwargs) -> None:
        self.inbox.send((step, kwargs))

    def result(self, timeout_s: float = 120) -> str:
        assert self.outbox.poll(timeout_s), "a lake worker did not answer"
        return self.outbox.recv()

    def stop(self) -> None:
        if self.process.is_alive():
            self.inbox.send(None)
            self.process.join(20)
        if self.process.is_alive():
            self.process.kill()


@pytest.fixture(scope="module")
def lake(postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    dsn = postgres_server.create_database(f"lake_groundwork_{os.getpid()}")
    saved = os.environ.get("PGPASSFILE")
    os.environ["PGPASSFILE"] = str(postgres_server.passfile)
    try:
        yield Lake(dsn=dsn, data_path=str(tmp_path_factory.mktemp("lake_data")), passfile=str(postgres_server.passfile))
    finally:
        if saved is None:
            os.environ.pop("PGPASSFILE", None)
        else:
            os.environ["PGPASSFILE"] = saved


@pytest.fixture(scope="module")
def sync() -> Sync:
    context = multiprocessing.get_context("spawn")
    return Sync(barrier=context.Barrier(2), written=context.Event(), reader_done=context.Event())


@pytest.fixture(scope="module")
def workers(lake: Lake, sync: Sync) -> Iterator[tuple[Worker, Worker]]:
    """Two writer processes, each with its own attached lake (spawned once: each start costs ~2 s)."""
    context = multiprocessing.get_context("spawn")
    pair = (Worker(context, lake, sync), Worker(context, lake, sync))
    try:
        for worker in pair:
            worker.ready()
        yield pair
    finally:
        for worker in pair:
            worker.stop()


@pytest.fixture(scope="module")
def con(lake: Lake) -> Iterator[duckdb.DuckDBPyConnection]:
    """The test's own reader/writer connection (attaching costs ~1 s, so one per module)."""
    connection = attach(lake)
    yield connection
    connection.close()


_tables = iter(range(1, 10_000))


@pytest.fixture()
def table(con: duckdb.DuckDBPyConnection) -> str:
    name = f"quotes_{next(_tables)}"
    con.execute(f"CREATE TABLE lake.{name} (ts TIMESTAMP NOT NULL, i INTEGER, writer VARCHAR)")
    return name


def rows_by_window(con: duckdb.DuckDBPyConnection, table: str) -> dict[tuple[str, str], int]:
    found = con.execute(f"SELECT ts::DATE::VARCHAR, writer, count(*) FROM lake.{table} GROUP BY ALL").fetchall()
    return {(day, writer): n for day, writer, n in found}


def race(workers: tuple[Worker, Worker], step: str, *kwargs_each: dict) -> list[str]:
    for worker, kwargs in zip(workers, kwargs_each, strict=True):
        worker.send(step, **kwargs)
    return [worker.result() for worker in workers]


# ---------------------------------------------------------------- extensions and credentials

def test_extensions_install_offline_from_the_pip_packages(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("SET extension_directory = ?", [str(tmp_path / "extensions")])  # nothing installed yet
    con.execute("SET custom_extension_repository = ?", [str(tmp_path / "no-repository")])  # no download
    sources = load_lake_extensions(con)
    assert set(sources) == {"ducklake", "postgres"}
    assert all(Path(path).is_file() for path in sources.values()), sources
    found = con.execute("SELECT extension_name, loaded, install_mode, installed_from FROM duckdb_extensions() "
                        "WHERE extension_name IN ('ducklake', 'postgres_scanner') ORDER BY 1").fetchall()
    assert found == [("ducklake", True, "CUSTOM_PATH", sources["ducklake"]),
                     ("postgres_scanner", True, "CUSTOM_PATH", sources["postgres"])]
    assert con.execute("SELECT current_setting('allow_unsigned_extensions')").fetchone() == (False,)


def test_without_the_packages_or_a_repository_the_error_names_the_pip_packages(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(lake_extensions, "bundled_extension_path", lambda name: None)
    con = duckdb.connect()
    con.execute("SET extension_directory = ?", [str(tmp_path / "extensions")])
    con.execute("SET custom_extension_repository = ?", [str(tmp_path / "no-repository")])
    with pytest.raises(LakeExtensionError, match=f"pip install duckdb-extension-ducklake=={duckdb.__version__}"):
        load_lake_extensions(con)


def test_the_password_comes_from_pgpassfile_or_a_secret_and_shows_nowhere(
        lake: Lake, postgres_server: PostgresServer, monkeypatch) -> None:
    password = postgres_server.password
    monkeypatch.delenv("PGPASSFILE", raising=False)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    bare = duckdb.connect()
    load_lake_extensions(bare)
    with pytest.raises(duckdb.Error, match="no password supplied") as refused:
        bare.execute(f"ATTACH {literal('ducklake:postgres:' + lake.dsn)} AS lake")
    assert lake.dsn in str(refused.value)  # errors echo the libpq string: it must never hold a password

    # A named postgres secret (password bound as a parameter) that the ducklake attach refers to.
    via_secret = duckdb.connect()
    load_lake_extensions(via_secret)
    via_secret.execute("CREATE SECRET lake_catalog (TYPE postgres, HOST ?, PORT ?, USER ?, PASSWORD ?)",
                       [postgres_server.host, postgres_server.port, postgres_server.user, password])
    database = lake.dsn.split("dbname=")[1]
    via_secret.execute(f"ATTACH {literal('ducklake:postgres:dbname=' + database)} AS lake "
                       f"(DATA_PATH {literal(lake.data_path)}, METADATA_PARAMETERS MAP {{'SECRET': 'lake_catalog'}})")
    shown = str(via_secret.execute("SELECT * FROM duckdb_secrets()").fetchall())
    shown += str(via_secret.execute("SELECT * FROM duckdb_databases()").fetchall())
    assert "password=redacted" in shown and password not in shown

    # libpq's own PGPASSFILE, honoured by the postgres extension: no secret, no password anywhere in SQL.
    monkeypatch.setenv("PGPASSFILE", lake.passfile)
    via_passfile = duckdb.connect()
    load_lake_extensions(via_passfile)
    via_passfile.execute(f"ATTACH {literal('ducklake:postgres:' + lake.dsn)} AS lake (DATA_PATH {literal(lake.data_path)})")
    assert via_passfile.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'lake'").fetchone()


def test_keys_checks_and_sequences_are_refused_merge_and_comments_work(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(duckdb.NotImplementedException, match="PRIMARY KEY/UNIQUE constraints are not supported"):
        con.execute("CREATE TABLE lake.keyed (k INTEGER PRIMARY KEY, v DECIMAL(18, 4))")
    with pytest.raises(duckdb.NotImplementedException, match="CHECK constraints are not supported"):
        con.execute("CREATE TABLE lake.checked (k INTEGER CHECK (k > 0))")
    with pytest.raises(duckdb.NotImplementedException, match="does not support sequences"):
        con.execute("CREATE SEQUENCE lake.numbers")
    con.execute("CREATE TABLE lake.merged (k INTEGER NOT NULL, v DECIMAL(18, 4), seen_at TIMESTAMP)")
    con.execute("COMMENT ON COLUMN lake.merged.v IS 'a price in dollars'")
    merge = ("MERGE INTO lake.merged USING (SELECT ? AS k, ? AS v) AS incoming ON merged.k = incoming.k "
             "WHEN MATCHED THEN UPDATE SET v = COALESCE(incoming.v, merged.v) "
             "WHEN NOT MATCHED THEN INSERT (k, v) VALUES (incoming.k, incoming.v)")
    con.execute(merge, [1, 0.25])
    con.execute(merge, [1, None])  # a NULL never erases a known value, as the project's upsert promises
    con.execute(merge, [2, 0.5])
    assert con.execute("SELECT k, v::DOUBLE FROM lake.merged ORDER BY k").fetchall() == [(1, 0.25), (2, 0.5)]
    comment = con.execute("SELECT comment FROM duckdb_columns() WHERE database_name = 'lake' "
                          "AND table_name = 'merged' AND column_name = 'v'").fetchone()
    assert comment == ("a price in dollars",)


# ---------------------------------------------------------------- readers and writers

def test_a_reader_in_another_process_does_not_wait_for_an_open_write(
        workers: tuple[Worker, Worker], sync: Sync, con: duckdb.DuckDBPyConnection, table: str) -> None:
    writer = workers[0]
    sync.written.clear()
    sync.reader_done.clear()
    writer.send("step_write_and_hold", table=table, writer="w0")
    assert sync.written.wait(60), writer.result(1)
    # The writer's transaction is open (it waits for us): reading must neither block nor see its rows.
    seen_during = con.execute(f"SELECT count(*) FROM lake.{table}").fetchone()[0]
    sync.reader_done.set()
    assert writer.result() == "committed"
    assert seen_during == 0
    assert con.execute(f"SELECT count(*) FROM lake.{table}").fetchone()[0] == ROWS_PER_WINDOW


def test_a_read_transaction_keeps_its_snapshot_while_another_process_commits(
        workers: tuple[Worker, Worker], con: duckdb.DuckDBPyConnection, table: str) -> None:
    con.execute("BEGIN")
    before = con.execute(f"SELECT count(*) FROM lake.{table}").fetchone()[0]
    workers[0].send("step_replace", table=table, day="2026-05-01", writer="w0", overlap=False)
    assert workers[0].result() == "committed after 0 conflicts"
    still = con.execute(f"SELECT count(*) FROM lake.{table}").fetchone()[0]
    con.execute("COMMIT")
    after = con.execute(f"SELECT count(*) FROM lake.{table}").fetchone()[0]
    assert (before, still, after) == (0, 0, ROWS_PER_WINDOW)


def test_concurrent_inserts_into_one_table_both_commit_through_ducklake_retries(
        workers: tuple[Worker, Worker], con: duckdb.DuckDBPyConnection, table: str) -> None:
    outcomes = race(workers, "step_insert", {"table": table, "writer": "w0"}, {"table": table, "writer": "w1"})
    assert outcomes == ["committed", "committed"]
    assert rows_by_window(con, table) == {("2026-03-01", "w0"): ROWS_PER_WINDOW, ("2026-03-01", "w1"): ROWS_PER_WINDOW}


def test_without_ducklake_retries_the_second_insert_fails_and_writes_nothing(
        workers: tuple[Worker, Worker], con: duckdb.DuckDBPyConnection, table: str) -> None:
    assert race(workers, "step_set_retries", {"retries": 0}, {"retries": 0}) == ["set", "set"]
    try:
        outcomes = race(workers, "step_insert", {"table": table, "writer": "w0"}, {"table": table, "writer": "w1"})
    finally:
        assert race(workers, "step_set_retries", {"retries": 10}, {"retries": 10}) == ["set", "set"]
    assert sorted(o.split(":")[0] for o in outcomes) == ["committed", "failed"], outcomes
    assert "Exceeded the maximum retry count of 0 set by the ducklake_max_retry_count setting" in str(outcomes)
    winner = "w0" if outcomes[0] == "committed" else "w1"
    assert rows_by_window(con, table) == {("2026-03-01", winner): ROWS_PER_WINDOW}


@pytest.mark.parametrize("days", [("2026-06-01", "2026-06-02"), ("2026-06-03", "2026-06-03")],
                         ids=["different windows", "same window"])
def test_replacing_windows_of_one_table_at_once_conflicts_when_rows_are_deleted(
        workers: tuple[Worker, Worker], con: duckdb.DuckDBPyConnection, table: str, days: tuple[str, str]) -> None:
    for day in set(days):  # earlier rows in the windows: the replaces' DELETEs remove something
        replace_window(con, table, day, "seed")
        con.execute("COMMIT")
    outcomes = race(workers, "step_replace",
                    *({"table": table, "day": day, "writer": f"w{k}", "overlap": True} for k, day in enumerate(days)))
    assert sorted(o.split(" ")[0] for o in outcomes) == ["committed", "failed:"], outcomes
    assert ("Transaction conflict - attempting to insert into table with index" in str(outcomes)
            and "but another transaction has deleted from it" in str(outcomes))
    winner = 0 if outcomes[0].startswith("committed") else 1
    expected = {(day, "seed"): ROWS_PER_WINDOW for day in set(days)}
    expected.pop((days[winner], "seed"))
    expected[(days[winner], f"w{winner}")] = ROWS_PER_WINDOW
    assert rows_by_window(con, table) == expected  # the loser changed nothing: no lost, no doubled rows


def test_rerunning_the_transaction_on_a_conflict_lands_both_replaces(
        workers: tuple[Worker, Worker], con: duckdb.DuckDBPyConnection, table: str) -> None:
    days = ("2026-07-01", "2026-07-02")
    for day in days:
        replace_window(con, table, day, "seed")
        con.execute("COMMIT")
    outcomes = race(workers, "step_replace", *({"table": table, "day": day, "writer": f"w{k}", "overlap": True,
                                                "app_retries": 3} for k, day in enumerate(days)))
    assert sorted(outcomes) == ["committed after 0 conflicts", "committed after 1 conflicts"], outcomes
    assert rows_by_window(con, table) == {(days[0], "w0"): ROWS_PER_WINDOW, (days[1], "w1"): ROWS_PER_WINDOW}


def test_two_replaces_of_one_empty_window_both_commit_and_double_the_rows(
        workers: tuple[Worker, Worker], con: duckdb.DuckDBPyConnection, table: str) -> None:
    """The hazard: nothing to delete, so nothing conflicts. This is why writers must lock (table, window)."""
    day = "2026-08-01"
    outcomes = race(workers, "step_replace", *({"table": table, "day": day, "writer": f"w{k}", "overlap": True}
                                               for k in range(2)))
    assert outcomes == ["committed after 0 conflicts"] * 2
    assert rows_by_window(con, table) == {(day, "w0"): ROWS_PER_WINDOW, (day, "w1"): ROWS_PER_WINDOW}


def test_an_advisory_lock_on_the_window_makes_concurrent_replaces_land_once(
        workers: tuple[Worker, Worker], sync: Sync, con: duckdb.DuckDBPyConnection, table: str, lake: Lake) -> None:
    import psycopg2

    day = "2026-08-02"
    first, second = workers
    sync.written.clear()
    sync.reader_done.clear()
    first.send("step_replace", table=table, day=day, writer="w0", hold=True, lock_dsn=lake.dsn)
    assert sync.written.wait(60), first.result(1)  # w0 holds the lock and an open, written transaction
    second.send("step_replace", table=table, day=day, writer="w1", lock_dsn=lake.dsn)
    with psycopg2.connect(lake.dsn) as watcher, watcher.cursor() as cursor:
        def waiting() -> int:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            return cursor.fetchone()[0]

        for _ in range(200):
            if waiting():
                break
            sync.reader_done.wait(0.05)
        assert waiting() == 1, "w1 should be queued on the window's lock"
    sync.reader_done.set()
    assert [first.result(), second.result()] == ["committed after 0 conflicts"] * 2
    # w1 started after w0 committed, so its DELETE removed w0's rows: the window holds one writer's rows.
    assert rows_by_window(con, table) == {(day, "w1"): ROWS_PER_WINDOW}
