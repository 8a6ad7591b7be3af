"""Query an audit log with DuckDB's `read_json` over its plain and gzip-compressed segments.

Query is not verification: it reads without the writers' lock and skips a line it cannot parse
(a record being written at that instant, or damage `verify` reports). A rotation that renames a
segment mid-query is retried.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from kalshi_assets.audit.encoding import RECORD_FIELDS
from kalshi_assets.audit.segments import list_segments
from kalshi_assets.times import parse_utc

_QUERY_SQL = """
SELECT seq, ts, event_type, user_id, payload, prev_hash, hash
FROM read_json(
    ?,
    format = 'newline_delimited',
    ignore_errors = true,
    columns = {
        seq: 'BIGINT', ts: 'VARCHAR', event_type: 'VARCHAR', user_id: 'VARCHAR',
        payload: 'JSON', prev_hash: 'VARCHAR', hash: 'VARCHAR'
    }
)
WHERE seq IS NOT NULL
  AND (CAST(? AS VARCHAR) IS NULL OR event_type = ?)
  AND (CAST(? AS VARCHAR) IS NULL OR user_id = ?)
  AND (CAST(? AS TIMESTAMP) IS NULL OR strptime(ts, '%Y-%m-%dT%H:%M:%S.%fZ') >= ?)
  AND (CAST(? AS TIMESTAMP) IS NULL OR strptime(ts, '%Y-%m-%dT%H:%M:%S.%fZ') < ?)
ORDER BY seq
LIMIT ?
"""

_ATTEMPTS = 3


def query_log(
    directory: str | os.PathLike[str],
    *,
    event_type: str | None = None,
    user_id: str | None = None,
    start: dt.datetime | dt.date | str | None = None,
    end: dt.datetime | dt.date | str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Records matching every given filter, in sequence order.

    `start` is inclusive and `end` exclusive, both UTC (naive datetimes are taken as UTC).
    Each record has the fields it was written with; `payload` is a dict.
    """
    import duckdb  # imported here so appending processes never pay for it

    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"no audit log directory at {root}")
    if limit is not None and limit < 0:
        raise ValueError("limit must be non-negative")
    start_ts = None if start is None else parse_utc(start)
    end_ts = None if end is None else parse_utc(end)
    for attempt in range(_ATTEMPTS):
        files = [str(segment.path) for segment in list_segments(root)]
        if not files:
            return []
        con = duckdb.connect()
        try:
            rows = con.execute(
                _QUERY_SQL,
                [files, event_type, event_type, user_id, user_id, start_ts, start_ts, end_ts, end_ts, limit],
            ).fetchall()
        except duckdb.IOException:
            if attempt == _ATTEMPTS - 1:
                raise
            continue  # a segment was renamed by a rotation between listing and reading
        finally:
            con.close()
        return [_row_to_record(row) for row in rows]
    return []


def _row_to_record(row: tuple[Any, ...]) -> dict[str, Any]:
    record = dict(zip(RECORD_FIELDS, row, strict=True))
    record["payload"] = json.loads(record["payload"]) if record["payload"] is not None else {}
    return record
