"""The "never" rules of docs/ARCHITECTURE.md section 3, read from the source with the AST: only `defs/`
imports dagster, SQL text lives only in `warehouse/`, `analytics/` does no I/O, nothing imports `cli/`
and no library package imports `defs/`; and the size limits of the developer guide: no module over 600
lines, no function outside tests over 80 lines."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "kalshi_assets"

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
# Files allowed over a limit: none. (Kept as a named, empty table so an exception is a visible decision.)
KNOWN_OVERSIZE: dict[str, str] = {}


def _modules(root: Path) -> list[Path]:
    found = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    assert found, f"no Python modules under {root}"
    return found


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _in(path: Path, *rooms: str) -> bool:
    return any(_rel(path) == room or _rel(path).startswith(room.rstrip("/") + "/") for room in rooms)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path, tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the module, relative imports resolved."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            yield node.lineno, base
            for alias in node.names:  # `from kalshi_assets import defs` imports kalshi_assets.defs
                yield node.lineno, f"{base}.{alias.name}"


def _is(module: str, *names: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in names)


# --- only defs/ imports dagster ----------------------------------------------------------------------


# The code location's entry point (pyproject's [tool.dagster] module) merges defs/'s stages.
DAGSTER_ROOMS = ("kalshi_assets/defs", "kalshi_assets/definitions.py")


def test_only_defs_imports_dagster() -> None:
    offenders = [
        f"{_rel(p)}:{line} imports {name}"
        for p in _modules(PACKAGE)
        if not _in(p, *DAGSTER_ROOMS)
        for line, name in _imported(p, _tree(p))
        if _is(name, "dagster") or name.startswith("dagster_")
    ]
    assert not offenders, "dagster outside kalshi_assets/defs/:\n" + "\n".join(offenders)


def test_nothing_imports_cli_and_no_library_package_imports_defs() -> None:
    # Only the console script's own package and the code location's entry point reach upwards.
    upward = {"kalshi_assets.cli": ("kalshi_assets/cli",),
              "kalshi_assets.defs": ("kalshi_assets/defs", "kalshi_assets/cli", "kalshi_assets/definitions.py")}
    offenders = [
        f"{_rel(p)}:{line} imports {name}"
        for p in _modules(PACKAGE)
        for line, name in _imported(p, _tree(p))
        for target, allowed in upward.items()
        if _is(name, target) and not _in(p, *allowed)
    ]
    assert not offenders, "imports pointing upwards:\n" + "\n".join(offenders)


# --- the arrows between rooms ------------------------------------------------------------------------

# docs/ARCHITECTURE.md section 3: what each room may import of the others. The foundations (catalog,
# settings, times) import only each other in that order and may be imported by every room. defs/ and the
# code location's entry point are one room (the Dagster layer); cli/ may import anything.
FOUNDATIONS = {"catalog": set(), "settings": {"catalog"}, "times": set()}
ARROWS: dict[str, set[str]] = {
    "analytics": set(),
    "audit": set(),
    "kalshi": {"audit"},
    "demo": {"kalshi", "analytics"},
    "macro": {"analytics", "demo", "kalshi"},
    "trading": {"analytics", "kalshi"},
    "warehouse": {"analytics", "trading"},
    "reports": set(),
    "service": {"warehouse", "audit", "kalshi"},
    "defs": {"analytics", "audit", "demo", "kalshi", "macro", "reports", "service", "trading", "warehouse"},
}


def _room(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    room = parts[0].removesuffix(".py")
    return "defs" if room == "definitions" else room


def _room_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "kalshi_assets" or len(parts) < 2 or not (
        (PACKAGE / parts[1]).is_dir() or (PACKAGE / f"{parts[1]}.py").is_file()
    ):
        return None
    return "defs" if parts[1] == "definitions" else parts[1]


def test_imports_follow_the_arrows() -> None:
    rooms = {_room(p) for p in _modules(PACKAGE)} - {"__init__", "cli"}
    assert rooms == set(ARROWS) | set(FOUNDATIONS), "a room without arrows: add it here and to ARCHITECTURE.md"
    offenders = []
    for path in _modules(PACKAGE):
        source = _room(path)
        if source in {"__init__", "cli"}:
            continue
        allowed = FOUNDATIONS.get(source, ARROWS.get(source, set()) | set(FOUNDATIONS))
        for line, name in _imported(path, _tree(path)):
            target = _room_of(name)
            if target is not None and target != source and target not in allowed:
                offenders.append(f"{_rel(path)}:{line} ({source}) imports {name} ({target})")
    assert not offenders, "imports against the arrows of docs/ARCHITECTURE.md:\n" + "\n".join(offenders)


def test_the_arrows_have_no_cycle() -> None:
    graph = {room: set(targets) for room, targets in {**ARROWS, **FOUNDATIONS}.items()}
    done: set[str] = set()

    def visit(room: str, path: tuple[str, ...]) -> None:
        assert room not in path, f"import cycle: {' -> '.join((*path, room))}"
        if room not in done:
            for target in graph.get(room, set()):
                visit(target, (*path, room))
            done.add(room)

    for room in graph:
        visit(room, ())


# --- no SQL text outside warehouse/ ------------------------------------------------------------------

# The start of a SQL statement. Words that are also English (load, set, use, begin...) count only in
# capitals; statements that read like prose in any case need their SQL shape (SELECT ... FROM, DELETE FROM).
_SQL_ANY_CASE = re.compile(
    r"""^\s*(?:
        SELECT\b[\s\S]*\bFROM\b | SELECT\s+[\d*'(] |
        INSERT\s+(?:OR\s+\w+\s+)?INTO\b |
        CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?(?:UNIQUE\s+)?
            (?:TABLE|VIEW|SCHEMA|INDEX|SEQUENCE|MACRO|SECRET|TYPE)\b |
        DELETE\s+FROM\b | UPDATE\s+[\w."]+\s+SET\b | WITH\s+(?:RECURSIVE\s+)?\w+\s+AS\s*\( |
        MERGE\s+INTO\b | COPY\s+[\w."(]+[\s\S]*\b(?:TO|FROM)\b | ATTACH\s+(?:DATABASE\s+)?(?:IF\s+NOT\s+EXISTS\s+)?['"] |
        DROP\s+(?:TABLE|VIEW|SCHEMA|INDEX|SEQUENCE|MACRO|SECRET|TYPE)\b | ALTER\s+(?:TABLE|VIEW)\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_SQL_CAPITALS = re.compile(
    r"^\s*(?:ATTACH|DETACH|PRAGMA|INSTALL|LOAD|CHECKPOINT|BEGIN|COMMIT|ROLLBACK|SET|RESET|DESCRIBE|SUMMARIZE"
    r"|EXPORT\s+DATABASE|IMPORT\s+DATABASE|USE|VACUUM|TRUNCATE|CALL|EXPLAIN|SHOW|COMMENT\s+ON)\b"
)


def looks_like_sql(text: str) -> bool:
    return bool(_SQL_ANY_CASE.match(text) or _SQL_CAPITALS.match(text))


def _string_literals(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Every string literal with its line; an f-string's text with `{}` where its values go."""
    inside_fstring: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                inside_fstring.add(id(value))
                parts.append(value.value if isinstance(value, ast.Constant) else "{}")
            yield node.lineno, "".join(str(p) for p in parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in inside_fstring:
            yield node.lineno, node.value


@pytest.mark.parametrize(
    "text",
    ["SELECT * FROM t", "  select a\n  from t where x = ?", "INSERT INTO t VALUES (?)", "CREATE OR REPLACE VIEW v",
     "DELETE FROM t WHERE ts >= ?", "UPDATE kalshi_orders SET status = ?", "WITH grid AS (SELECT 1)",
     "COPY t TO 'x.parquet'", "ATTACH 'ducklake:x' AS lake", "PRAGMA table_info('t')", "LOAD ducklake",
     "SET threads = 1", "COMMENT ON COLUMN t.c IS 'x'", "SELECT 1"],
)
def test_the_sql_detector_sees_sql(text: str) -> None:
    assert looks_like_sql(text)


@pytest.mark.parametrize(
    "text",
    ["Select the events released after now.", "With the catalog's purge windows.", "Load the demo exchange.",
     "Update the breaker state", "settle", "Set when the market settles", "Copy of Kalshi's first print"],
)
def test_the_sql_detector_passes_prose(text: str) -> None:
    assert not looks_like_sql(text)


# The audit log is not the warehouse: its reader queries the log's own JSON segments with an in-memory
# DuckDB (read_json), and the audit package imports nothing of the warehouse's. Dagster's own SQLite event
# log (defs/event_log.py) is not the warehouse either: it sets one PRAGMA on Dagster's connections.
SQL_ROOMS = ("kalshi_assets/warehouse", "kalshi_assets/audit/query.py", "kalshi_assets/defs/event_log.py")


def test_no_sql_text_outside_warehouse() -> None:
    offenders = [
        f"{_rel(p)}:{line}: {text.strip()[:70]!r}"
        for p in _modules(PACKAGE)
        if not _in(p, *SQL_ROOMS)
        for line, text in _string_literals(_tree(p))
        if looks_like_sql(text)
    ]
    assert not offenders, "SQL text outside kalshi_assets/warehouse/:\n" + "\n".join(offenders)


# --- no I/O in analytics/ ----------------------------------------------------------------------------

_IO_MODULES = (
    "os", "pathlib", "io", "shutil", "subprocess", "socket", "tempfile", "glob", "pickle", "shelve", "sqlite3",
    "duckdb", "requests", "urllib", "http", "ftplib", "smtplib", "asyncio", "multiprocessing", "threading",
    "time", "logging", "matplotlib", "msgspec", "orjson", "json", "tomllib", "yaml", "csv",
    "kalshi_assets.warehouse", "kalshi_assets.kalshi", "kalshi_assets.audit", "kalshi_assets.macro",
    "kalshi_assets.demo", "kalshi_assets.trading", "kalshi_assets.reports", "kalshi_assets.service",
    "kalshi_assets.catalog", "kalshi_assets.cli", "kalshi_assets.defs",
)
# kalshi_assets.times converts times for analytics; its one clock, utc_now, is refused by name below.
_IO_CALLS = {"open", "print", "input", "exec", "eval", "__import__", "breakpoint", "utc_now"}
# Methods and functions that read or write files, or read the clock, whatever object they hang on.
_IO_ATTRIBUTES = re.compile(
    r"^(?:read_(?:csv|parquet|json|excel|feather|pickle|sql\w*|table|fwf|html|hdf|orc|stata|sas|spss|xml)"
    r"|to_(?:csv|parquet|json|excel|feather|pickle|sql|hdf|orc|stata|html|xml|latex|markdown|clipboard)"
    r"|savefig|savez\w*|save|load|loadtxt|savetxt|fromfile|tofile|genfromtxt"
    r"|now|utcnow|utc_now|today|monotonic|perf_counter|sleep|system|popen|unlink|mkdir|rmdir"
    r"|write_text|write_bytes|read_text|read_bytes)$"
)


def test_analytics_does_no_io() -> None:
    offenders = []
    for path in _modules(PACKAGE / "analytics"):
        tree = _tree(path)
        offenders += [f"{_rel(path)}:{line} imports {name}" for line, name in _imported(path, tree)
                      if _is(name, *_IO_MODULES)]
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name) and node.func.id in _IO_CALLS:
                offenders.append(f"{_rel(path)}:{node.lineno} calls {node.func.id}()")
            elif isinstance(node.func, ast.Attribute) and _IO_ATTRIBUTES.match(node.func.attr):
                offenders.append(f"{_rel(path)}:{node.lineno} calls .{node.func.attr}()")
    assert not offenders, "I/O in kalshi_assets/analytics/:\n" + "\n".join(offenders)


# --- sizes -------------------------------------------------------------------------------------------


def _oversize() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for root in (PACKAGE, REPO / "benchmarks"):
        for path in _modules(root):
            source = path.read_text(encoding="utf-8")
            lines = len(source.splitlines())
            if lines > MAX_MODULE_LINES:
                found.setdefault(_rel(path), []).append(f"{lines} lines")
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                    if length > MAX_FUNCTION_LINES:
                        found.setdefault(_rel(path), []).append(f"{node.name}() is {length} lines")
    return found


def test_no_module_over_600_lines_and_no_function_over_80() -> None:
    found = _oversize()
    unexpected = {path: what for path, what in found.items() if path not in KNOWN_OVERSIZE}
    assert not unexpected, "over the size limits:\n" + "\n".join(f"{p}: {', '.join(w)}" for p, w in unexpected.items())


def test_known_size_exceptions_are_still_needed() -> None:
    """An exception that no longer applies goes: the list only ever shrinks."""
    found = _oversize()
    stale = [path for path in KNOWN_OVERSIZE if path not in found]
    assert not stale, f"within the limits now; remove from KNOWN_OVERSIZE: {stale}"
