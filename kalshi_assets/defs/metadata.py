"""Materialization metadata every asset reports: row counts, the column schema with descriptions, a preview.

The column descriptions are the `COMMENT ON COLUMN` statements of warehouse/schema.sql, read back from the
catalogue. Previews round numbers for display (the warehouse keeps full precision) and print long text
(promotion reasons, messages) in full below the table instead of clipping it inside a cell.
"""


import math
from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from kalshi_assets.defs.partitions import utc_window
from kalshi_assets.reports.formatting import SIGNIFICANT_DIGITS, display_value
from kalshi_assets.warehouse import db, summary
from kalshi_assets.warehouse import ingest as ingest_reads

WRITER_POOL = "duckdb_writer"  # DuckDB admits one writing process: every writer asset shares this pool
PREVIEW_ROWS = 10
LONG_TEXT = 48  # characters: a longer cell is printed in full below the preview table


def _cell(value: Any) -> str:
    return display_value(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame, max_rows: int = PREVIEW_ROWS, total_rows: int | None = None) -> str:
    """A Markdown table of the first `max_rows` rows, numbers rounded for display. Columns holding long
    text are listed in full below it, one line per row keyed by the first column."""
    if frame.empty:
        return "_no rows_"
    head = frame.head(max_rows)
    cells = {column: [_cell(v) for v in head[column]] for column in head.columns}
    long_text = [c for c in head.columns[1:] if any(len(text) > LONG_TEXT for text in cells[c])]
    shown = [c for c in head.columns if c not in long_text]
    lines = ["| " + " | ".join(map(str, shown)) + " |", "|" + "---|" * len(shown)]
    for i in range(len(head)):
        lines.append("| " + " | ".join(cells[c][i] for c in shown) + " |")
    total = len(frame) if total_rows is None else total_rows
    if total > len(head):
        lines.append(f"\n_showing {len(head)} of {total:,} rows_")
    key = head.columns[0]
    for column in long_text:
        lines.append(f"\n**{column}**\n")
        lines.extend(f"- `{cells[key][i]}`: {cells[column][i]}" for i in range(len(head)))
    return "\n".join(lines)


def _rounded(value: Any) -> Any:
    """Floats to four significant digits, also inside lists, dicts and float metadata values."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}") if math.isfinite(value) else value
    if isinstance(value, dg.FloatMetadataValue):
        return dg.MetadataValue.float(_rounded(value.value)) if value.value is not None else value
    if isinstance(value, dg.JsonMetadataValue):
        return dg.MetadataValue.json(_rounded(value.data))
    if isinstance(value, dg.MetadataValue | dg.TableSchema):  # records (tuples underneath): kept as they are
        return value
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def display_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata as the UI should show it: floats rounded for display (the warehouse keeps them whole)."""
    return {key: _rounded(value) for key, value in metadata.items()}


def column_schema(con: duckdb.DuckDBPyConnection, table: str) -> dg.TableSchema:
    """The table's columns, types and descriptions (schema.sql's column comments)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=name, type=dtype, description=description)
            for name, dtype, description in db.columns(con, table)
        ]
    )


def table_metadata(
    con: duckdb.DuckDBPyConnection, table: str, written: int, order_by: str | None = None, **extra: Any
) -> dict[str, Any]:
    """Standard metadata for a warehouse table after a write (a partitioned asset: `partitioned_result`)."""
    rows = ingest_reads.row_count(con, table)
    return {
        "dagster/row_count": dg.MetadataValue.int(rows),
        "table_rows": dg.MetadataValue.int(rows),
        "rows_written": dg.MetadataValue.int(int(written)),
        "dagster/column_schema": column_schema(con, table),
        "dagster/table_name": dg.MetadataValue.text(table),
        "preview": dg.MetadataValue.md(
            markdown_table(ingest_reads.preview(con, table, PREVIEW_ROWS, order_by), total_rows=rows)
        ),
        **display_metadata(extra),
    }


def partitioned_result(
    context: dg.AssetExecutionContext, con: duckdb.DuckDBPyConnection, table: str, time_column: str,
    written: int, order_by: str | None = None, **extra: Any,
) -> dg.MaterializeResult:
    """The materialization of a partitioned asset's run: each daily partition gets its own
    `dagster/row_count` (the rows whose `time_column` falls on that UTC day); what describes the whole
    table (`table_metadata`: schema, preview, totals, and `extra`) goes on the run's newest partition
    only, which the UI shows as the asset's latest materialization. Copied into every day's event, it was
    ~10 KB x 761 days x 4 assets of event log serialized and stored twice (issue 16)."""
    start, end = utc_window(context)
    by_day = {day.isoformat(): rows for day, rows in summary.rows_per_day(con, table, time_column, start, end).items()}
    *earlier, newest = context.partition_keys
    for key in earlier:
        context.add_asset_metadata({"dagster/row_count": dg.MetadataValue.int(by_day.get(key, 0))}, partition_key=key)
    whole = table_metadata(con, table, written, order_by, **extra)
    whole["dagster/row_count"] = dg.MetadataValue.int(by_day.get(newest, 0))
    context.add_asset_metadata(whole, partition_key=newest)
    return dg.MaterializeResult()
