"""`kalshi-assets events|markets|distributions|outcomes|promotions|status`: tables with units, --json with
numbers as numbers, limits that say what they cut, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kalshi_assets.cli import main
from tests import service_warehouse as sw


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sw.build(tmp_path_factory.mktemp("cli") / "cli.duckdb")


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KALSHI_AUDIT_HMAC_KEY", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_events_as_a_table_and_as_json(warehouse: Path, capsys) -> None:
    status, out, _ = run(capsys, "events", "--warehouse", str(warehouse))
    assert status == 0
    header, rule, *rows = out.strip().splitlines()
    assert header.split()[:4] == ["event_ticker", "type", "release", "(UTC)"]
    assert set(rule) <= {"-", " "}
    assert [r.split()[0] for r in rows] == [sw.FED, sw.CPI]
    status, out, _ = run(capsys, "events", "--type", "CPI", "--json", "--warehouse", str(warehouse))
    records = json.loads(out)
    assert status == 0 and [r["event_ticker"] for r in records] == [sw.CPI]
    assert records[0]["release_time"] == "2026-10-12T12:30:00"  # datetimes as ISO text


def test_type_filters_ignore_case_and_an_unknown_type_is_named(warehouse: Path, capsys) -> None:
    status, out, _ = run(capsys, "events", "--type", "cpi", "--json", "--warehouse", str(warehouse))
    assert status == 0 and [r["event_ticker"] for r in json.loads(out)] == [sw.CPI]
    status, out, err = run(capsys, "events", "--type", "inflation", "--warehouse", str(warehouse))
    assert status == 1 and out == ""
    assert err.strip() == ("kalshi-assets events: unknown event type 'inflation'; one of CPI, UNEMPLOYMENT, "
                           "PAYROLLS, GDP, FOMC")


def test_a_limit_that_cuts_says_so(warehouse: Path, capsys) -> None:
    status, out, _ = run(capsys, "events", "--limit", "1", "--warehouse", str(warehouse))
    assert status == 0 and out.strip().splitlines()[-1] == "showing 1 of 2 events; --limit N shows more"
    status, out, err = run(capsys, "events", "--limit", "1", "--json", "--warehouse", str(warehouse))
    assert len(json.loads(out)) == 1 and "showing 1 of 2 events" in err  # JSON stays valid
    status, out, _ = run(capsys, "events", "--warehouse", str(warehouse))
    assert "showing" not in out  # nothing cut, nothing said
    assert "(default: 100)" in " ".join(main_help(capsys, "events").split())


def main_help(capsys, *command: str) -> str:
    assert main([*command, "--help"]) == 0
    return capsys.readouterr().out


def test_units_in_headers_and_numbers_in_json(tmp_path: Path, capsys) -> None:
    from decimal import Decimal

    from kalshi_assets.warehouse import db

    warehouse = sw.build(tmp_path / "priced.duckdb")
    with db.connection(warehouse) as con:
        con.execute("UPDATE kalshi_markets SET yes_bid = ?, yes_ask = ?, volume = ?", [Decimal("0.56"), Decimal("0.6"),
                                                                                      Decimal("1020.00")])
    status, out, _ = run(capsys, "markets", sw.CPI, "--warehouse", str(warehouse))
    header = out.splitlines()[0]
    assert status == 0 and "floor (% m/m)" in header and "bid ($/contract)" in header and "close (UTC)" in header
    status, out, _ = run(capsys, "markets", sw.CPI, "--json", "--warehouse", str(warehouse))
    records = json.loads(out)
    assert status == 0 and len(records) == 3
    assert isinstance(records[0]["floor_strike"], float) and records[0]["floor_strike"] == 0.2
    assert (records[0]["yes_bid"], records[0]["yes_ask"], records[0]["volume"]) == (0.56, 0.6, 1020)  # numbers
    assert not any(isinstance(v, str) for r in records for k, v in r.items() if k in ("yes_bid", "volume"))
    status, out, _ = run(capsys, "distributions", sw.CPI, "--warehouse", str(warehouse))
    assert "mean (% m/m)" in out.splitlines()[0] and "snapshot (UTC)" in out.splitlines()[0]


def test_markets_distributions_outcomes_promotions(warehouse: Path, capsys) -> None:
    status, out, _ = run(capsys, "distributions", sw.CPI, "--start", "2026-10-02", "--json", "--warehouse", str(warehouse))
    assert status == 0 and [r["snapshot_ts"][:10] for r in json.loads(out)] == ["2026-10-02", "2026-10-03"]
    status, out, _ = run(capsys, "distributions", sw.CPI, "--warehouse", str(warehouse))
    assert status == 0 and "snapshot (UTC)" in out.splitlines()[0] and len(out.strip().splitlines()) == 5
    status, out, _ = run(capsys, "distributions", sw.CPI, "--limit", "2", "--warehouse", str(warehouse))
    assert out.strip().splitlines()[-1].startswith("showing 2 of 3 hourly snapshots")
    status, out, _ = run(capsys, "outcomes", sw.CPI, "--mode", "revisions", "--json", "--warehouse", str(warehouse))
    assert status == 0 and [r["value"] for r in json.loads(out)] == [0.35, 0.4]
    status, out, _ = run(capsys, "promotions", "--warehouse", str(warehouse))
    assert status == 0 and out.splitlines()[2].split()[:2] == ["edge>=0.10", "False"]


def test_an_event_with_no_rows_yet_is_not_an_error(warehouse: Path, capsys) -> None:
    status, out, _ = run(capsys, "markets", sw.FED, "--warehouse", str(warehouse))
    assert (status, out.strip()) == (0, "(no markets)")
    status, out, _ = run(capsys, "distributions", sw.FED, "--json", "--warehouse", str(warehouse))
    assert (status, json.loads(out)) == (0, [])


def test_an_unknown_ticker_is_one_line_and_exit_1(warehouse: Path, capsys) -> None:
    for hostile in ("x' OR '1'='1", "KXCPI", "kxcpi-26sep"):
        status, out, err = run(capsys, "markets", hostile, "--warehouse", str(warehouse))
        assert status == 1 and out == "" and len(err.strip().splitlines()) == 1
        assert err.startswith(f"kalshi-assets markets: no event {hostile!r} in {warehouse}")
    assert "did you mean KXCPI-26SEP?" in err  # the case-insensitive match is offered


def test_bad_arguments_and_a_missing_warehouse_exit_1(warehouse: Path, tmp_path: Path, capsys) -> None:
    status, _, err = run(capsys, "distributions", sw.CPI, "--start", "soon", "--warehouse", str(warehouse))
    assert status == 1 and "ISO 8601" in err
    status, _, err = run(capsys, "events", "--limit", "0", "--warehouse", str(warehouse))
    assert status == 1 and "--limit" in err and err.startswith("kalshi-assets events: ")
    status, _, err = run(capsys, "events", "--warehouse", str(tmp_path / "none.duckdb"))
    assert status == 1 and "materialize the pipeline first" in err
    status, _, err = run(capsys, "outcomes", sw.CPI, "--mode", "everything")
    assert status == 1 and "invalid choice" in err and len(err.strip().splitlines()) == 1


def test_status_shows_tables_audit_health_and_breakers(warehouse: Path, tmp_path: Path, capsys) -> None:
    audit = sw.build_audit_log(tmp_path / "audit")
    status, out, _ = run(capsys, "status", "--warehouse", str(warehouse), "--audit-dir", str(audit))
    assert status == 0
    assert "kalshi_markets" in out and "3 rows" in out
    assert "Audit log" in out and ": ok, last seq 8" in out
    assert "Breaker     kalshi: closed" in out and "opened 1x" in out
    assert "API calls   5 (2 ok, 1 throttled, 1 server errors, 1 unanswered)" in out
    status, out, _ = run(capsys, "status", "--json", "--warehouse", str(warehouse), "--audit-dir", str(audit))
    report = json.loads(out)
    assert report["audit_log"]["verify_status"] == "ok" and report["audit_log"]["last_seq"] == 8
    assert report["circuit_breakers"]["breakers"][0]["times_opened"] == 1
    assert report["circuit_breakers"]["api_calls"]["failure_rate"] == pytest.approx(0.6)


def test_status_exits_1_on_a_damaged_audit_log(warehouse: Path, tmp_path: Path, capsys) -> None:
    audit = sw.build_audit_log(tmp_path / "audit")
    sw.damage_audit_log(audit)
    status, out, _ = run(capsys, "status", "--warehouse", str(warehouse), "--audit-dir", str(audit))
    assert status == 1
    assert ": damaged" in out and "problem: seq 2" in out


def test_status_before_anything_ran(tmp_path: Path, capsys) -> None:
    status, out, _ = run(capsys, "status", "--warehouse", str(tmp_path / "w.duckdb"), "--audit-dir",
                         str(tmp_path / "audit"))
    assert status == 0
    assert "not created yet" in out and "none yet" in out and "API calls   0" in out
    assert not (tmp_path / "w.duckdb").exists() and not (tmp_path / "audit").exists()


def test_status_finds_the_audit_log_beside_the_given_warehouse(tmp_path: Path, capsys,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KALSHI_AUDIT_DIR", raising=False)
    warehouse = sw.build(tmp_path / "w.duckdb")
    sw.build_audit_log(tmp_path / "audit")
    status, out, _ = run(capsys, "status", "--warehouse", str(warehouse))
    assert status == 0 and f"{tmp_path / 'audit'}: ok, last seq 8" in out
