"""What the warehouse holds: the catalogue with its column descriptions, rows per day of a partitioned
table, and the figures `kalshi-assets demo` prints at the end (with service.table_counts)."""

from __future__ import annotations

from datetime import date, datetime

import duckdb

from kalshi_assets.warehouse.db import compose


def quote_time_range(con: duckdb.DuckDBPyConnection) -> tuple[object, object]:
    return con.execute("SELECT min(ts), max(ts) FROM kalshi_quotes").fetchone()


def describe_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str, str | None]]:
    """(name, type, description) of each column, in order: the catalogue's reading of the
    `COMMENT ON COLUMN` statements of schema.sql."""
    return [
        (name, dtype, comment)
        for name, dtype, comment in con.execute(
            "SELECT column_name, data_type, comment FROM duckdb_columns() "
            "WHERE schema_name = 'main' AND table_name = ? ORDER BY column_index",
            [table],
        ).fetchall()
    ]


def rows_per_day(
    con: duckdb.DuckDBPyConnection, table: str, time_column: str, start: datetime, end: datetime
) -> dict[date, int]:
    """Rows per UTC day of `time_column` in [start, end): a daily partition's own row count."""
    sql = compose(
        "SELECT CAST({column} AS DATE), count(*) FROM {table} WHERE {column} >= ? AND {column} < ? GROUP BY 1",
        table=table,
        column=time_column,
    )
    return {day: int(rows) for day, rows in con.execute(sql, [start, end]).fetchall()}
