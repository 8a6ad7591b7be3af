"""`kalshi-assets demo` (the whole graph, with progress and a summary) and `kalshi-assets release-runs`.

The demo prints one progress line per stage (partitions done of the total, rows written, elapsed time),
then what the warehouse holds, how many checks passed and where the pictures are. Every Dagster event
goes to a log file the summary names; `--verbose` also prints each one as it happens.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from kalshi_assets import settings
from kalshi_assets.cli import EXIT_INTERRUPTED, PROG, CliError, add_command

TABLES_PER_LINE = 2


def _shown(path: Path) -> str:
    """A path relative to the working directory when it lies inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def _own_stdout() -> TextIO:
    """A private copy of the process's standard output descriptor (sys.stdout itself when it has none).

    While a run executes, Dagster captures the process's output for the run's logs: it points descriptor 1
    at a file and mirrors that file back to the terminal with `tail -F`, which it terminates when the run
    ends. A line printed in a run's last moments could then be lost (Dagster's code says so, citing
    dagster#23336) or arrive after later ones, and the runs' stdout in the UI held the demo's own event lines.
    Lines written to the copy reach the terminal at once and in order."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError):  # a stream without a descriptor (a test's; io.UnsupportedOperation)
        return sys.stdout
    sys.stdout.flush()
    return os.fdopen(os.dup(descriptor), "w", buffering=1, encoding=getattr(sys.stdout, "encoding", None) or "utf-8",
                     errors=getattr(sys.stdout, "errors", None) or "strict")


class ProgressDisplay:
    """A `rich` progress line per stage on a terminal; elsewhere one plain line per stage as it ends."""

    def __init__(self, verbose: bool) -> None:
        from rich.console import Console

        self.stream = _own_stdout()
        self.console = Console(file=self.stream, highlight=False, soft_wrap=True)
        self.verbose = verbose
        self.live = self.console.is_terminal
        self.tasks: dict[str, Any] = {}
        self.progress = None
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("{task.fields[stage]:<12}"), BarColumn(bar_width=24), MofNCompleteColumn(),
                TextColumn("{task.fields[unit]:<10}"), TextColumn("{task.fields[rows]:>12,} rows"),
                TimeElapsedColumn(), TextColumn("[dim]{task.fields[step]}"),
                console=self.console, transient=False,
            )

    def __enter__(self) -> ProgressDisplay:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
        if self.stream is not sys.stdout and not self.stream.closed:
            self.stream.close()  # flushes: what follows (the summary) goes to sys.stdout after it

    def note(self, line: str) -> None:
        self.console.print(line, markup=False)

    def event(self, line: str) -> None:
        if self.verbose:
            self.console.print(line, markup=False, style="dim" if self.live else None)

    def update(self, stage) -> None:  # a runner.StageProgress
        if self.progress is None:
            if stage.finished is not None and stage.name not in self.tasks:
                self.tasks[stage.name] = True
                self.console.print(
                    f"{stage.name:<12} {stage.done:,}/{stage.total:,} {stage.unit:<10} {stage.rows:>12,} rows  "
                    f"{_clock(stage.elapsed_s)}", markup=False,
                )
            return
        task = self.tasks.get(stage.name)
        if task is None:
            task = self.tasks[stage.name] = self.progress.add_task(
                stage.name, total=stage.total, start=False, stage=stage.name, unit=stage.unit, rows=0, step="")
        if stage.run_id and not self.progress.tasks[task].started:
            self.progress.start_task(task)
        self.progress.update(task, completed=stage.done, total=stage.total, rows=stage.rows,
                             step="" if stage.finished else stage.step)
        if stage.finished is not None:
            self.progress.stop_task(task)


@contextlib.contextmanager
def _warnings_to(write: Callable[[str], None]):
    """Python warnings raised while the graph runs (a library's FutureWarning ...) go to the event log,
    not to the user's terminal."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ARG001
        write(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} WARNING python {category.__name__}: {message} "
              f"({filename}:{lineno})")

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


def _event_log_path(warehouse: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = warehouse.resolve().parent / "logs" / f"demo-{stamp}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def run_demo(args: argparse.Namespace) -> int:
    from kalshi_assets.defs import runner

    warehouse = settings.warehouse_path()
    log_path = _event_log_path(warehouse)
    verbose = bool(getattr(args, "verbose", False))
    source = os.environ.get("KALSHI_SOURCE", "demo")
    origin = "the embedded demo exchange" if source == "demo" else f"Kalshi's API at {os.environ.get('KALSHI_BASE_URL', 'its default URL')}"
    began = time.monotonic()
    with open(log_path, "w", encoding="utf-8", buffering=1) as log_file, ProgressDisplay(verbose) as display:
        display.note(f"{PROG} demo: the whole graph from {origin} into {_shown(warehouse)}")

        def on_event(line: str) -> None:
            log_file.write(line + "\n")
            display.event(line)

        try:
            with _warnings_to(on_event):
                stages, checks = runner.materialize_all(
                    runner.instance_for_cli(), args.start, args.end,
                    on_event=on_event, on_progress=display.update, log=display.note,
                )
        except runner.MaterializeError as error:
            raise CliError(f"{error}. Every event: {_shown(log_path)}") from None
        except runner.RunInterrupted as error:
            log_file.flush()
            display.__exit__(None, None, None)
            print(f"{PROG} demo: {error}", file=sys.stderr, flush=True)
            sys.stdout.flush()
            # The run's worker thread may still be inside a step: leave without waiting for it. The run is
            # marked failed and its slots are free; a DuckDB write it had not committed is rolled back.
            os._exit(EXIT_INTERRUPTED)
    for line in summary_lines(warehouse, stages, checks, log_path, time.monotonic() - began):
        print(line)
    return 0


def summary_lines(warehouse: Path, stages: Sequence, checks, log_path: Path, elapsed_s: float) -> list[str]:
    """What the demo produced, in at most about 40 lines."""
    from kalshi_assets.warehouse import db
    from kalshi_assets.warehouse.service import quote_range, table_counts

    with db.connection(warehouse, read_only=True) as con:
        counts = table_counts(con)
        first, last = quote_range(con)
        report = [line for build in DEMO_REPORTS for line in build(con)]
    total_checks = checks.passed + len(checks.failed)
    verdict = f"{checks.passed} of {total_checks} checks passed"
    if checks.failed:
        verdict += " (failed: " + ", ".join(checks.failed) + ")"
    lines = [f"\nDone in {_clock(elapsed_s)} (min:s): {len(stages)} runs succeeded, {verdict}.",
             f"The warehouse {_shown(warehouse)} holds (rows):"]
    names = [name + (" (view)" if kind == "view" else "") for name, kind, _ in counts]
    width = max(len(name) for name in names)
    cells = [f"{name:<{width}} {rows:>9,}" for name, (_, _, rows) in zip(names, counts, strict=True)]
    for i in range(0, len(cells), TABLES_PER_LINE):
        lines.append("  " + "   ".join(cells[i:i + TABLES_PER_LINE]))
    lines.append(f"Quotes from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC." if first else "No quotes.")
    lines.extend(report)
    pictures = sorted((warehouse.resolve().parent / "pictures").glob("*.png"))
    lines.append("")
    lines.append("Pictures    " + (", ".join(_shown(p) for p in pictures) or "none drawn"))
    lines.append(f"Event log   {_shown(log_path)} (every Dagster event; --verbose prints them as they come)")
    lines.append("Next        kalshi-assets status | kalshi-assets events --type CPI | make ui "
                 "(http://127.0.0.1:3000 shows these runs)")
    return lines


def _trading_report(con) -> list[str]:
    from kalshi_assets.warehouse.trading import demo_report_lines

    return demo_report_lines(con)


def _research_report(con) -> list[str]:
    from kalshi_assets.warehouse.research import demo_report_lines

    return demo_report_lines(con)


# Callables (con) -> list[str] adding a stage's lines (orders, fills, P&L, promotions) to the summary.
DEMO_REPORTS: list[Callable[[Any], list[str]]] = [_trading_report, _research_report]


def run_release_runs(args: argparse.Namespace) -> int:
    from kalshi_assets.defs.dead_runs import release_dead_runs
    from kalshi_assets.defs.runner import instance_for_cli

    if not os.environ.get("DAGSTER_HOME"):
        raise CliError("DAGSTER_HOME is not set: there is no instance whose runs could hold a slot")
    instance = instance_for_cli()
    unknown = [run_id for run_id in args.run_ids if instance.get_run_by_id(run_id) is None]
    if unknown:
        raise CliError(f"no run {unknown[0]!r} under DAGSTER_HOME={os.environ['DAGSTER_HOME']}")
    released = release_dead_runs(instance, print, force_run_ids=tuple(args.run_ids))
    if not released:
        print("no run to release: every run that holds a slot is alive")
    return 0


def register(subparsers: argparse._SubParsersAction, parents: Sequence[argparse.ArgumentParser]) -> None:
    """demo | release-runs"""
    demo = add_command(
        subparsers, "demo", "materialize the whole graph and print what it produced (about 5 minutes)",
        "kalshi-assets demo\nkalshi-assets demo --start 2026-10-01 --end 2026-10-31 --verbose", run_demo, parents,
        description="Materialize the whole graph in three runs (upstream metadata, every daily partition in\n"
                    "one run, everything downstream) into $KALSHI_WAREHOUSE, with the runs recorded under\n"
                    "$DAGSTER_HOME so the UI shows them. Source: the embedded demo exchange, or Kalshi's API\n"
                    "with KALSHI_SOURCE=api and credentials in the environment (README).",
    )
    demo.add_argument("--start", metavar="DAY", help="first daily partition, YYYY-MM-DD (default: the first one)")
    demo.add_argument("--end", metavar="DAY",
                      help="last daily partition, YYYY-MM-DD (default: the last day the source has closed)")
    release = add_command(
        subparsers, "release-runs",
        "mark runs whose process died as failed and free the writer-pool slots they hold",
        "kalshi-assets release-runs\nkalshi-assets release-runs 5f0c2a7e-...   # a run started on another machine",
        run_release_runs, parents,
        description="A run killed with SIGKILL stays STARTED and keeps its duckdb_writer slot, so every later\n"
                    "write waits. This finds such runs under $DAGSTER_HOME (their process is gone), marks them\n"
                    "failed and frees their slots; named RUN_IDs are released without the process check.",
    )
    release.add_argument("run_ids", metavar="RUN_ID", nargs="*", help="runs to release unconditionally")
