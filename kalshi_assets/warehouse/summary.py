"""What the warehouse holds: the figures `kalshi-assets demo` prints at the end."""

from __future__ import annotations

import duckdb


def table_row_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    """(name, kind, rows) for every table and view in the warehouse, tables first."""
    objects = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main' "
        "ORDER BY table_type, table_name"
    ).fetchall()
    out = []
    for name, kind in objects:
        # Names come from the catalogue itself; quoting keeps any name safe.
        quoted = '"' + name.replace('"', '""') + '"'
        rows = con.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0]  # noqa: S608 - catalogue name
        out.append((name, "view" if kind == "VIEW" else "table", rows))
    return out


def quote_time_range(con: duckdb.DuckDBPyConnection) -> tuple[object, object]:
    return con.execute("SELECT min(ts), max(ts) FROM kalshi_quotes").fetchone()
