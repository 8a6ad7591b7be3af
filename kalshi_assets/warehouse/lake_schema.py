"""The lake's variant of schema.sql, derived from it mechanically, and how a lake is attached.

DuckLake refuses PRIMARY KEY, UNIQUE and CHECK constraints and stores no macros. So, statement by statement
(DuckDB's own parser splits schema.sql):
- a column's inline `PRIMARY KEY` becomes `NOT NULL`; a table's `PRIMARY KEY (...)` line and every
  `CHECK (...)` are dropped: writes.py enforces both from `db.schema_reference()` (the same file) on both
  backends;
- `CREATE MACRO` becomes `CREATE TEMP MACRO`, run on each connection (macros live in no catalog of the lake);
- everything else (tables, views, ALTERs, comments) runs as written.

schema.sql stays the only truth: nothing here names a table or a column.
"""

from __future__ import annotations

import functools
import re

import duckdb

from kalshi_assets.warehouse import db

_INLINE_KEY = re.compile(r"\bPRIMARY\s+KEY\b(?!\s*\()", re.IGNORECASE)
_TABLE_KEY = re.compile(r",\s*PRIMARY\s+KEY\s*\([^)]*\)", re.IGNORECASE)
_CHECK = re.compile(r"\bCHECK\s*\(", re.IGNORECASE)
_MACRO = re.compile(r"^\s*CREATE\s+OR\s+REPLACE\s+MACRO\b", re.IGNORECASE)
SCHEMA_LOCK = "kalshi_assets schema"  # the advisory lock of whoever brings the lake up to date
_LINE_COMMENT = re.compile(r"--[^\n']*$", re.MULTILINE)


def _without_checks(text: str) -> str:
    """`text` with every CHECK (...) removed (parentheses balanced; quotes respected)."""
    out, position = [], 0
    for match in _CHECK.finditer(text):
        if match.start() < position:
            continue
        out.append(text[position:match.start()])
        depth, index, quoted = 1, match.end(), False
        while depth:
            char = text[index]
            if char == "'":
                quoted = not quoted
            elif not quoted:
                depth += {"(": 1, ")": -1}.get(char, 0)
            index += 1
        position = index
    out.append(text[position:])
    return "".join(out)


@functools.cache
def lake_statements() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(statements for the lake's catalog, temp macros for each connection), from schema.sql."""
    catalog, macros = [], []
    for statement in duckdb.extract_statements(db.schema_sql()):
        text = _LINE_COMMENT.sub("", statement.query).strip()
        if _MACRO.match(text):
            macros.append(_MACRO.sub("CREATE OR REPLACE TEMP MACRO", text, count=1))
            continue
        text = _TABLE_KEY.sub("", _INLINE_KEY.sub("NOT NULL", _without_checks(text)))
        catalog.append(text)
    return tuple(catalog), tuple(macros)


def attach_statement(where: db.Location) -> db.Composed:
    """ATTACH takes no parameters: its libpq string (no password, `db.location` refuses one) and data path
    are quoted as literals. Data inlining is off so every table's rows are Parquet files under the data path."""
    return db.compose("ATTACH {catalog} AS lake (DATA_PATH {data}, DATA_INLINING_ROW_LIMIT 0)",
                      catalog=db.sql_literal("ducklake:postgres:" + where.catalog),
                      data=db.sql_literal(where.data_path))


def create_macros(con: duckdb.DuckDBPyConnection) -> None:
    for macro in lake_statements()[1]:
        con.execute(macro)


def is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the lake already has every table, column, view and column description of schema.sql."""
    reference = db.schema_reference()
    present = db.column_comments(con)
    views = {row[0] for row in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE database_name = current_database()").fetchall()}
    wanted = {(table, column) for table, names in reference.tables.items() for column in names}
    return (wanted <= present.keys() and set(reference.views) <= views
            and all(present[key] == comment for key, comment in reference.comments.items()))


def apply(con: duckdb.DuckDBPyConnection, where: db.Location) -> None:
    """Bring the lake's catalog to schema.sql. A no-op read when it is current; otherwise one writer at a
    time (a PostgreSQL advisory lock) runs the derived DDL in one transaction."""
    if is_current(con):
        return
    with db.advisory_locks(con, [SCHEMA_LOCK]):
        if is_current(con):  # another process brought it up to date while this one waited
            return
        statements = lake_statements()[0]
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in statements:
                if not statement.upper().startswith("COMMENT ON COLUMN"):
                    con.execute(statement)
            for statement in db.stale_comments(con, db.schema_sql()):
                con.execute(statement)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
