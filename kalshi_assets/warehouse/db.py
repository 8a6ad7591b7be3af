"""Connections to the DuckDB warehouse and the one schema file.

DuckDB lets one process write a file at a time, and while a writer holds it no other process can
open it, not even read-only. Connections therefore retry briefly on a lock conflict and then fail
with an error that says who to wait for, instead of a raw IOException.
"""

from __future__ import annotations

import contextlib
import random
import re
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import duckdb

SCHEMA_SQL = "schema.sql"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
# One column description per line of schema.sql (shown in the Dagster UI through the catalogue).
_COLUMN_COMMENT = re.compile(r"^COMMENT ON COLUMN (\w+)\.(\w+) IS '((?:[^']|'')*)';[ \t]*$", re.MULTILINE)


class WarehouseBusyError(RuntimeError):
    """The DuckDB file stayed locked by another process for longer than the retry budget."""


def schema_sql() -> str:
    return resources.files("kalshi_assets.warehouse").joinpath(SCHEMA_SQL).read_text()


def _is_lock_conflict(error: duckdb.Error) -> bool:
    text = str(error).lower()
    return "lock" in text and ("conflicting" in text or "could not set lock" in text)


def connect(
    path: str | Path, read_only: bool = False, timeout_s: float = 10.0, ensure_schema: bool = True
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, retrying with jittered backoff while another process holds the file."""
    path = Path(path)
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
    if ensure_schema and not read_only:
        apply_schema(con)
    return con


def apply_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Run schema.sql: its tables, views and macros every time (idempotent), and its column comments only
    where the catalogue's differ (a COMMENT is a catalogue write, ~1 ms each and ~400 of them; comparing
    costs one catalogue read, ~20 ms)."""
    text = schema_sql()
    con.execute(_COLUMN_COMMENT.sub("", text))
    wanted = {(m.group(1), m.group(2)): m for m in _COLUMN_COMMENT.finditer(text)}
    current = {
        (table, column): comment
        for table, column, comment in con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE schema_name = 'main'"
        ).fetchall()
    }
    # Only columns the file has: a table created otherwise (an older file, a test's own table) keeps its shape.
    stale = [m.group(0) for key, m in wanted.items()
             if key in current and current[key] != m.group(3).replace("''", "'")]
    if stale:
        con.execute("BEGIN TRANSACTION; " + "\n".join(stale) + " COMMIT;")


@contextlib.contextmanager
def connection(path: str | Path, read_only: bool = False, timeout_s: float = 10.0) -> Iterator[duckdb.DuckDBPyConnection]:
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


def compose(template: str, **identifiers: str | list[str]) -> str:
    """SQL text with checked identifiers filled in: `compose("SELECT count(*) FROM {table}", table=name)`.

    Only table and column names go through here (a list becomes a comma-separated column list); every
    value still travels as a parameter of `execute`.
    """
    checked = {
        key: ", ".join(checked_identifier(v) for v in value) if isinstance(value, list) else checked_identifier(value)
        for key, value in identifiers.items()
    }
    return template.format(**checked)


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    if not rows:
        raise ValueError(f"unknown warehouse table {table!r}")
    return [row[0] for row in rows]


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]).fetchone()[0]
    )


def primary_key(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    row = con.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() "
        "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [table],
    ).fetchone()
    return list(row[0]) if row else []
