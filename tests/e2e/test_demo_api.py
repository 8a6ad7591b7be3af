"""`kalshi-assets demo` on the README's API setup: KALSHI_SOURCE=api with credentials in the environment
(an encrypted key and its passphrase), against `kalshi-assets demo-server` on loopback.

The demo resolves the credentials the way a run does (they reach the resources as EnvVars), finishes, and
no credential appears in what it printed, in its event log file, in the instance's event log, in the runs'
config or job snapshots, or in the captured compute logs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from cryptography.hazmat.primitives import serialization

from kalshi_assets.demo.keys import DEMO_API_KEY_ID, demo_key_pair
from tests.e2e.conftest import BIN, REPO, make_stage, stop, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSPHRASE = "correct horse battery staple 7f3a"
DAYS = ("2026-10-30", "2026-10-31")


def encrypted_demo_key() -> str:
    private_pem, _ = demo_key_pair()
    key = serialization.load_pem_private_key(private_pem, password=None)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    ).decode()


def test_the_demo_runs_on_the_api_setup_and_leaks_no_credential(tmp_path: Path) -> None:
    stage = make_stage(tmp_path)
    server_log = tmp_path / "server.log"
    server = stage.start("kalshi-assets", "demo-server", "--port", "0", "--no-rate-limit", log=server_log)
    try:
        line = wait_for(lambda: next((x for x in server_log.read_text().splitlines() if "serving at" in x), None),
                        60, "the demo server", log=server_log)
        base_url = line.split("serving at ", 1)[1].split()[0]
        pem = encrypted_demo_key()
        env = {**stage.env, "KALSHI_SOURCE": "api", "KALSHI_BASE_URL": base_url, "KALSHI_API_KEY_ID": DEMO_API_KEY_ID,
               "KALSHI_PRIVATE_KEY_PEM": pem, "KALSHI_PRIVATE_KEY_PASSPHRASE": PASSPHRASE}
        done = subprocess.run([str(BIN / "kalshi-assets"), "demo", "--start", DAYS[0], "--end", DAYS[1]], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=600)
    finally:
        stop(server)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"from Kalshi's API at {base_url}" in done.stdout
    with duckdb.connect(str(stage.warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM kalshi_quotes").fetchone()[0] > 0  # fetched over signed HTTP

    secrets = [PASSPHRASE, *(line for line in pem.splitlines() if "-----" not in line)]
    assert len(secrets) > 10
    places = {"stdout": done.stdout, "stderr": done.stderr}
    for path in (stage.warehouse.parent / "logs").glob("*.log"):
        places[str(path)] = path.read_text()
    with dg.DagsterInstance.from_config(str(stage.home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 3 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        for run in runs:
            places[f"run config {run.job_name}"] = dg.serialize_value(run)
            places[f"job snapshot {run.job_name}"] = dg.serialize_value(instance.get_job_snapshot(run.job_snapshot_id))
            places[f"event log {run.job_name}"] = "\n".join(dg.serialize_value(e) for e in instance.all_logs(run.run_id))
    for path in stage.home.rglob("*"):
        if path.is_file() and path.suffix in (".out", ".err", ".log", ".txt", ".complete"):
            places[str(path)] = path.read_text(errors="replace")
    assert any(name.startswith("event log") for name in places)
    leaks = {name: [s[:12] for s in secrets if s in text] for name, text in places.items()}
    assert not {name: found for name, found in leaks.items() if found}, leaks
