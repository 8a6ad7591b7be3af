"""The `kalshi-assets` console script, one module per command family:

    reads        events, markets, distributions, outcomes, promotions, status    cli/reads.py
    audit        audit verify, audit query                                       cli/audit.py
    demo         demo (the whole graph), release-runs (free a dead run's slots)  cli/demo.py
    demo-server  the demo exchange over HTTP on loopback                         cli/demo_server.py
    doctor       read-only checks of the configured exchange                     cli/doctor.py

Every command's --help gives an example and its defaults. An error is one line on stderr naming what
was wrong, with exit status 1 (the full trace only with --verbose); a closed pipe (`| head`) ends quietly.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence

PROG = "kalshi-assets"
DESCRIPTION = (
    "Research and paper trading on Kalshi's economic event markets: materialize the pipeline (demo),\n"
    "read what it produced (events ... status), verify the audit log. `kalshi-assets COMMAND --help`\n"
    "gives each command's options, defaults and an example."
)
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """A user-facing problem: printed as one line, exit status 1 (`prog`: the command it concerns)."""

    def __init__(self, message: str, prog: str | None = None) -> None:
        super().__init__(message)
        self.prog = prog


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written; each option's default appended when it has one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "%(default)" in text or default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors and exit status 1."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{message} (see `{self.prog} --help`)", prog=self.prog)


def add_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    summary: str,
    example: str,
    handler: Handler,
    parents: Sequence[argparse.ArgumentParser] = (),
    description: str = "",
) -> argparse.ArgumentParser:
    """A subcommand whose help carries a summary, a description and an example."""
    parser = subparsers.add_parser(
        name,
        help=summary,
        description=(description or summary),
        epilog="example:\n  " + example.replace("\n", "\n  "),
        formatter_class=HelpFormatter,
        parents=list(parents),
    )
    parser.set_defaults(handler=handler)
    return parser


def verbose_parent() -> argparse.ArgumentParser:
    parent = Parser(add_help=False)
    parent.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="print the full trace of an error (demo: stream every Dagster event)")
    return parent


def build_parser() -> argparse.ArgumentParser:
    from kalshi_assets.cli import audit, demo, demo_server, doctor, reads

    parser = Parser(prog=PROG, description=DESCRIPTION, formatter_class=HelpFormatter,
                    epilog="example:\n  kalshi-assets demo && kalshi-assets events --type CPI --limit 5")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the full trace of an error")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    parents = [verbose_parent()]
    for family in (reads, audit, demo, demo_server, doctor):
        family.register(subparsers, parents)
    return parser


def _check_text(argv: Sequence[str]) -> None:
    """Arguments arrive decoded with surrogate escapes: a byte that is not UTF-8 cannot be a ticker."""
    for position, value in enumerate(argv, 1):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise CliError(f"argument {position} ({shown}) is not valid UTF-8 text") from None


def describe(error: BaseException) -> str:
    """One line saying what went wrong."""
    if isinstance(error, CliError | ValueError):
        text = str(error)
    elif isinstance(error, OSError):
        text = f"{error.strerror or error}: {error.filename}" if error.filename is not None else (error.strerror or str(error))
    else:
        text = f"{type(error).__name__}: {error} (run with --verbose for the full trace)"
    return " ".join(text.split())


def _quiet_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (a test's captured stdout)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in argv or "--verbose" in argv
    command = ""
    try:
        _check_text(argv)
        args, stray = build_parser().parse_known_args(argv)
        command = " ".join(filter(None, (args.command, getattr(args, "audit_command", None))))
        if stray:
            raise CliError(f"unrecognized arguments: {' '.join(stray)} (see `{PROG} {command} --help`)")
        handler: Handler = args.handler
        status = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's final flush
        return status
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else 0
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}{' ' + command if command else ''}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        prefix = getattr(error, "prog", None) or f"{PROG}{' ' + command if command else ''}"
        print(f"{prefix}: {describe(error)}", file=sys.stderr)
        if verbose:
            traceback.print_exc()
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
