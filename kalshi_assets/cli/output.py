"""How the read commands print: a `rich` table on a terminal, plain aligned text in a pipe (or with
--plain), every column as JSON with --json (numbers as numbers, times as ISO 8601 UTC)."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from kalshi_assets.reports.formatting import display_value

Record = dict[str, Any]


@dataclass(frozen=True)
class Column:
    """A column of the readable table: the record's field and its header (with the unit)."""

    field: str
    header: str | None = None
    numeric: bool = False

    @property
    def title(self) -> str:
        return self.header or self.field


def json_value(value: Any) -> Any:
    """JSON for a record's value: Decimal and other numbers as numbers, times as ISO text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def print_json(payload: Any) -> None:
    print(json.dumps(_clean(payload), default=json_value, indent=1, ensure_ascii=False))


def plain_table(records: Sequence[Record], columns: Sequence[Column]) -> str:
    """Aligned text, numbers right-aligned, nothing cut (a pipe may want every character)."""
    cells = [[display_value(r.get(c.field)) for c in columns] for r in records]
    widths = [max(len(c.title), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if c.numeric else v.ljust(w) for v, w, c in zip(values, widths, columns, strict=True)
        ).rstrip()

    return "\n".join([line([c.title for c in columns]), "  ".join("-" * w for w in widths), *map(line, cells)])


def rich_table(records: Sequence[Record], columns: Sequence[Column]):
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, header_style="bold")
    for column in columns:
        table.add_column(column.title, justify="right" if column.numeric else "left", overflow="fold")
    for record in records:
        table.add_row(*(display_value(record.get(c.field)) for c in columns))
    return table


def use_rich(plain: bool) -> bool:
    return not plain and sys.stdout.isatty()


def present_columns(records: Sequence[Record], columns: Sequence[Column]) -> list[Column]:
    """The preferred columns the records have (every field when none of them is there)."""
    if not records:
        return list(columns)
    chosen = [c for c in columns if c.field in records[0]]
    return chosen or [Column(name) for name in records[0]]


def emit_records(
    records: Sequence[Record],
    columns: Sequence[Column],
    *,
    as_json: bool,
    plain: bool,
    total: int | None = None,
    what: str = "rows",
    more_hint: str = "",
) -> None:
    """Print the records; say "showing N of M" when a limit cut them (on stderr for --json)."""
    cut = total is not None and total > len(records)
    note = f"showing {len(records):,} of {total:,} {what}{'; ' + more_hint if more_hint else ''}" if cut else ""
    if as_json:
        print_json(list(records))
        if note:
            print(note, file=sys.stderr)
        return
    if not records:
        print(f"(no {what})")
        return
    shown = present_columns(records, columns)
    if use_rich(plain):
        from rich.console import Console

        console = Console()
        console.print(rich_table(records, shown))
        if note:
            console.print(note, style="dim")
    else:
        print(plain_table(records, shown))
        if note:
            print(note)
