"""Every command meets bad input with one line on stderr and exit status 1, never a traceback: an unknown
ticker (or a stray argument), an out-of-range date, a closed pipe, bytes that are not UTF-8, a file that is
not DuckDB, a directory, a full disk. The full trace comes only with --verbose. Every command's help shows
an example and its defaults."""

from __future__ import annotations

import argparse
import errno
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kalshi_assets import cli, service
from kalshi_assets.cli import main
from tests import service_warehouse as sw

BAD_DATE = "0001-01-01T00:00+05:00"  # before the first representable UTC instant
UNKNOWN = "KXNOPE-99XXX"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sw.build(tmp_path_factory.mktemp("cli-errors") / "w.duckdb")


@pytest.fixture(scope="module")
def audit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sw.build_audit_log(tmp_path_factory.mktemp("cli-errors-audit") / "audit")


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KALSHI_AUDIT_HMAC_KEY", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("KALSHI_WAREHOUSE", str(tmp_path / "demo.duckdb"))


def invocations(warehouse: Path, audit_dir: Path) -> dict[str, dict[str, list[str]]]:
    """Per command: argv with an unknown ticker (a stray positional where it takes none), with a bad date
    (a stray option where it takes none), and one that prints something (for the closed pipe)."""
    w = ["--warehouse", str(warehouse)]
    a = str(audit_dir)
    return {
        "events": {"ticker": ["events", UNKNOWN, *w], "date": ["events", "--start", BAD_DATE, *w], "prints": ["events", *w]},
        "markets": {"ticker": ["markets", UNKNOWN, *w], "date": ["markets", sw.CPI, "--start", BAD_DATE, *w],
                    "prints": ["markets", sw.CPI, *w]},
        "distributions": {"ticker": ["distributions", UNKNOWN, *w],
                          "date": ["distributions", sw.CPI, "--start", BAD_DATE, *w],
                          "prints": ["distributions", sw.CPI, *w]},
        "outcomes": {"ticker": ["outcomes", UNKNOWN, *w], "date": ["outcomes", sw.CPI, "--start", BAD_DATE, *w],
                     "prints": ["outcomes", sw.CPI, "--mode", "revisions", *w]},
        "promotions": {"ticker": ["promotions", UNKNOWN, *w], "date": ["promotions", "--since", BAD_DATE, *w],
                       "prints": ["promotions", *w]},
        "status": {"ticker": ["status", UNKNOWN, *w], "date": ["status", "--since", BAD_DATE, *w],
                   "prints": ["status", "--audit-dir", a, *w]},
        "audit verify": {"ticker": ["audit", "verify", a, UNKNOWN], "date": ["audit", "verify", a, "--since", BAD_DATE],
                         "prints": ["audit", "verify", a]},
        "audit query": {"ticker": ["audit", "query", a, UNKNOWN], "date": ["audit", "query", a, "--since", BAD_DATE],
                        "prints": ["audit", "query", a]},
        "demo": {"ticker": ["demo", UNKNOWN], "date": ["demo", "--start", BAD_DATE], "prints": ["demo", "--help"]},
        "release-runs": {"ticker": ["release-runs", UNKNOWN], "date": ["release-runs", "--since", BAD_DATE],
                         "prints": ["release-runs", "--help"]},
        "demo-server": {"ticker": ["demo-server", UNKNOWN], "date": ["demo-server", "--start", BAD_DATE],
                        "prints": ["demo-server", "--help"]},
        "doctor": {"ticker": ["doctor", UNKNOWN], "date": ["doctor", "--since", BAD_DATE], "prints": ["doctor", "--help"]},
    }


COMMANDS = ["events", "markets", "distributions", "outcomes", "promotions", "status", "audit verify", "audit query",
            "demo", "release-runs", "demo-server", "doctor"]


def _leaf_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subcommands:
        return [prefix]
    return [leaf for name, sub in subcommands[0].choices.items() for leaf in _leaf_commands(sub, (*prefix, name))]


def test_the_list_covers_every_command() -> None:
    assert {" ".join(leaf) for leaf in _leaf_commands(cli.build_parser())} == set(COMMANDS)


def _one_line_error(status: int, err: str, command: str) -> None:
    assert status == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"kalshi-assets {command.split()[0]}"), lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", ["ticker", "date"])
def test_an_unknown_ticker_and_a_bad_date_are_one_line_and_exit_1(
    command: str, case: str, warehouse: Path, audit_dir: Path, capsys
) -> None:
    argv = invocations(warehouse, audit_dir)[command][case]
    status = main(argv)
    out, err = capsys.readouterr()
    if (command, case) == ("audit query", "date"):
        # audit query's own contract (its help): "exit 2 on a bad argument", one line naming the time.
        assert status == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
        assert "outside the representable range" in err and "Traceback" not in err
        return
    _one_line_error(status, err, command)
    if case == "ticker" and command in ("markets", "distributions", "outcomes"):
        assert f"no event {UNKNOWN!r}" in err
    if case == "date" and command in ("distributions", "demo"):
        assert "--start" in err or "start" in err


class ClosedPipe(io.TextIOBase):
    """A stdout whose reader has gone: every write fails the way a closed pipe does."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_closed_pipe_ends_quietly(command: str, warehouse: Path, audit_dir: Path, capsys,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    argv = invocations(warehouse, audit_dir)[command]["prints"]
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    status = main(argv)
    err = capsys.readouterr().err
    # argparse's help swallows the write error and exits 0; every other output ends with status 1
    assert status == (0 if "--help" in argv else 1) and err == ""


def test_a_closed_pipe_from_a_real_process_leaves_no_traceback(warehouse: Path) -> None:
    script = Path(sys.executable).parent / "kalshi-assets"
    for argv in (["events", "--warehouse", str(warehouse)], ["demo", "--help"]):
        process = subprocess.Popen([str(script), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdout is not None
        process.stdout.close()  # the reader is gone before the first write
        _, err = process.communicate(timeout=60)
        assert process.returncode == (0 if "--help" in argv else 1), err
        assert err == b"", err  # no traceback, no "Exception ignored ... BrokenPipeError"


def test_arguments_that_are_not_utf8_are_refused(warehouse: Path, capsys) -> None:
    not_utf8 = os.fsdecode(b"KX\xff")  # how Python hands over a byte that is not UTF-8
    status = main(["markets", not_utf8, "--warehouse", str(warehouse)])
    err = capsys.readouterr().err
    assert status == 1 and err.strip() == "kalshi-assets: argument 2 (KX\\xff) is not valid UTF-8 text"
    process = subprocess.run([str(Path(sys.executable).parent / "kalshi-assets"), "markets", b"KX\xff"],
                             capture_output=True, timeout=60)
    assert process.returncode == 1 and process.stderr.count(b"\n") == 1 and b"UTF-8" in process.stderr


@pytest.mark.parametrize("command", ["events", "status", "promotions"])
def test_a_file_that_is_not_duckdb_and_a_directory_are_named(command: str, tmp_path: Path, capsys) -> None:
    not_duckdb = tmp_path / "passwd"
    not_duckdb.write_text("root:x:0:0:root:/root:/bin/bash\n")
    before = not_duckdb.read_bytes()
    for target, words in ((not_duckdb, "not a valid DuckDB database file"), (tmp_path, "Is a directory")):
        status = main([command, "--warehouse", str(target)])
        err = capsys.readouterr().err
        _one_line_error(status, err, command)
        assert f"cannot read {target} as a DuckDB warehouse" in err and words in err
    assert not_duckdb.read_bytes() == before  # nothing written to a file that is not ours


def test_a_full_disk_is_one_line_naming_the_path(warehouse: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    path = "/var/audit/segment-000000000002.jsonl"

    def full(**_):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(service, "get_status", full)
    status = main(["status", "--warehouse", str(warehouse)])
    err = capsys.readouterr().err
    _one_line_error(status, err, "status")
    assert err.strip() == f"kalshi-assets status: No space left on device: {path}"


def test_verbose_adds_the_full_trace(warehouse: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**_):
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(service, "get_status", broken)
    assert main(["status", "--warehouse", str(warehouse)]) == 1
    quiet = capsys.readouterr().err
    assert quiet.strip() == ("kalshi-assets status: RuntimeError: something inside broke (run with --verbose for "
                             "the full trace)")
    assert main(["status", "--verbose", "--warehouse", str(warehouse)]) == 1
    loud = capsys.readouterr().err
    assert "Traceback (most recent call last)" in loud and "something inside broke" in loud


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example_and_its_defaults(command: str, capsys) -> None:
    assert main([*command.split(), "--help"]) == 0
    text = capsys.readouterr().out
    assert "example:\n  kalshi-assets " + command.split()[0] in text
    parser = cli.build_parser()
    for name in command.split():
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
    defaults = [a for a in parser._actions if a.option_strings and a.default not in (None, False, argparse.SUPPRESS)
                and a.dest != "help"]
    flat = " ".join(text.split())
    for action in defaults:
        assert f"(default: {action.default})" in flat, (command, action.dest)
