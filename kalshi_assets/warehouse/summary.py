"""What the warehouse holds: the figures `kalshi-assets demo` prints at the end (with service.table_counts)."""

from __future__ import annotations

import duckdb


def quote_time_range(con: duckdb.DuckDBPyConnection) -> tuple[object, object]:
    return con.execute("SELECT min(ts), max(ts) FROM kalshi_quotes").fetchone()
