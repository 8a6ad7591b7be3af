"""The demo exchange's simulation: a deterministic, seeded history of macro event markets.

Each series the series catalog gives a `demo` table (the six demo series: CPI, unemployment, payrolls,
GDP, the FOMC upper-bound ladder and a mutually exclusive FOMC decision market) gets about two years of
events ending at `DEMO_END`: a released value from the series' value process, hourly books whose implied
distribution drifts toward that value by the release, and settlement on the first print. The warts of
real data are on purpose: noisy rungs that break monotonicity, wide and one-sided books, hours without
trades, one rung per event that never trades, and the old `CPI-`/`FED-`/`PAYROLLS-` event tickers
inside the renamed series.

Every event is generated from `(seed, ticker)` alone, so any event can be rebuilt on demand without
building the others; `scale` adds replica series (`KXCPIR2`, ...) with their own values for benchmarks.
`exchange.py` turns this history into Kalshi's wire objects.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
from scipy.special import ndtr

from kalshi_assets.catalog import Catalog, SeriesEntry, load_catalog, replica_base, replica_ticker
from kalshi_assets.demo import calendar

DEMO_END = datetime(2026, 11, 1, tzinfo=UTC)
DEMO_START = date(2024, 10, 1)
# Events listed after this day use the KX-prefixed tickers; earlier ones keep the old names.
RENAME_DAY = date(2025, 1, 1)
_HOUR = 3600
# The demo's books show a favorite-longshot bias (quoted p = f^g / (f^g + (1-f)^g) for fair value f):
# a 5% event trades near 11 cents, a 95% favorite near 89. Such a bias is reported for Kalshi and for
# betting markets generally; it is the inefficiency the demo's walk-forward can find. g = 1 is fair.
FAVORITE_LONGSHOT_GAMMA = 0.7


def _stable_int(*parts: object) -> int:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(_stable_int(*parts))


def _power(base: np.ndarray, exponent: float) -> np.ndarray:
    """`base ** exponent` element by element through the C library's pow, as numpy computes it on most CPUs.

    On CPUs with AVX-512, numpy's float64 power takes a vectorized path whose results differ from libm's in
    the last bit: the demo's forecast values then differed from one machine to the next (the fingerprints of
    tests/demo caught it). The same seed must give the same history on every machine."""
    flat = np.asarray(base, dtype=np.float64).ravel()
    return np.fromiter(map(math.pow, flat.tolist(), itertools.repeat(exponent, flat.size)), dtype=np.float64,
                       count=flat.size).reshape(np.shape(base))


@dataclass(frozen=True)
class SeriesSpec:
    """How one demo series behaves: its catalog entry's demo table, flattened for the generator."""

    base: str
    old_prefix: str | None
    title: str
    frequency: str
    releases: Callable[[date, date], list[calendar.Release]]
    open_days: int
    grid: float  # the grid of the latent value the book prices
    prior_sd: float  # the market's uncertainty when the ladder opens
    final_sd: float  # ... and just before the release
    strike_step: float
    rungs_below: int
    rungs_above: int
    liquidity: float  # mean contracts per hour near release for an at-the-money rung
    unit: str
    decimals: int
    source_name: str
    source_url: str
    strike_type: str  # "greater" ladder or mutually exclusive "between" bins
    process: Mapping[str, Any]  # the value process (kind and parameters)
    strike_text: str = "trimmed"
    revisions: Mapping[str, float] | None = None

    @property
    def decision_bins(self) -> bool:
        """A mutually exclusive decision market (FOMC cut/hold/hike bins) rather than a ladder."""
        return self.strike_type == "between"

    @property
    def policy_rate(self) -> bool:
        return self.process["kind"] == "policy_rate"

    @property
    def in_bps_change(self) -> bool:
        """The released value is the change of a policy rate in basis points (the decision market)."""
        return self.policy_rate and self.process.get("measure") == "change_bps"

    @classmethod
    def from_catalog(cls, entry: SeriesEntry) -> SeriesSpec:
        demo = entry.demo
        if demo is None:
            raise ValueError(f"series {entry.ticker} has no demo table in the series catalog")
        return cls(
            base=entry.ticker, old_prefix=demo.renamed_from, title=entry.title, frequency=demo.frequency,
            releases=lambda first, last, rule=entry.release: calendar.releases(rule, first, last),
            open_days=demo.open_days, grid=demo.latent_grid, prior_sd=demo.prior_sd, final_sd=demo.final_sd,
            strike_step=demo.strike_step, rungs_below=demo.rungs_below, rungs_above=demo.rungs_above,
            liquidity=demo.liquidity, unit=entry.unit, decimals=entry.decimals, source_name=demo.source_name,
            source_url=demo.source_url, strike_type=entry.strike_type, process=demo.process,
            strike_text=demo.strike_text, revisions=demo.revisions,
        )


# The mutually exclusive FOMC decision bins: (suffix, floor bps, cap bps, label).
DECISION_BINS: tuple[tuple[str, float, float, str], ...] = (
    ("C50", -200.0, -50.0, "Cut 50bps or more"),
    ("C25", -25.0, -25.0, "Cut 25bps"),
    ("H0", 0.0, 0.0, "Hold"),
    ("H25", 25.0, 200.0, "Hike 25bps or more"),
)


@dataclass(frozen=True)
class DemoEvent:
    """Everything the exchange knows about one event, including its hourly book history."""

    event_ticker: str
    series_ticker: str
    spec: SeriesSpec
    release: calendar.Release
    open_time: datetime
    close_time: datetime
    first_print: float  # the released value markets settle on (bps change for the decision series)
    previous_rate: float | None  # FOMC: the upper bound before the meeting
    market_tickers: tuple[str, ...]
    strike_types: tuple[str, ...]
    floors: tuple[float | None, ...]
    caps: tuple[float | None, ...]
    sub_titles: tuple[str, ...]
    hours: np.ndarray  # candle end_period_ts (unix seconds), ascending
    mean: np.ndarray  # the market's latent mean per hour
    sd: np.ndarray  # ... and its standard deviation
    bid_cents: np.ndarray  # (markets, hours) int; 0 means no bid
    ask_cents: np.ndarray  # (markets, hours) int; 100 means no ask
    last_cents: np.ndarray  # (markets, hours) int; -1 means nothing traded in the hour
    volume: np.ndarray  # (markets, hours) int contracts
    open_interest: np.ndarray  # (markets, hours) int contracts

    @property
    def release_time(self) -> datetime:
        return self.release.release_time


class DemoSimulation:
    """A deterministic history of the catalog's demo series (replicas added by `scale`)."""

    def __init__(
        self, seed: int = 7, scale: int = 1, end: datetime = DEMO_END, catalog: Catalog | None = None
    ) -> None:
        if scale < 1:
            raise ValueError(f"scale must be >= 1, got {scale}")
        self.seed = seed
        self.scale = scale
        self.now = end
        self.catalog = catalog if catalog is not None else load_catalog()
        self._specs = {entry.ticker: SeriesSpec.from_catalog(entry) for entry in self.catalog.demo_series()}
        if not self._specs:
            raise ValueError(f"the series catalog {self.catalog.path} has no series with a demo table")
        self._event_cache = lru_cache(maxsize=512)(self._build_event)
        self._rate_paths: dict[tuple[str, int], dict[str, tuple[float, float]]] = {}

    # ---------------------------------------------------------------- catalogue

    @cached_property
    def series_tickers(self) -> tuple[str, ...]:
        return tuple(
            replica_ticker(base, replica) for replica in range(1, self.scale + 1) for base in self._specs
        )

    @cached_property
    def _series_index(self) -> dict[str, tuple[SeriesSpec, int]]:
        index = {}
        for replica in range(1, self.scale + 1):
            for base, spec in self._specs.items():
                index[replica_ticker(base, replica)] = (spec, replica)
        return index

    def _spec(self, series_ticker: str) -> tuple[SeriesSpec, int]:
        """The spec and replica number of a series (replicas are named <base>R<n>)."""
        try:
            return self._series_index[series_ticker]
        except KeyError:
            raise KeyError(f"unknown series {series_ticker!r}") from None

    @staticmethod
    def base_of(series_ticker: str) -> str:
        """The catalog series a demo series replicates (itself for replica 1)."""
        return replica_base(series_ticker) or series_ticker

    @cached_property
    def _catalogue(self) -> dict[str, tuple[str, calendar.Release]]:
        """event_ticker -> (series_ticker, release), for every event listed by `now`."""
        out: dict[str, tuple[str, calendar.Release]] = {}
        last_day = (self.now + timedelta(days=45)).date()
        for series_ticker in self.series_tickers:
            spec, replica = self._spec(series_ticker)
            for release in spec.releases(DEMO_START, last_day):
                if release.release_time - timedelta(days=spec.open_days) > self.now:
                    continue  # not listed yet
                out[self._event_ticker(series_ticker, spec, replica, release)] = (series_ticker, release)
        return out

    @staticmethod
    def _event_ticker(series_ticker: str, spec: SeriesSpec, replica: int, release: calendar.Release) -> str:
        listed = (release.release_time - timedelta(days=spec.open_days)).date()
        if replica == 1 and spec.old_prefix and listed < RENAME_DAY:
            return f"{spec.old_prefix}-{release.period_code}"
        return f"{series_ticker}-{release.period_code}"

    def event_tickers(self, series_ticker: str | None = None) -> list[str]:
        return [
            ticker
            for ticker, (series, release) in sorted(
                self._catalogue.items(), key=lambda item: (item[1][0], item[1][1].release_time)
            )
            if series_ticker is None or series == series_ticker
        ]

    def demo_event(self, event_ticker: str) -> DemoEvent:
        if event_ticker not in self._catalogue:
            raise KeyError(f"unknown event {event_ticker!r}")
        return self._event_cache(event_ticker)

    # ---------------------------------------------------------------- value processes

    def _values(self, series_ticker: str) -> dict[str, float]:
        """Released first-print values of a series, by period code (a seeded process per series)."""
        return self._series_values(series_ticker)

    @lru_cache(maxsize=64)  # noqa: B019 - the exchange lives as long as its caches
    def _series_values(self, series_ticker: str) -> dict[str, float]:
        spec, replica = self._spec(series_ticker)
        releases = spec.releases(DEMO_START, (self.now + timedelta(days=45)).date())
        rng = _rng(self.seed, "values", series_ticker)
        process = spec.process
        digits = int(process.get("round_to", spec.decimals))
        values: dict[str, float] = {}
        if process["kind"] == "mean_reverting":
            x = process["start"]
            for r in releases:
                x = process["mean"] + process["persistence"] * (x - process["mean"]) + rng.normal(0, process["sd"])
                values[r.period_code] = round(x, digits)
        elif process["kind"] == "bounded_walk":
            x = process["start"]
            for r in releases:
                x = float(np.clip(x + rng.normal(0, process["sd"]), process["low"], process["high"]))
                values[r.period_code] = round(x, digits)
        elif process["kind"] == "normal":
            for r in releases:
                values[r.period_code] = round(float(rng.normal(process["mean"], process["sd"])), digits)
        else:  # policy_rate: the series of one path share it, one path per replica
            path = self._rate_path(process["path"], replica, spec)
            for r in releases:
                before, after = path[r.period_code]
                values[r.period_code] = round((after - before) * 10000) / 100 if spec.in_bps_change else after
        return values

    def _rate_path(self, name: str, replica: int, spec: SeriesSpec) -> dict[str, tuple[float, float]]:
        """period code -> (rate before, rate after) for each meeting of a policy-rate path (on the
        meeting calendar of the series that asks; the series of one path share one calendar)."""
        cached = self._rate_paths.get((name, replica))
        if cached is not None:
            return cached
        config = self.catalog.rate_paths[name]
        rng = _rng(self.seed, name, replica)
        rate, path = config["start"], {}
        moves = np.array(config["moves"])
        for release in spec.releases(config["history_start"], (self.now + timedelta(days=45)).date()):
            move = float(rng.choice(moves, p=config["probabilities"]))
            if rate + move < config["floor"]:
                move = 0.0
            path[release.period_code] = (rate, round(rate + move, 2))
            rate = round(rate + move, 2)
        self._rate_paths[(name, replica)] = path
        return path

    # ---------------------------------------------------------------- building one event

    def _build_event(self, event_ticker: str) -> DemoEvent:
        series_ticker, release = self._catalogue[event_ticker]
        spec, replica = self._spec(series_ticker)
        rng = _rng(self.seed, "event", event_ticker)
        truth = self._values(series_ticker)[release.period_code]
        previous_rate = None
        if spec.policy_rate:
            previous_rate = self._rate_path(spec.process["path"], replica, spec)[release.period_code][0]
        # The latent variable the book prices: the released value, or for FOMC the upper bound.
        latent_truth = truth if not spec.in_bps_change else previous_rate + truth / 100.0
        prior_mean = latent_truth + rng.normal(0, spec.prior_sd)

        open_time = (release.release_time - timedelta(days=spec.open_days)).replace(minute=0, second=0)
        close_time = release.release_time
        first_hour = int(open_time.timestamp()) // _HOUR * _HOUR + _HOUR
        last_hour = int(min(close_time, self.now).timestamp()) // _HOUR * _HOUR
        hours = np.arange(first_hour, last_hour + 1, _HOUR, dtype=np.int64)

        # Latent mean: starts at the prior, drifts toward (nearly) the truth by the release, with noise.
        total = close_time.timestamp() - open_time.timestamp()
        frac = np.clip((close_time.timestamp() - hours) / total, 0.0, 1.0)
        end_error = rng.normal(0, spec.final_sd * 0.6)
        walk = np.cumsum(rng.normal(0, 1, hours.size)) if hours.size else np.zeros(0)
        bridge = (walk - np.linspace(0, 1, hours.size) * (walk[-1] if hours.size else 0.0)) / math.sqrt(
            max(hours.size, 1)
        )
        mean = latent_truth + end_error + (prior_mean - latent_truth - end_error) * _power(frac, 0.7) + (
            bridge * spec.prior_sd * 0.35
        )
        sd = spec.final_sd + (spec.prior_sd - spec.final_sd) * np.sqrt(frac)

        tickers, strike_types, floors, caps, subs, fair = self._ladder(
            event_ticker, spec, prior_mean, previous_rate, mean, sd
        )
        bid, ask, last, volume, oi = self._book(rng, spec, fair, frac)
        return DemoEvent(
            event_ticker=event_ticker, series_ticker=series_ticker, spec=spec, release=release,
            open_time=open_time, close_time=close_time, first_print=truth, previous_rate=previous_rate,
            market_tickers=tuple(tickers), strike_types=tuple(strike_types), floors=tuple(floors),
            caps=tuple(caps), sub_titles=tuple(subs), hours=hours, mean=mean, sd=sd, bid_cents=bid,
            ask_cents=ask, last_cents=last, volume=volume, open_interest=oi,
        )

    def _ladder(self, event_ticker, spec, prior_mean, previous_rate, mean, sd):
        """Markets of an event and their fair YES prices per hour, shape (markets, hours)."""
        half_grid = spec.grid / 2
        if spec.decision_bins:
            tickers, types, floors, caps, subs, fair = [], [], [], [], [], []
            for suffix, floor_bps, cap_bps, label in DECISION_BINS:
                lo = previous_rate + floor_bps / 10000 * 100  # bps -> percentage points
                hi = previous_rate + cap_bps / 10000 * 100
                mass = ndtr((hi + half_grid - mean) / sd) - ndtr((lo - half_grid - mean) / sd)
                tickers.append(f"{event_ticker}-{suffix}")
                types.append("between")
                floors.append(floor_bps)
                caps.append(cap_bps)
                subs.append(label)
                fair.append(mass)
            return tickers, types, floors, caps, subs, np.vstack(fair)
        if spec.policy_rate:  # the ladder is centred on the rate going into the meeting
            center = previous_rate
        else:
            center = round(prior_mean / spec.strike_step) * spec.strike_step
        strikes = [center + i * spec.strike_step for i in range(-spec.rungs_below, spec.rungs_above + 1)]
        strikes = [round(k, 4) for k in strikes]
        tickers = [f"{event_ticker}-T{format_strike(k, spec)}" for k in strikes]
        # "Above k" on a discrete grid: P(X > k) = P(X >= k + grid) ~ 1 - Phi((k + grid/2 - mean) / sd).
        fair = np.vstack([1.0 - ndtr((k + half_grid - mean) / sd) for k in strikes])
        subs = [f"Above {format_strike(k, spec)}{spec.unit}" for k in strikes]
        return tickers, ["greater"] * len(strikes), strikes, [None] * len(strikes), subs, fair

    @staticmethod
    def _book(rng: np.random.Generator, spec: SeriesSpec, fair: np.ndarray, frac: np.ndarray):
        """Hourly bid/ask/last/volume/open interest in cents and contracts for a ladder."""
        n_markets, n_hours = fair.shape
        # Favorite-longshot bias: quotes lean toward 0.5 (longshots rich, favorites cheap).
        lean = _power(fair, FAVORITE_LONGSHOT_GAMMA)
        leaned = lean / (lean + _power(1 - fair, FAVORITE_LONGSHOT_GAMMA))
        # Independent noise per rung: this is what breaks monotonicity across the ladder.
        observed = np.clip(leaned + rng.normal(0, 1, fair.shape) * (0.008 + 0.012 * frac), 0.003, 0.997)
        half_spread = np.full((n_markets, 1), 0.01) + rng.uniform(0, 0.01, (n_markets, 1))
        wide = rng.integers(0, n_markets)
        half_spread[wide] = 0.07  # one rung with a wide book
        half = half_spread + 0.02 * frac
        bid = np.clip(np.floor((observed - half) * 100), 0, 99).astype(np.int64)
        ask = np.clip(np.ceil((observed + half) * 100), 1, 100).astype(np.int64)
        ask = np.where(ask <= bid, bid + 1, ask)
        one_sided = rng.random(fair.shape)
        bid = np.where(one_sided < 0.02, 0, bid)  # no bid
        ask = np.where((one_sided >= 0.02) & (one_sided < 0.04), 100, ask)  # no ask

        intensity = spec.liquidity * (0.15 + 1.6 * (1.0 - frac) ** 2) * 4 * observed * (1 - observed) + 0.02
        volume = rng.poisson(intensity).astype(np.int64)
        outer = 0 if n_markets < 3 else (n_markets - 1 if fair[-1].mean() < fair[0].mean() else 0)
        volume[outer] = 0  # a rung that never trades
        last = np.clip(np.rint(observed * 100), np.maximum(bid, 1), np.minimum(ask, 99)).astype(np.int64)
        last = np.where(volume > 0, last, -1)
        open_interest = np.floor(np.cumsum(volume, axis=1) * 0.7).astype(np.int64)
        return bid, ask, last, volume, open_interest


def format_strike(strike: float, spec: SeriesSpec) -> str:
    """A strike as ticker and subtitle text: 0.4, 150000, or 3.00 where the series keeps its decimals."""
    if spec.decimals == 0:
        return str(int(round(strike)))
    text = f"{strike:.{spec.decimals}f}"
    return text.rstrip("0").rstrip(".") if spec.strike_text == "trimmed" else text


def format_value(value: float, spec: SeriesSpec) -> str:
    """A released value at the agency's precision (the market's expiration_value)."""
    if spec.decimals == 0:
        return str(int(round(value)))
    return f"{value:.{spec.decimals}f}"
