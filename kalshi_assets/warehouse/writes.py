"""Idempotent writes: partition replacement, column-named upserts, insert-if-absent.

Identifiers are checked against the live catalogue (`table_columns`) before they are spliced into SQL;
every value travels as data through a registered DataFrame, never as SQL text.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

import duckdb
import pandas as pd

from kalshi_assets.warehouse.db import checked_identifier, compose, primary_key, table_columns

_view_names = (f"incoming_rows_{n}" for n in itertools.count())


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All-or-nothing: a failure anywhere inside leaves the tables as they were."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextlib.contextmanager
def registered(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, name: str | None = None) -> Iterator[str]:
    """`frame` as a view for the duration of the block (a fresh name unless one is given): how rows reach SQL."""
    name = name or next(_view_names)
    con.register(name, frame)
    try:
        yield name
    finally:
        con.unregister(name)


def _columns(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> list[str]:
    checked_identifier(table)
    known = set(table_columns(con, table))
    unknown = [c for c in frame.columns if c not in known]
    if unknown:
        raise ValueError(f"{table}: columns {unknown} are not in the schema")
    return [checked_identifier(c) for c in frame.columns]


def _dedupe(frame: pd.DataFrame, keys: Sequence[str], table: str) -> pd.DataFrame:
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise ValueError(f"{table}: incoming rows lack key columns {missing}")
    if frame[list(keys)].isna().any().any():
        raise ValueError(f"{table}: incoming rows have NULL in key columns {list(keys)}")
    return frame.drop_duplicates(subset=list(keys), keep="last")


def upsert(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, keys: Sequence[str] | None = None
) -> int:
    """Insert new keys; on an existing key update each named column only where the new value is not NULL.

    A NULL in an incoming row never erases a known value (no whole-row replace). Returns rows written.
    """
    if frame.empty:
        return 0
    columns = _columns(con, table, frame)
    keys = [checked_identifier(k) for k in (keys or primary_key(con, table))]
    if not keys:
        raise ValueError(f"{table}: an upsert needs a primary key")
    frame = _dedupe(frame, keys, table)
    column_list = ", ".join(columns)
    updates = ", ".join(f"{c} = COALESCE(excluded.{c}, {table}.{c})" for c in columns if c not in keys)
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    with registered(con, frame) as view:
        sql = (
            f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {view} "  # noqa: S608 - checked identifiers
            f"ON CONFLICT ({', '.join(keys)}) {action}"
        )
        con.execute(sql)
    return len(frame)


def insert_if_absent(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, keys: Sequence[str] | None = None
) -> int:
    """Insert rows whose key is new; existing rows are never touched. Returns the number inserted."""
    if frame.empty:
        return 0
    columns = _columns(con, table, frame)
    keys = [checked_identifier(k) for k in (keys or primary_key(con, table))]
    frame = _dedupe(frame, keys, table)
    column_list = ", ".join(columns)
    count_sql = compose("SELECT count(*) FROM {table}", table=table)
    before = con.execute(count_sql).fetchone()[0]
    with registered(con, frame) as view:
        sql = (
            f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {view} "  # noqa: S608
            f"ON CONFLICT ({', '.join(keys)}) DO NOTHING"
        )
        con.execute(sql)
    return con.execute(count_sql).fetchone()[0] - before


def replace_window(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    time_column: str,
    start: datetime,
    end: datetime,
) -> int:
    """Replace exactly the rows with start <= time_column < end by `frame`, in one transaction.

    This is how a partition is (re)materialized: a replay leaves the same rows, never duplicates, and a
    failure midway leaves the previous rows in place. Rows of `frame` outside the window are refused.
    """
    return replace_windows(con, {table: frame}, time_column, start, end)[table]


def replace_windows(
    con: duckdb.DuckDBPyConnection,
    frames: Mapping[str, pd.DataFrame],
    time_column: str,
    start: datetime,
    end: datetime,
) -> dict[str, int]:
    """`replace_window` for several tables that share a time column, all in ONE transaction."""
    time_column = checked_identifier(time_column)
    columns = {}
    for table, frame in frames.items():
        columns[table] = _columns(con, table, frame) if not frame.empty else []
        if frame.empty:
            continue
        times = pd.to_datetime(frame[time_column])
        outside = frame[(times < pd.Timestamp(start)) | (times >= pd.Timestamp(end))]
        if not outside.empty:
            raise ValueError(
                f"{table}: {len(outside)} rows fall outside the partition window [{start}, {end}) "
                f"(first: {outside.iloc[0].to_dict()})"
            )
    with transaction(con):
        for table, frame in frames.items():
            con.execute(compose("DELETE FROM {table} WHERE {time} >= ? AND {time} < ?", table=table,
                                time=time_column), [start, end])
            if not frame.empty:
                _insert_all(con, table, frame, columns[table])
    return {table: len(frame) for table, frame in frames.items()}


def _insert_all(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, columns: list[str]) -> None:
    with registered(con, frame) as view:
        con.execute(compose("INSERT INTO {table} ({columns}) SELECT {columns} FROM {view}", table=table,
                            columns=columns, view=view))


def replace_all(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> int:
    """Replace a whole (unpartitioned, derived) table in one transaction."""
    return replace_tables(con, {table: frame})[table]


def replace_tables(con: duckdb.DuckDBPyConnection, frames: Mapping[str, pd.DataFrame]) -> dict[str, int]:
    """Replace several whole tables, all of them or none (one transaction)."""
    columns = {table: _columns(con, table, frame) if not frame.empty else [] for table, frame in frames.items()}
    with transaction(con):
        for table, frame in frames.items():
            con.execute(compose("DELETE FROM {table}", table=table))
            if not frame.empty:
                _insert_all(con, table, frame, columns[table])
    return {table: len(frame) for table, frame in frames.items()}
