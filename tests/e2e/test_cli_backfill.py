"""CLI backfills with the real `dagster` program, no daemon: the commands docs/OPERATIONS.md gives.

The documented block is run as written (against a temporary DAGSTER_HOME and warehouse): upstream
metadata, every partitioned asset over a range in one run, then every unpartitioned asset after them.
Running the range and the downstream job again changes no row (run stamps aside).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from kalshi_assets.definitions import defs
from kalshi_assets.defs.runner import plan_stages
from tests.e2e.conftest import MODULE, REPO, Stage, iter_lines
from tests.partition_range import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

OPERATIONS = REPO / "docs" / "OPERATIONS.md"
BEGIN, END = "<!-- backfill-commands:begin -->", "<!-- backfill-commands:end -->"
RANGE = ("2026-10-01", "2026-10-03")


def documented_commands() -> list[list[str]]:
    commands = []
    for line in iter_lines(OPERATIONS, BEGIN, END):
        text = line.strip()
        if text and not text.startswith(("#", "```")):
            commands.append(shlex.split(text))
    return commands


def _select(command: list[str]) -> set[str]:
    return set(command[command.index("--select") + 1].split(","))


def fingerprint(path: Path) -> dict[str, tuple[int, str]]:
    """Per table: row count and a digest of every column except run stamps (*_at, run_id)."""
    out = {}
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' ORDER BY 1").fetchall()]
        for table in tables:
            columns = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [table]).fetchall()]
            kept = [c for c in columns if not c.endswith("_at") and c != "run_id"]
            select = ", ".join(f'"{c}"' for c in kept)  # catalogue names, quoted
            sql = f'SELECT count(*), md5(string_agg(CAST(t AS VARCHAR), \'\n\' ORDER BY t)) FROM (SELECT ROW({select}) AS t FROM "{table}")'
            out[table] = tuple(con.execute(sql).fetchone())
    finally:
        con.close()
    return out


def test_the_documented_commands_cover_every_stage_of_the_graph() -> None:
    commands = documented_commands()
    stages = {name: {k.to_user_string() for k in keys} for name, keys in plan_stages(defs)}
    upstream, ranged, downstream = commands
    assert upstream[:3] == ["dagster", "asset", "materialize"] and _select(upstream) == stages["upstream"]
    assert "--partition-range" in ranged and _select(ranged) == stages["partitioned"], (
        "docs/OPERATIONS.md must list every partitioned asset in its range backfill"
    )
    assert ranged[ranged.index("--partition-range") + 1] == "...".join(RANGE)
    assert downstream == ["dagster", "job", "execute", "-m", MODULE, "-j", "refresh_downstream"]


def test_definitions_validate(stage: Stage) -> None:
    done = stage.run("dagster", "definitions", "validate", "-m", MODULE)
    assert "All code locations passed validation" in done.stdout + done.stderr


def test_a_range_backfill_in_one_run_then_downstream_and_a_rerun_changes_nothing(stage: Stage) -> None:
    upstream, ranged, downstream = documented_commands()
    for command in (upstream, ranged, downstream):
        stage.run(*command)
    first = fingerprint(stage.warehouse)

    # The range landed, and only the range: a daily partition holds ts in [day, day + 1).
    con = duckdb.connect(str(stage.warehouse), read_only=True)
    days = con.execute("SELECT DISTINCT CAST(ts AS DATE) FROM kalshi_quotes ORDER BY 1").fetchall()
    con.close()
    assert [str(d) for (d,) in days] == ["2026-10-01", "2026-10-02", "2026-10-03"]
    assert first["kalshi_quotes"][0] > 0 and first["distribution_snapshots"][0] > 0
    assert all(first[t][0] > 0 for t in ("outcomes_first_print", "event_labels", "calibration_bins"))

    # One run per command, no daemon: the partitioned run carries the range tags.
    with dg.DagsterInstance.from_config(str(stage.home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 3 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        ranged_runs = [r for r in runs if r.tags.get(ASSET_PARTITION_RANGE_START_TAG)]
        assert [(r.tags[ASSET_PARTITION_RANGE_START_TAG], r.tags[ASSET_PARTITION_RANGE_END_TAG]) for r in ranged_runs] \
            == [RANGE]

    stage.run(*ranged)
    stage.run(*downstream)
    assert fingerprint(stage.warehouse) == first
