"""The snapshot stage's as-of lookup answers what DuckDB's ASOF LEFT JOIN answers (it replaced one)."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_assets.warehouse.distributions import _age_hours, latest_at_or_before

_EPOCH_2024 = 1_704_067_200_000_000  # 2024-01-01 in epoch microseconds

_rows = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 10**11)), max_size=60, unique=True  # (market, us after 2024)
)


@st.composite
def _rows_and_queries(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Rows, and queries that often fall on a row's time exactly or a microsecond either side of it."""
    rows = draw(_rows)
    near = st.sampled_from(rows).flatmap(
        lambda row: st.tuples(st.just(row[0]), st.integers(max(row[1] - 1, 0), row[1] + 1))
    ) if rows else st.nothing()
    anywhere = st.tuples(st.integers(0, 7), st.integers(0, 10**11))
    return rows, draw(st.lists(near | anywhere, max_size=40))


_DUCKDB = duckdb.connect()  # one in-memory database for every example: tables are replaced each time


def _duckdb_asof(rows: list[tuple[int, int]], queries: list[tuple[int, int]]) -> pd.DataFrame:
    con = _DUCKDB
    for name, values in (("q", rows), ("r", queries)):
        frame = pd.DataFrame({"n": np.arange(len(values), dtype=np.int64),
                              "g": np.array([g for g, _ in values], dtype=np.int64),
                              "us": np.array([_EPOCH_2024 + t for _, t in values], dtype=np.int64)})
        con.register(f"{name}_frame", frame)
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT n AS {'pos' if name == 'q' else 'i'}, g, "  # noqa: S608 - test constants
                    f"make_timestamp(us) AS t FROM {name}_frame")
    return con.execute(
        "SELECT r.i, q.pos, date_diff('second', q.t, r.t) / 3600.0 AS age_hours "
        "FROM r ASOF LEFT JOIN q ON q.g = r.g AND r.t >= q.t ORDER BY r.i"
    ).df()


@settings(max_examples=120, deadline=None)
@given(_rows_and_queries())
def test_latest_at_or_before_is_duckdbs_asof_join(rows_and_queries: tuple[list, list]) -> None:
    rows, queries = rows_and_queries
    ordered = sorted(rows)  # the lookup takes rows sorted by (group, time), as the quotes query returns them
    group = np.array([g for g, _ in ordered], dtype=np.int64)
    time_us = np.array([_EPOCH_2024 + t for _, t in ordered], dtype=np.int64)
    at_group = np.array([g for g, _ in queries], dtype=np.int64)
    at_us = np.array([_EPOCH_2024 + t for _, t in queries], dtype=np.int64)

    position, found = latest_at_or_before(group, time_us, at_group, at_us)
    expected = _duckdb_asof(ordered, queries)

    assert len(expected) == len(queries)
    assert found.tolist() == expected["pos"].notna().tolist()
    assert position[found].tolist() == expected["pos"].dropna().astype(int).tolist()
    ages = _age_hours(at_us, time_us, position, found)
    assert np.array_equal(ages, expected["age_hours"].to_numpy(dtype=np.float64, na_value=np.nan), equal_nan=True)


def test_a_lookup_too_wide_to_pack_is_refused() -> None:
    """Group and time share one int64 key; a span and group count that cannot share it raise, never wrap."""
    group = np.array([0, 2**40], dtype=np.int64)
    time_us = np.array([0, 2**30], dtype=np.int64)
    with pytest.raises(ValueError, match="cannot pack"):
        latest_at_or_before(group, time_us, group, time_us)


def test_nothing_to_look_up_in_finds_nothing() -> None:
    at = np.array([1, 2], dtype=np.int64)
    position, found = latest_at_or_before(np.array([], dtype=np.int64), np.array([], dtype=np.int64), at, at)
    assert not found.any() and len(position) == 2
