"""Shared fixtures: a warehouse ingested from the demo exchange over a short window, built once per session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from hypothesis import settings as hypothesis_settings

from tests.partition_range import partition_range_tags

# Real PostgreSQL and Redis servers for the distributed tests (session fixtures; see tests/servers.py).
pytest_plugins = ("tests.servers",)

# CI runs the property tests on fixed examples, so a red run is reproducible and never a coin toss;
# locally hypothesis keeps exploring new examples.
# Neither profile has a deadline: on a shared 2-core machine a slow example is load, not a bug.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
hypothesis_settings.register_profile("local", deadline=None)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "local")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked slow first, each group in its collected order. `make test` hands whole files to two
    workers in this order (`--dist loadfile --no-loadscope-reorder`), so the long end-to-end files start at
    once and the many quick ones fill in behind them. xdist's own order (files with the most tests first) left
    the longest file, the lake backfill, to run alone for the suite's last two minutes."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


# Files that share a session fixture too costly to build twice go to one worker as one unit: the UI test's
# `demo_run` (a whole `kalshi-assets demo`, 20-50 s) is test_demo_runs.py's, and --dist loadfile sent the two
# files to different workers, each building it.
SCHEDULED_WITH = {"tests/e2e/test_ui_lineage.py": "tests/e2e/test_demo_runs.py"}


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """`--dist loadfile`, with the files of SCHEDULED_WITH joined to their partner's unit (other modes: xdist's)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LoadFileWithSharedFixtures(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return SCHEDULED_WITH.get(scope, scope)

    return LoadFileWithSharedFixtures(config, log)


# Two months that hold settled CPI, jobs, GDP and FOMC events, ending at the demo's "now".
WINDOW_START = "2026-09-01"
WINDOW_END = "2026-10-31"


def materialize_ingest(warehouse_path: Path, start: str = WINDOW_START, end: str = WINDOW_END) -> None:
    """Run the ingest assets against `warehouse_path`: metadata first, then quotes and trades for [start, end]
    in one run."""
    from kalshi_assets.defs import ingest
    from kalshi_assets.defs.resources import MarketDataResource, SettingsResource, WarehouseResource

    resources = {
        "warehouse": WarehouseResource(path=str(warehouse_path)),
        "market_data": MarketDataResource(),
        "settings": SettingsResource(),
    }
    result = dg.materialize([ingest.kalshi_series, ingest.kalshi_events, ingest.kalshi_markets], resources=resources)
    assert result.success
    defs = dg.Definitions(
        assets=[ingest.kalshi_quotes, ingest.kalshi_trades],
        asset_checks=[ingest.quotes_are_sound, ingest.trades_are_sound],
        resources=resources,
        jobs=[dg.define_asset_job("ingest_quotes", selection=[ingest.kalshi_quotes, ingest.kalshi_trades])],
        executor=dg.in_process_executor,
    )
    run = defs.resolve_job_def("ingest_quotes").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        tags=partition_range_tags(start, end),
    )
    assert run.success


@pytest.fixture(scope="session", autouse=True)
def _audit_log_outside_the_repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Resources that audit API calls default to the audit_log resource's directory, which without
    KALSHI_AUDIT_DIR is the repository's data/audit: tests write to a temporary one instead."""
    with pytest.MonkeyPatch.context() as patch:
        if not os.environ.get("KALSHI_AUDIT_DIR"):
            patch.setenv("KALSHI_AUDIT_DIR", str(tmp_path_factory.mktemp("session_audit")))
        yield


@pytest.fixture(scope="session")
def ingested_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only template warehouse; tests that write copy it first (see `warehouse_copy`)."""
    path = tmp_path_factory.mktemp("ingested") / "warehouse.duckdb"
    materialize_ingest(path)
    return path


@pytest.fixture()
def warehouse_copy(ingested_warehouse: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the ingested warehouse."""
    target = tmp_path / "warehouse.duckdb"
    shutil.copyfile(ingested_warehouse, target)
    return target
