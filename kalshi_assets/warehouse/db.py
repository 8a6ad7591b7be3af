"""Connections to the warehouse, its one schema file, and the catalogue.

Two backends, chosen by configuration ($KALSHI_WAREHOUSE, or the `path` given):
- a DuckDB file (the default): one process writes at a time, and while a writer holds the file no other
  process can open it, not even read-only. Connections retry briefly on a lock conflict and then fail with
  an error that says who to wait for, instead of a raw IOException;
- a DuckLake, `ducklake:postgres:<libpq connection string>` with its Parquet data under $KALSHI_LAKE_DATA
  (a directory or s3://...): the catalog in PostgreSQL, many writers (warehouse/writes.py locks and
  retries), and readers that never wait (each reads one snapshot). The libpq string names the server and
  database only; the password comes from PGPASSFILE or PGPASSWORD, never from argv, logs or SQL text.

Both run the same schema.sql. DuckLake keeps no PRIMARY KEY, UNIQUE or CHECK constraint, so the lake's DDL is
derived from schema.sql mechanically (lake_schema.py), and keys and checks are read from schema.sql itself
(`schema_reference`) and enforced by writes.py on both backends.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import random
import re
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import duckdb

from kalshi_assets import settings

SCHEMA_SQL = "schema.sql"
LAKE_PREFIX = "ducklake:"
LAKE_DATA_ENV = "KALSHI_LAKE_DATA"
LAKE_ALIAS = "lake"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
# One column description per line of schema.sql (shown in the Dagster UI through the catalogue).
_COLUMN_COMMENT = re.compile(r"^COMMENT ON COLUMN (\w+)\.(\w+) IS '((?:[^']|'')*)';[ \t]*$", re.MULTILINE)


class WarehouseBusyError(RuntimeError):
    """The DuckDB file stayed locked by another process for longer than the retry budget."""


@dataclass(frozen=True)
class Location:
    """Where the warehouse lives: a DuckDB `file`, or a DuckLake whose catalog is `catalog` (a libpq
    connection string of a PostgreSQL database) and whose data is under `data_path`."""

    file: Path | None = None
    catalog: str | None = None
    data_path: str | None = None

    @property
    def is_lake(self) -> bool:
        return self.catalog is not None

    def __str__(self) -> str:
        return f"ducklake:postgres:{self.catalog} (data {self.data_path})" if self.is_lake else str(self.file)


def location(target: str | Path | Location, environ: dict[str, str] | None = None) -> Location:
    """The Location `target` names: `ducklake:postgres:<libpq>` (data path from $KALSHI_LAKE_DATA) or a file."""
    if isinstance(target, Location):
        return target
    text = str(target)
    if not text.startswith(LAKE_PREFIX):
        return Location(file=Path(text))
    environ = os.environ if environ is None else environ
    catalog = text[len(LAKE_PREFIX):]
    if not catalog.startswith("postgres:"):
        raise ValueError("a lake warehouse is ducklake:postgres:<libpq connection string>; "
                         "only a PostgreSQL catalog is supported")
    catalog = catalog[len("postgres:"):].strip()
    if re.search(r"\bpassword\s*=", catalog) or "://" in catalog:
        raise ValueError("the lake's connection string must hold no password (and be libpq keywords, not a URL): "
                         "give the password in PGPASSFILE or PGPASSWORD")
    data_path = environ.get(LAKE_DATA_ENV, "").strip()
    if not data_path:
        raise ValueError(f"a lake warehouse needs ${LAKE_DATA_ENV}: the directory or s3:// prefix of its data")
    return Location(catalog=catalog, data_path=data_path)


def schema_sql() -> str:
    return resources.files("kalshi_assets.warehouse").joinpath(SCHEMA_SQL).read_text()


# A key schema.sql marks "checked on write, not indexed" (see its header): declared, enforced by writes.py.
# The comma before it goes too, with any comment after that comma (the last column's).
_UNINDEXED_KEY = re.compile(r",(?:[ \t]*--[^\n]*)?\s*PRIMARY KEY \([^)]*\)(?=\s*-- key checked on write, not indexed$)",
                            re.MULTILINE)


@functools.cache
def file_schema_sql() -> str:
    """schema.sql as the DuckDB file runs it: the keys it marks unindexed left to writes.py."""
    return _UNINDEXED_KEY.sub("", schema_sql())


@dataclass(frozen=True)
class SchemaReference:
    """What schema.sql declares, read from an in-memory DuckDB that ran it: the only truth about tables."""

    tables: dict[str, tuple[str, ...]]  # table -> columns in order
    views: tuple[str, ...]
    keys: dict[str, tuple[str, ...]]  # table -> primary key
    checks: dict[str, tuple[str, ...]]  # table -> CHECK expressions (SQL text from schema.sql)
    comments: dict[tuple[str, str], str]  # (table, column) -> description


@functools.cache
def schema_reference() -> SchemaReference:
    con = duckdb.connect()
    try:
        con.execute(schema_sql())
        tables: dict[str, list[str]] = {}
        comments = {}
        for table, column, comment in con.execute(
            "SELECT c.table_name, c.column_name, c.comment FROM duckdb_columns() c JOIN duckdb_tables() t "
            "USING (database_name, schema_name, table_name) ORDER BY c.table_name, c.column_index"
        ).fetchall():
            tables.setdefault(table, []).append(column)
            if comment:
                comments[(table, column)] = comment
        views = tuple(row[0] for row in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall())
        keys: dict[str, tuple[str, ...]] = {}
        checks: dict[str, list[str]] = {}
        for table, kind, names, expression in con.execute(
            "SELECT table_name, constraint_type, constraint_column_names, expression FROM duckdb_constraints() "
            "WHERE constraint_type IN ('PRIMARY KEY', 'CHECK') ORDER BY table_name, constraint_index"
        ).fetchall():
            if kind == "PRIMARY KEY":
                keys[table] = tuple(names)
            else:
                checks.setdefault(table, []).append(expression)
    finally:
        con.close()
    return SchemaReference({t: tuple(c) for t, c in tables.items()}, views, keys,
                           {t: tuple(c) for t, c in checks.items()}, comments)


def _is_lock_conflict(error: duckdb.Error) -> bool:
    text = str(error).lower()
    return "lock" in text and ("conflicting" in text or "could not set lock" in text)


def is_write_conflict(error: duckdb.Error) -> bool:
    """A lake commit lost to a concurrent one (DuckLake does not retry deletes itself): re-run the transaction."""
    return isinstance(error, duckdb.TransactionException) and "conflict" in str(error).lower()


def connect(
    path: str | Path | Location, read_only: bool = False, timeout_s: float = 10.0, ensure_schema: bool = True
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse at `path` (a file, or a lake: see `location`). A file is retried with jittered
    backoff while another process holds it; a lake never waits for a writer."""
    where = location(path)
    if where.is_lake:
        return _connect_lake(where, read_only, ensure_schema)
    path = where.file
    if read_only and not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: materialize the pipeline first (make demo)")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as error:
            if not _is_lock_conflict(error) or time.monotonic() >= deadline:
                if _is_lock_conflict(error):
                    raise WarehouseBusyError(
                        f"the warehouse {path} is locked by another process (DuckDB allows one writer, and no "
                        f"reader while it writes); waited {timeout_s:.0f}s. Retry when the running "
                        f"materialization has finished. DuckDB said: {error}"
                    ) from error
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 1.0)
    con.execute("SET TimeZone = 'UTC'")
    bound_memory(con)
    if not read_only:
        # DuckDB folds the WAL into the file inside whichever commit takes it past 16 MB; the assets commit
        # big windows, so most commits paid for a checkpoint. A writer's WAL grows until it closes (DuckDB
        # checkpoints then) or reaches this size: one checkpoint per step instead of one every few commits.
        con.execute("SET checkpoint_threshold = '1GiB'")
    if ensure_schema and not read_only:
        apply_schema(con)
    return con


def bound_memory(con: duckdb.DuckDBPyConnection) -> None:
    """Cap the memory of the connection's DuckDB instance (settings.duckdb_memory_limit; a setting of the
    whole instance, so every connection to the file shares it): larger working sets spill to disk."""
    con.execute(compose("SET memory_limit = {limit}", limit=sql_literal(settings.duckdb_memory_limit())))


def sql_literal(text: str) -> Composed:
    """A SQL string literal, for the one statement that takes no parameters (ATTACH)."""
    return Composed("'" + text.replace("'", "''") + "'")


def _connect_lake(where: Location, read_only: bool, ensure_schema: bool) -> duckdb.DuckDBPyConnection:
    """A connection of this process's one DuckDB instance with the lake attached (loading the extensions
    and attaching take ~1.5 s, so they happen once per process); each connection has its own transactions
    and snapshots. Read-only connections never write (the instance attaches the lake read-write)."""
    from kalshi_assets.warehouse import lake_schema

    con = _lake_instance(where).cursor()
    try:
        con.execute("USE lake")
        con.execute("SET TimeZone = 'UTC'")
        lake_schema.create_macros(con)
        if ensure_schema and not read_only:
            lake_schema.apply(con, where)
        elif read_only and not table_exists(con, "kalshi_events"):
            raise FileNotFoundError(f"no warehouse in the lake {where}: materialize the pipeline first")
    except BaseException:
        con.close()
        raise
    return con


_LAKE_INSTANCES: dict[tuple[int, Location], duckdb.DuckDBPyConnection] = {}
_LAKE_INSTANCES_LOCK = threading.Lock()


def _lake_instance(where: Location) -> duckdb.DuckDBPyConnection:
    from kalshi_assets.warehouse import lake_schema
    from kalshi_assets.warehouse.lake_extensions import load_lake_extensions

    key = (os.getpid(), where)  # a forked child (a Celery worker's) makes its own
    with _LAKE_INSTANCES_LOCK:
        instance = _LAKE_INSTANCES.get(key)
        if instance is None:
            instance = duckdb.connect()
            try:
                bound_memory(instance)
                load_lake_extensions(instance)
                instance.execute(lake_schema.attach_statement(where))
            except BaseException:
                instance.close()
                raise
            _LAKE_INSTANCES[key] = instance
    return instance


def lake_location(con: duckdb.DuckDBPyConnection) -> Location | None:
    """The lake this connection works in (its catalog and data path, read from the attached database), or
    None on the file backend."""
    row = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database() AND type = 'ducklake'"
    ).fetchone()
    if row is None:
        return None
    options = dict(con.execute(
        "SELECT option_name, value FROM ducklake_options(current_database()) WHERE option_name = 'data_path'"
    ).fetchall())
    return Location(catalog=row[0].removeprefix("postgres:"), data_path=options.get("data_path"))


def check_queries(table: str, view: str) -> list[tuple[str, str]]:
    """(expression, query counting rows of `view` that break it) for each CHECK schema.sql gives `table`.
    The expressions are schema.sql's own text, as DuckDB parsed it; only the view name is spliced."""
    return [(expression, compose("SELECT count(*) FROM {view} WHERE NOT ({expression})", view=view,
                                 expression=Composed(expression)))
            for expression in schema_reference().checks.get(table, ())]


@contextlib.contextmanager
def advisory_locks(con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> Iterator[None]:
    """Hold PostgreSQL advisory locks on `names` (e.g. "kalshi_quotes/2026-10-01") for the block, on the
    lake's catalog server; a no-op on the file backend, whose single writer needs no lock. Locks are taken
    in a fixed order, so two writers never deadlock."""
    where = lake_location(con)
    if where is None or not names:
        yield
        return
    import psycopg2

    keys = sorted({zlib.crc32(name.encode()) for name in names})
    session = psycopg2.connect(where.catalog)
    try:
        session.autocommit = True
        with session.cursor() as cursor:
            for key in keys:
                cursor.execute("SELECT pg_advisory_lock(%s)", [key])
        yield
    finally:
        session.close()  # ends the session, which releases its advisory locks


def apply_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Run schema.sql: its tables, views and macros (idempotent), and its column comments only where the
    catalogue's differ (a COMMENT is a catalogue write, ~1 ms each and ~400 of them; comparing costs one
    catalogue read, ~20 ms). A file remembers the text it last got (a macro holding its SHA-256, written in
    the same transaction), and a connection to a file already holding this text skips the ~70 ms run: the
    main job opens the warehouse some sixty times (issue 16)."""
    text = file_schema_sql()
    fingerprint = hashlib.sha256(text.encode()).hexdigest()
    if _applied_schema(con) == fingerprint and _holds_every_table_and_view(con):
        return
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(_COLUMN_COMMENT.sub("", text))
        for statement in stale_comments(con, text):
            con.execute(statement)
        con.execute(compose("CREATE OR REPLACE MACRO {name}() AS {value}", name=_SCHEMA_MARK,
                            value=sql_literal(fingerprint)))
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


_SCHEMA_MARK = "kalshi_applied_schema_sha256"


def _holds_every_table_and_view(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether no table or view of schema.sql is missing (one was dropped since the schema last ran)."""
    reference = schema_reference()
    present = {name for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "UNION ALL SELECT view_name FROM duckdb_views() WHERE database_name = current_database() AND NOT internal"
    ).fetchall()}
    return present >= set(reference.tables) | set(reference.views)


def _applied_schema(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        return con.execute(compose("SELECT {name}()", name=_SCHEMA_MARK)).fetchone()[0]
    except duckdb.CatalogException:  # a new file, or one written before the mark existed
        return None


def column_comments(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str | None]:
    """{(table, column): description} of every column of the current database and schema."""
    return {
        (table, column): comment
        for table, column, comment in con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = current_schema()"
        ).fetchall()
    }


def stale_comments(con: duckdb.DuckDBPyConnection, text: str) -> list[str]:
    """The COMMENT ON COLUMN statements of `text` whose column exists here with another description. Only
    columns the catalogue has: a table created otherwise (an older file, a test's own table) keeps its shape."""
    wanted = {(m.group(1), m.group(2)): m for m in _COLUMN_COMMENT.finditer(text)}
    current = column_comments(con)
    return [m.group(0) for key, m in wanted.items() if key in current and current[key] != m.group(3).replace("''", "'")]


@contextlib.contextmanager
def connection(path: str | Path | Location, read_only: bool = False,
               timeout_s: float = 10.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection that is always closed, so the file lock is released as soon as the work is done."""
    con = connect(path, read_only=read_only, timeout_s=timeout_s)
    try:
        yield con
    finally:
        con.close()


def checked_identifier(name: str) -> str:
    """A table or column name that is safe to splice into SQL (values always go in as parameters)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a valid SQL identifier: {name!r}")
    return name


class Composed(str):
    """SQL text made by `compose` (or a quoted literal, or schema.sql's own text): it fills another
    template as it is, so statements are built from pieces without any string concatenation of SQL."""


def compose(template: str, **parts: str | list[str] | Composed) -> Composed:
    """SQL text with checked identifiers filled in: `compose("SELECT count(*) FROM {table}", table=name)`.

    Only table and column names go through here (a list becomes a comma-separated column list), or
    pieces composed before (`Composed`); every value still travels as a parameter of `execute`.
    """
    checked = {}
    for key, value in parts.items():
        if isinstance(value, Composed):
            checked[key] = value
        elif isinstance(value, list):
            checked[key] = ", ".join(checked_identifier(v) for v in value)
        else:
            checked[key] = checked_identifier(value)
    return Composed(template.format(**checked))


def join(separator: str, pieces: Iterable[Composed]) -> Composed:
    """Composed pieces joined by a constant separator (" AND ", ", ")."""
    pieces = list(pieces)
    if not all(isinstance(piece, Composed) for piece in pieces):
        raise TypeError("db.join takes only pieces made by db.compose")
    return Composed(separator.join(pieces))


class Column(NamedTuple):
    """One column as the catalogue describes it (the description is schema.sql's COMMENT ON COLUMN)."""

    name: str
    data_type: str
    description: str | None


def columns(con: duckdb.DuckDBPyConnection, table: str) -> list[Column]:
    """The one catalogue reader: the columns of a table or view of the warehouse, in order ([] when it
    does not exist). Reads the current database, so it answers alike for the file and the lake."""
    rows = con.execute(
        "SELECT column_name, data_type, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = current_schema() AND table_name = ? "
        "ORDER BY column_index",
        [table],
    ).fetchall()
    return [Column(*row) for row in rows]


# The names alone, from one table's entry: `columns` scans the whole catalogue (duckdb_columns(), about
# 5 ms a call on the demo warehouse against 1 ms, and half a second the first time in a process), and
# every write asks. The name is qualified by the current database and schema, as `columns` filters.
_TABLE_COLUMN_NAMES = """
SELECT name FROM pragma_table_info('"' || current_database() || '"."' || current_schema() || '"."' || ? || '"')
ORDER BY cid"""


def _column_names(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    if _IDENTIFIER.match(table):
        try:
            return [name for (name,) in con.execute(_TABLE_COLUMN_NAMES, [table]).fetchall()]
        except duckdb.CatalogException:  # no such table or view
            return []
        except (duckdb.ParserException, duckdb.BinderException):  # a database name with a '"' in it: scan
            pass
    return [column.name for column in columns(con, table)]


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Column names of a table or view that must exist (a clear error otherwise)."""
    found = _column_names(con, table)
    if not found:
        raise ValueError(f"unknown warehouse table {table!r}")
    return found


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(_column_names(con, table))


def primary_key(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The key schema.sql gives `table` ([] for a table it does not declare): the lake keeps no constraints,
    so keys are read from the schema file itself, for both backends."""
    declared = schema_reference().keys.get(table)
    if declared is not None:
        return list(declared)
    row = con.execute(  # a table schema.sql does not declare (a test's own): its live constraint, if any
        "SELECT constraint_column_names FROM duckdb_constraints() WHERE database_name = current_database() "
        "AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [table],
    ).fetchone()
    return list(row[0]) if row else []
