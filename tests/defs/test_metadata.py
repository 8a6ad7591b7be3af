"""What the UI shows of a table: previews with numbers rounded for reading, long text in full below the
table (never clipped in a cell), every row when the table is small, and floats rounded in metadata."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from kalshi_assets.defs.metadata import display_metadata, markdown_table

REASON = ("DSR over 6 candidates (SR0 0.08577) 0.9251 fails (> 0.95); stress: GDP regime Sharpe -0.71 below "
          "-0.5; min_trades 12 below 30")


def test_long_text_goes_below_the_table_in_full_and_numbers_are_rounded() -> None:
    frame = pd.DataFrame({
        "candidate": [f"normal_h{i}d_edge0.05" for i in range(6)],
        "promoted": [False] * 6,
        "sharpe": [0.20071234567891, 0.1, 124000.0, 1e-7, float("nan"), -0.333333333],
        "reasons": [REASON] * 5 + ["all gates passed"],
    })
    text = markdown_table(frame)
    table, _, below = text.partition("**reasons**")
    assert "| candidate | promoted | sharpe |" in table and "reasons" not in table.splitlines()[0]
    assert "0.2007" in table and "124,000" in table and "-0.3333" in table and "0.20071234" not in table
    assert below.count(REASON) == 5 and "- `normal_h5d_edge0.05`: all gates passed" in below
    assert "showing" not in text  # six rows: all of them


def test_a_cut_preview_says_how_many_rows_there_are() -> None:
    frame = pd.DataFrame({"x": range(30)})
    assert markdown_table(frame, max_rows=10).endswith("_showing 10 of 30 rows_")
    assert markdown_table(frame.head(3), max_rows=10, total_rows=84_669).endswith("_showing 3 of 84,669 rows_")
    assert markdown_table(pd.DataFrame()) == "_no rows_"


def test_metadata_floats_are_rounded_for_display_and_records_kept() -> None:
    schema = dg.TableSchema(columns=[dg.TableColumn("a", "DOUBLE", description="d")])
    shown = display_metadata({
        "share": 0.0024278392230914487,
        "float": dg.MetadataValue.float(0.09652348594592436),
        "json": dg.MetadataValue.json({"KXCPI": 0.123456789, "list": [1.987654321, 3]}),
        "rows": dg.MetadataValue.int(25116),
        "schema": schema,
        "flag": True,
    })
    assert shown["share"] == 0.002428 and shown["float"].value == 0.09652
    assert shown["json"].data == {"KXCPI": 0.1235, "list": [1.988, 3]}
    assert shown["rows"].value == 25116 and shown["schema"] is schema and shown["flag"] is True
