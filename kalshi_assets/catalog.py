"""The series catalog: what the pipeline knows about each Kalshi series, read from one TOML file.

`kalshi_assets/series_catalog.toml` is the file; $KALSHI_SERIES_CATALOG names another. It is read with
the standard library's `tomllib`, validated whole when loaded (an error names the series, the field and
the file), and cached until the file changes. `settings.py`, `macro/sources.py` and the demo exchange
read it through `load_catalog()`; nothing else holds a per-series table. No dagster here.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CATALOG_ENV = "KALSHI_SERIES_CATALOG"
PACKAGED_CATALOG = Path(__file__).resolve().parent / "series_catalog.toml"

STRIKE_TYPES = ("greater", "between")
SCHEDULES = ("cpi", "jobs", "gdp", "fomc")
PROCESS_KINDS = ("mean_reverting", "bounded_walk", "normal", "policy_rate")

# The demo exchange's `scale` knob adds replica series named <base>R<n> (KXCPIR2 ...): they share
# their base's catalog entry.
_REPLICA = re.compile(r"^(?P<base>[A-Z0-9]+?)R(?P<n>\d+)$")


class CatalogError(ValueError):
    """The catalog file is malformed, or a series the pipeline uses has no entry in it."""


@dataclass(frozen=True)
class ReleaseRule:
    """When a series' values come out: `local_time` in `timezone` on the days of `schedule`."""

    schedule: str
    local_time: time
    timezone: str

    def at(self, day: date) -> datetime:
        """The release instant on `day` as an aware UTC datetime (daylight saving handled)."""
        return datetime.combine(day, self.local_time, tzinfo=ZoneInfo(self.timezone)).astimezone(UTC)


@dataclass(frozen=True)
class FredSeriesSpec:
    """Which FRED series prints a Kalshi series, and how to bring its values to Kalshi's units."""

    series_id: str
    units: str = "lin"  # FRED's units transformation (pch = percent change, chg = change)
    scale: float = 1.0  # multiply FRED's value by this (PAYEMS is in thousands, Kalshi in jobs)
    decimals: int = 1  # round to the precision the agency publishes (Kalshi settles on that)
    meeting_effective_next_day: bool = False  # a policy rate set at a meeting is in effect the next day


@dataclass(frozen=True)
class DemoSimulation:
    """How the embedded demo exchange simulates a series (kalshi_assets/demo/simulation.py)."""

    frequency: str
    open_days: int
    prior_sd: float  # the market's uncertainty when the ladder opens
    final_sd: float  # ... and just before the release
    strike_step: float
    rungs_below: int
    rungs_above: int
    liquidity: float  # mean contracts per hour near release for an at-the-money rung
    source_name: str
    source_url: str
    process: Mapping[str, Any]  # the value process: kind plus its parameters
    latent_grid: float  # the grid of the latent value the book prices
    renamed_from: str | None = None  # old ticker prefix of events listed before the rename
    strike_text: str = "trimmed"  # "fixed" keeps trailing zeros in strike tickers (KXFED-26SEP-T3.00)
    revisions: Mapping[str, float] | None = None  # size and spacing of later vintages


@dataclass(frozen=True)
class SeriesEntry:
    ticker: str
    title: str
    event_type: str
    purge_class: str
    purge_window_days: int
    unit: str
    decimals: int
    value_grid: float | None
    strike_type: str
    release: ReleaseRule
    aliases: tuple[str, ...] = ()
    macro: FredSeriesSpec | None = None
    demo: DemoSimulation | None = None


@dataclass(frozen=True)
class Catalog:
    path: Path
    series: Mapping[str, SeriesEntry]
    default_series: tuple[str, ...]
    purge_classes: Mapping[str, int]
    rate_paths: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def lookup(self, series_ticker: str) -> SeriesEntry | None:
        """The entry of a ticker, an older alias of it (CPI -> KXCPI), or a demo replica (KXCPIR2)."""
        entry = self._by_name().get(series_ticker)
        if entry is None:
            base = replica_base(series_ticker)
            if base is not None:
                entry = self._by_name().get(base)
        return entry

    def require(self, series_ticker: str) -> SeriesEntry:
        """The entry of a series the pipeline uses; a clear error when the catalog lacks it."""
        entry = self.lookup(series_ticker)
        if entry is None:
            raise CatalogError(
                f"series {series_ticker!r} is not in the series catalog {self.path}: add a "
                f"[series.{series_ticker}] table (event_type, purge_class, strike_type, release, ...) "
                f"or set {CATALOG_ENV} to a catalog that has it"
            )
        return entry

    def require_all(self, series_tickers: Sequence[str]) -> None:
        missing = [ticker for ticker in series_tickers if self.lookup(ticker) is None]
        if missing:
            raise CatalogError(
                f"series {', '.join(map(repr, missing))} used by the pipeline are not in the series "
                f"catalog {self.path}: add a [series.<TICKER>] table for each, or set {CATALOG_ENV}"
            )

    @property
    def event_types(self) -> tuple[str, ...]:
        """Every event type, in the order the catalog first names them."""
        return tuple(dict.fromkeys(entry.event_type for entry in self.series.values()))

    def purge_window_by_event_type(self) -> dict[str, int]:
        return {entry.event_type: entry.purge_window_days for entry in self.series.values()}

    def demo_series(self) -> list[SeriesEntry]:
        """The series the demo exchange simulates, in catalog order."""
        return [entry for entry in self.series.values() if entry.demo is not None]

    def _by_name(self) -> dict[str, SeriesEntry]:
        names = self.__dict__.get("_names")
        if names is None:
            names = {}
            for entry in self.series.values():
                names[entry.ticker] = entry
                for alias in entry.aliases:
                    names.setdefault(alias, entry)
            object.__setattr__(self, "_names", names)
        return names


def replica_base(series_ticker: str) -> str | None:
    """`KXCPI` for the demo replica `KXCPIR2`; None for a ticker that is not a replica name."""
    match = _REPLICA.match(series_ticker)
    return match.group("base") if match else None


def replica_ticker(base: str, replica: int) -> str:
    """The name of replica `replica` of a demo series (replica 1 is the series itself)."""
    return base if replica == 1 else f"{base}R{replica}"


def catalog_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    configured = environ.get(CATALOG_ENV, "").strip()
    return Path(configured).expanduser() if configured else PACKAGED_CATALOG


_CACHE: dict[Path, tuple[int, Catalog]] = {}


def load_catalog(path: str | os.PathLike[str] | None = None) -> Catalog:
    """The catalog at `path` (default: $KALSHI_SERIES_CATALOG, else the packaged file), validated."""
    resolved = Path(path) if path is not None else catalog_path()
    try:
        stamp = resolved.stat().st_mtime_ns
    except OSError as exc:
        raise CatalogError(f"series catalog {resolved}: cannot read it ({exc.strerror})") from None
    cached = _CACHE.get(resolved)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        raw = tomllib.loads(resolved.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"series catalog {resolved}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"series catalog {resolved}: not valid TOML ({exc})") from None
    catalog = _parse(raw, resolved)
    _CACHE[resolved] = (stamp, catalog)
    return catalog


# --- validation --------------------------------------------------------------------------------


class _Fields:
    """Typed access to one TOML table, every error naming the file and the table."""

    def __init__(self, table: Any, where: str) -> None:
        if not isinstance(table, dict):
            raise CatalogError(f"{where}: expected a table, got {type(table).__name__}")
        self.table, self.where = table, where

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if name not in self.table:
            if default is ...:
                raise CatalogError(f"{self.where}: missing required field {name!r}")
            return default
        value = self.table[name]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise CatalogError(f"{self.where}.{name}: expected {_names(kind)}, got {value!r}")
        if not isinstance(value, kind):
            raise CatalogError(f"{self.where}.{name}: expected {_names(kind)}, got {value!r}")
        return value

    def number(self, name: str, default: Any = ..., *, positive: bool = False) -> float:
        value = self.get(name, (int, float), default)
        if value is not None and positive and value <= 0:
            raise CatalogError(f"{self.where}.{name}: must be positive, got {value!r}")
        return float(value) if value is not None else value

    def choice(self, name: str, choices: Sequence[str], default: Any = ...) -> str:
        value = self.get(name, str, default)
        if value not in choices:
            raise CatalogError(f"{self.where}.{name}: must be one of {', '.join(choices)}, got {value!r}")
        return value

    def unknown(self, known: Sequence[str]) -> None:
        extra = sorted(set(self.table) - set(known))
        if extra:
            raise CatalogError(f"{self.where}: unknown field(s) {', '.join(extra)}")


def _names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _parse(raw: dict[str, Any], path: Path) -> Catalog:
    top = _Fields(raw, str(path))
    top.unknown(["default_series", "purge_classes", "demo_rate_paths", "series"])
    purge_classes = {}
    for name, days in _Fields(top.get("purge_classes", dict), f"{path}: [purge_classes]").table.items():
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise CatalogError(f"{path}: [purge_classes].{name}: expected a whole number of days >= 0, got {days!r}")
        purge_classes[name] = days
    rate_paths = {
        name: _rate_path(table, f"{path}: [demo_rate_paths.{name}]")
        for name, table in top.get("demo_rate_paths", dict, {}).items()
    }
    series: dict[str, SeriesEntry] = {}
    seen_names: dict[str, str] = {}
    for ticker, table in top.get("series", dict).items():
        entry = _series(ticker, table, f"{path}: [series.{ticker}]", purge_classes, rate_paths)
        for name in (ticker, *entry.aliases):
            if name in seen_names:
                raise CatalogError(f"{path}: {name!r} names both series {seen_names[name]} and {ticker}")
            seen_names[name] = ticker
        series[ticker] = entry
    _check_event_type_purges(series, path)
    default_series = tuple(top.get("default_series", list, []))
    catalog = Catalog(path, series, default_series, purge_classes, rate_paths)
    catalog.require_all(default_series)
    return catalog


def _series(
    ticker: str, table: Any, where: str, purge_classes: Mapping[str, int], rate_paths: Mapping[str, Any]
) -> SeriesEntry:
    fields = _Fields(table, where)
    fields.unknown(["title", "aliases", "event_type", "purge_class", "unit", "decimals", "value_grid",
                    "strike_type", "release", "macro", "demo"])
    if not re.fullmatch(r"[A-Z0-9]+", ticker):
        raise CatalogError(f"{where}: a series ticker is upper-case letters and digits")
    purge_class = fields.get("purge_class", str)
    if purge_class not in purge_classes:
        raise CatalogError(f"{where}.purge_class: {purge_class!r} is not a key of [purge_classes]")
    aliases = fields.get("aliases", list, [])
    if not all(isinstance(a, str) and a for a in aliases):
        raise CatalogError(f"{where}.aliases: expected a list of tickers")
    value_grid = fields.number("value_grid", None, positive=True)
    strike_type = fields.choice("strike_type", STRIKE_TYPES)
    macro = fields.get("macro", dict, None)
    demo = fields.get("demo", dict, None)
    return SeriesEntry(
        ticker=ticker,
        title=fields.get("title", str),
        event_type=fields.get("event_type", str),
        purge_class=purge_class,
        purge_window_days=purge_classes[purge_class],
        unit=fields.get("unit", str),
        decimals=fields.get("decimals", int),
        value_grid=value_grid,
        strike_type=strike_type,
        release=_release(fields.get("release", dict), f"{where}.release"),
        aliases=tuple(aliases),
        macro=None if macro is None else _macro(macro, f"{where}.macro"),
        demo=None if demo is None else _demo(demo, f"{where}.demo", value_grid, rate_paths),
    )


def _release(table: dict[str, Any], where: str) -> ReleaseRule:
    fields = _Fields(table, where)
    fields.unknown(["schedule", "local_time", "timezone"])
    text = fields.get("local_time", str)
    try:
        local_time = time.fromisoformat(text)
    except ValueError:
        raise CatalogError(f"{where}.local_time: expected HH:MM, got {text!r}") from None
    timezone = fields.get("timezone", str)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CatalogError(f"{where}.timezone: unknown time zone {timezone!r}") from None
    return ReleaseRule(fields.choice("schedule", SCHEDULES), local_time, timezone)


def _macro(table: dict[str, Any], where: str) -> FredSeriesSpec:
    fields = _Fields(table, where)
    fields.unknown(["source", "series_id", "transform", "scale", "decimals", "meeting_effective_next_day"])
    fields.choice("source", ("fred",))
    return FredSeriesSpec(
        series_id=fields.get("series_id", str),
        units=fields.get("transform", str, "lin"),
        scale=fields.number("scale", 1.0, positive=True),
        decimals=fields.get("decimals", int, 1),
        meeting_effective_next_day=fields.get("meeting_effective_next_day", bool, False),
    )


def _demo(
    table: dict[str, Any], where: str, value_grid: float | None, rate_paths: Mapping[str, Any]
) -> DemoSimulation:
    fields = _Fields(table, where)
    fields.unknown(["frequency", "renamed_from", "open_days", "prior_sd", "final_sd", "strike_step",
                    "rungs_below", "rungs_above", "liquidity", "source", "process", "revisions",
                    "latent_grid", "strike_text"])
    latent_grid = fields.number("latent_grid", value_grid, positive=True)
    if latent_grid is None:
        raise CatalogError(f"{where}: give latent_grid (the series has no value_grid)")
    source = _Fields(fields.get("source", dict), f"{where}.source")
    process = _Fields(fields.get("process", dict), f"{where}.process")
    kind = process.choice("kind", PROCESS_KINDS)
    if kind == "policy_rate" and process.get("path", str) not in rate_paths:
        raise CatalogError(f"{where}.process.path: no [demo_rate_paths.{process.table['path']}] table")
    revisions = fields.get("revisions", dict, None)
    if revisions is not None:
        checked = _Fields(revisions, f"{where}.revisions")
        revisions = {"size": checked.number("size", positive=True),
                     "every_days": checked.number("every_days", positive=True)}
    return DemoSimulation(
        frequency=fields.get("frequency", str),
        open_days=fields.get("open_days", int),
        prior_sd=fields.number("prior_sd", positive=True),
        final_sd=fields.number("final_sd", positive=True),
        strike_step=fields.number("strike_step", positive=True),
        rungs_below=fields.get("rungs_below", int),
        rungs_above=fields.get("rungs_above", int),
        liquidity=fields.number("liquidity", positive=True),
        source_name=source.get("name", str),
        source_url=source.get("url", str),
        process=dict(process.table),
        latent_grid=latent_grid,
        renamed_from=fields.get("renamed_from", str, None),
        strike_text=fields.choice("strike_text", ("trimmed", "fixed"), "trimmed"),
        revisions=revisions,
    )


def _rate_path(table: Any, where: str) -> dict[str, Any]:
    fields = _Fields(table, where)
    fields.unknown(["start", "moves", "probabilities", "floor", "history_start"])
    moves, probabilities = fields.get("moves", list), fields.get("probabilities", list)
    if len(moves) != len(probabilities) or abs(sum(probabilities) - 1.0) > 1e-9:
        raise CatalogError(f"{where}: moves and probabilities must pair up, probabilities summing to 1")
    try:
        history_start = date.fromisoformat(fields.get("history_start", str))
    except ValueError:
        raise CatalogError(f"{where}.history_start: expected YYYY-MM-DD") from None
    return {"start": fields.number("start"), "moves": [float(m) for m in moves],
            "probabilities": [float(p) for p in probabilities], "floor": fields.number("floor"),
            "history_start": history_start}


def _check_event_type_purges(series: Mapping[str, SeriesEntry], path: Path) -> None:
    """Purge windows are looked up by event type downstream: one event type, one purge class."""
    classes: dict[str, tuple[str, str]] = {}
    for entry in series.values():
        known = classes.setdefault(entry.event_type, (entry.purge_class, entry.ticker))
        if known[0] != entry.purge_class:
            raise CatalogError(
                f"{path}: series {known[1]} and {entry.ticker} share event type {entry.event_type!r} but "
                f"name purge classes {known[0]!r} and {entry.purge_class!r}; give them one"
            )
