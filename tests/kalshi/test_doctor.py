"""`kalshi-assets doctor`: read-only checks against the demo server, a report that never holds a secret,
and an exit status of 1 on any problem."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kalshi_assets.catalog import load_catalog
from kalshi_assets.demo.exchange import DemoExchange
from kalshi_assets.demo.keys import DEMO_API_KEY_ID, demo_key_pair
from kalshi_assets.demo.server import DemoServer, ServerRateLimits
from kalshi_assets.kalshi import BreakerRegistry, KalshiClient, RetryPolicy
from kalshi_assets.kalshi.doctor import OK, PROBLEM, SKIPPED, diagnose, render

PEM = demo_key_pair()[0]


def _client(server: DemoServer, **overrides) -> KalshiClient:
    settings = {"api_key_id": DEMO_API_KEY_ID, "private_key_pem": PEM, "breaker_registry": BreakerRegistry(),
                "retry": RetryPolicy(max_attempts=1), **overrides}
    return KalshiClient(server.base_url, **settings)


def _no_secret_in(text: str) -> None:
    assert DEMO_API_KEY_ID not in text and "PRIVATE KEY" not in text and "KALSHI-ACCESS" not in text


def test_a_healthy_signed_setup_passes_every_check() -> None:
    with DemoServer(rate_limits=ServerRateLimits(100, 100, tier="premier")) as server:
        report = diagnose(_client(server), load_catalog(), source="demo server", tracked_series=["KXCPI", "KXFED"])
    assert report.exit_status == 0, render(report)
    assert {f.check: f.status for f in report.findings} == {
        "exchange status": OK, "historical cutoffs": OK, "clock skew": OK, "API key": OK, "catalog series": OK}
    assert report.finding("historical cutoffs").data["trades_created_ts"] == "2026-08-03T00:00:00"
    assert abs(report.finding("clock skew").data["skew_seconds"]) < 2
    key = report.finding("API key").data
    assert (key["usage_tier"], key["read_limit"], key["write_limit"]) == ("premier", 100, 100)
    assert report.finding("catalog series").data["unknown"] == []
    text = "\n".join(render(report)) + json.dumps(dataclasses.asdict(report))
    _no_secret_in(text)
    assert "no problems" in text


def test_problems_are_named_and_make_the_exit_status_one(tmp_path: Path) -> None:
    catalog_file = tmp_path / "catalog.toml"
    catalog_file.write_text(load_catalog().path.read_text() + (
        '\n[series.KXNOTLISTED]\ntitle = "A series the exchange does not list"\nevent_type = "CPI"\n'
        'purge_class = "CPI"\nunit = "%"\ndecimals = 1\nvalue_grid = 0.1\nstrike_type = "greater"\n'
        'release = { schedule = "cpi", local_time = "08:30", timezone = "America/New_York" }\n'))
    catalog = load_catalog(catalog_file)

    class CutoffWithoutTrades(DemoExchange):
        def historical_cutoffs(self) -> dict:
            return {k: v for k, v in super().historical_cutoffs().items() if k != "trades_created_ts"}

    with DemoServer(CutoffWithoutTrades(), rate_limits=None) as server:
        report = diagnose(_client(server), catalog, source="demo server", tracked_series=["KXCPI", "KXNOTLISTED"],
                          now=lambda: datetime.now(UTC) + timedelta(seconds=42))
    statuses = {f.check: f.status for f in report.findings}
    assert statuses == {"exchange status": OK, "historical cutoffs": PROBLEM, "clock skew": PROBLEM,
                        "API key": OK, "catalog series": PROBLEM}
    assert report.exit_status == 1
    assert "trades_created_ts" in report.finding("historical cutoffs").detail
    assert "+4" in report.finding("clock skew").detail and "NTP" in report.finding("clock skew").detail
    assert "KXNOTLISTED" in report.finding("catalog series").detail
    text = "\n".join(render(report))
    assert "3 problem(s)" in text
    _no_secret_in(text)


def test_a_key_the_exchange_refuses_is_a_problem() -> None:
    with DemoServer(rate_limits=None, api_key_id="another-key") as server:
        report = diagnose(_client(server), load_catalog(), source="demo server")
    assert report.finding("API key").status == PROBLEM and "unknown API key" in report.finding("API key").detail
    assert report.exit_status == 1
    _no_secret_in("\n".join(render(report)))


def test_without_a_key_the_key_check_is_skipped_not_failed() -> None:
    with DemoServer(rate_limits=None) as server:
        report = diagnose(KalshiClient(server.base_url, breaker_registry=BreakerRegistry()), load_catalog(),
                          source="demo server")
    assert report.finding("API key").status == SKIPPED and "KALSHI_API_KEY_ID" in report.finding("API key").detail
    assert report.exit_status == 0


@pytest.mark.parametrize(("key_id", "status"), [(DEMO_API_KEY_ID, 0), ("not-the-key", 1)], ids=["good key", "bad key"])
def test_the_command_checks_the_configured_source_and_prints_no_secret(tmp_path: Path, key_id: str, status: int) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(PEM)
    key_file.chmod(0o600)
    with DemoServer() as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
        env.update(KALSHI_SOURCE="api", KALSHI_BASE_URL=server.base_url, KALSHI_API_KEY_ID=key_id,
                   KALSHI_PRIVATE_KEY_PATH=str(key_file), KALSHI_WAREHOUSE=str(tmp_path / "w.duckdb"))
        done = subprocess.run([sys.executable, "-m", "kalshi_assets.cli", "doctor"], env=env, capture_output=True,
                              text=True, timeout=120)
    assert done.returncode == status, done.stdout + done.stderr
    assert "historical cutoffs" in done.stdout and "catalog series" in done.stdout
    assert key_id not in done.stdout + done.stderr and str(key_file) not in done.stdout
    _no_secret_in(done.stdout + done.stderr)
    assert not (tmp_path / "w.duckdb").exists(), "the doctor writes nothing"
