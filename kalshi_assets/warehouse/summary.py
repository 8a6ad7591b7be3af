"""What the warehouse holds per day of a partitioned table (the catalogue and its column descriptions are
db.columns; table counts and the quote range are warehouse/service.py's)."""

from __future__ import annotations

from datetime import date, datetime

import duckdb

from kalshi_assets.warehouse.db import compose


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
