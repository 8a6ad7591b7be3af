"""Materialization metadata every asset reports: row count, column schema and a preview."""


from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from kalshi_assets.warehouse import ingest as ingest_reads

WRITER_POOL = "duckdb_writer"  # DuckDB admits one writing process: every writer asset shares this pool


def markdown_table(frame: pd.DataFrame, max_rows: int = 5) -> str:
    """A small Markdown table (no tabulate dependency)."""
    if frame.empty:
        return "_no rows_"
    head = frame.head(max_rows)
    lines = ["| " + " | ".join(map(str, head.columns)) + " |", "|" + "---|" * len(head.columns)]
    for row in head.itertuples(index=False):
        lines.append("| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |")
    return "\n".join(lines)


def table_metadata(
    con: duckdb.DuckDBPyConnection, table: str, written: int, order_by: str | None = None, **extra: Any
) -> dict[str, Any]:
    """Standard metadata for a warehouse table after a write."""
    columns = ingest_reads.column_types(con, table)
    return {
        "dagster/row_count": dg.MetadataValue.int(ingest_reads.row_count(con, table)),
        "rows_written": dg.MetadataValue.int(int(written)),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name=name, type=dtype) for name, dtype in columns]
        ),
        "dagster/table_name": dg.MetadataValue.text(table),
        "preview": dg.MetadataValue.md(markdown_table(ingest_reads.preview(con, table, 5, order_by))),
        **extra,
    }
