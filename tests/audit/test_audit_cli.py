"""`kalshi-assets audit verify|query`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kalshi_assets.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_verify_intact_log_exits_zero(make_log, log_dir: Path, capsys) -> None:
    make_log(5)
    assert main(["audit", "verify", str(log_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: 5 entries, seq 1..5")


def test_verify_damaged_log_exits_one_naming_each_problem(make_log, log_dir: Path, capsys) -> None:
    make_log(6)
    segment = log_dir / "segment-000000000001.jsonl"
    lines = segment.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"i":2', b'"i":9')
    del lines[4]
    segment.write_bytes(b"".join(lines))
    assert main(["audit", "verify", str(log_dir)]) == 1
    out = capsys.readouterr().out
    assert "DAMAGED" in out and "first bad seq: 3" in out
    assert "PROBLEM seq 3: hash_mismatch" in out
    assert "PROBLEM seq 5: sequence_gap" in out
    assert main(["audit", "verify", "--json", str(log_dir)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["first_bad_seq"] == 3
    assert {p["kind"] for p in report["problems"]} == {"hash_mismatch", "sequence_gap", "chain_break"}


def test_verify_workers_option_checks_segments_in_worker_processes(make_log, log_dir: Path, capsys) -> None:
    make_log(40, max_segment_bytes=2048)
    assert main(["audit", "verify", "--json", "--workers", "2", str(log_dir)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["workers"] == 2 and report["total_entries"] == 40 and report["segments"] >= 3
    assert main(["audit", "verify", "--workers", "0", str(log_dir)]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_verify_missing_directory_exits_two(tmp_path: Path, capsys) -> None:
    assert main(["audit", "verify", str(tmp_path / "none")]) == 2
    assert "no audit log directory" in capsys.readouterr().err


def test_query_prints_one_json_record_per_line(make_log, log_dir: Path, capsys) -> None:
    written = make_log(6)
    assert main(["audit", "query", str(log_dir), "--type", "ORDER", "--user", "u2", "--since", "2020-01-01"]) == 0
    lines = capsys.readouterr().out.splitlines()
    records = [json.loads(line) for line in lines]
    assert records == [r for r in written if r["user_id"] == "u2"]
    assert main(["audit", "query", str(log_dir), "--limit", "2", "--until", "2999-01-01T00:00:00Z"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["audit", "query", str(log_dir), "--since", "not-a-date"]) == 2


def test_console_entry_point(make_log, log_dir: Path) -> None:
    make_log(3)
    segment = log_dir / "segment-000000000001.jsonl"
    segment.write_bytes(segment.read_bytes().splitlines(keepends=True)[0])
    done = subprocess.run(
        [sys.executable, "-m", "kalshi_assets.cli", "audit", "verify", str(log_dir)],
        capture_output=True, text=True, cwd=REPO,
    )
    assert done.returncode == 1
    assert "PROBLEM seq 2: truncated" in done.stdout
