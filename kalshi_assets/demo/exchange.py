"""The embedded demo exchange: a deterministic, seeded Kalshi history in Kalshi's exact wire format.

Six macro series (CPI, unemployment, payrolls, GDP, the FOMC upper-bound ladder and a mutually
exclusive FOMC decision market), about two years of events ending at `DEMO_END`, hourly candlesticks
whose implied distribution drifts toward the released value, settlement on the first print, and later
vintages that revise GDP and payrolls. The warts of real data are on purpose: noisy rungs that break
monotonicity, wide and one-sided books, hours without trades, one rung per event that never trades,
and the old `CPI-`/`FED-`/`PAYROLLS-` event tickers inside the renamed series.

Every object is generated from `(seed, ticker)` alone, so any event can be rebuilt on demand without
building the others; `scale` adds replica series (`KXCPIR2`, ...) with their own values for benchmarks.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property, lru_cache

import numpy as np
from scipy.special import ndtr, ndtri

from kalshi_assets.demo import calendar
from kalshi_assets.demo.keys import DEMO_API_KEY_ID, demo_key_pair  # noqa: F401  (re-exported for the server)

DEMO_END = datetime(2026, 11, 1, tzinfo=UTC)
DEMO_START = date(2024, 10, 1)
# Events listed after this day use the KX-prefixed tickers; earlier ones keep the old names.
RENAME_DAY = date(2025, 1, 1)
_HOUR = 3600
# The demo's books show a favorite-longshot bias (quoted p = f^g / (f^g + (1-f)^g) for fair value f):
# a 5% event trades near 11 cents, a 95% favorite near 89. Such a bias is reported for Kalshi and for
# betting markets generally; it is the inefficiency the demo's walk-forward can find. g = 1 is fair.
FAVORITE_LONGSHOT_GAMMA = 0.7
# <event>-T<strike> (strikes may be negative: KXCPI-25MAR-T-0.1) or <event>-<decision bin>.
_MARKET_TICKER = re.compile(r"^(?P<event>.+?)-(?P<suffix>T-?[0-9.]+|C50|C25|H0|H25)$")
_TRADE_NAMESPACE = uuid.UUID("6f1c7f8e-52a4-4a52-9d39-0a6b2f1d2c11")

# Fixed-point strings for every cent, built once: formatting is the hot path of candle generation.
_DOLLARS = [f"{c / 100:.4f}" for c in range(101)]


def dollars(cents: int) -> str:
    return _DOLLARS[cents]


def count_fp(count: float) -> str:
    return f"{count:.2f}"


def iso(ts: datetime | float) -> str:
    if not isinstance(ts, datetime):
        ts = datetime.fromtimestamp(ts, tz=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stable_int(*parts: object) -> int:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(_stable_int(*parts))


@dataclass(frozen=True)
class SeriesSpec:
    """How one demo series behaves: its calendar, value process and ladder."""

    base: str
    old_prefix: str | None
    title: str
    frequency: str
    releases: Callable[[date, date], list[calendar.Release]]
    open_days: int
    grid: float  # the grid released values sit on
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


SERIES_SPECS: dict[str, SeriesSpec] = {
    spec.base: spec
    for spec in (
        SeriesSpec("KXCPI", "CPI", "CPI month-over-month", "monthly", calendar.cpi_releases, 24, 0.1, 0.14,
                   0.05, 0.1, 3, 4, 40.0, "%", 1, "Bureau of Labor Statistics", "https://www.bls.gov/cpi/"),
        SeriesSpec("KXU3", None, "Unemployment rate", "monthly", calendar.jobs_releases, 24, 0.1, 0.12, 0.05,
                   0.1, 3, 3, 25.0, "%", 1, "Bureau of Labor Statistics", "https://www.bls.gov/cps/"),
        SeriesSpec("KXPAYROLLS", "PAYROLLS", "Nonfarm payrolls", "monthly", calendar.jobs_releases, 24, 1000.0,
                   60000.0, 25000.0, 25000.0, 4, 4, 30.0, "", 0, "Bureau of Labor Statistics",
                   "https://www.bls.gov/ces/"),
        SeriesSpec("KXGDP", None, "GDP growth, advance estimate", "quarterly", calendar.gdp_releases, 35, 0.1,
                   0.9, 0.35, 0.5, 4, 4, 30.0, "%", 1, "Bureau of Economic Analysis", "https://www.bea.gov/"),
        SeriesSpec("KXFED", "FED", "Fed funds upper bound", "custom", calendar.fomc_releases, 42, 0.25, 0.16,
                   0.04, 0.25, 3, 1, 60.0, "%", 2, "Federal Reserve", "https://www.federalreserve.gov/"),
        SeriesSpec("KXFEDDECISION", None, "FOMC rate decision", "custom", calendar.fomc_releases, 42, 0.25,
                   0.16, 0.04, 0.25, 0, 0, 60.0, "bps", 0, "Federal Reserve", "https://www.federalreserve.gov/"),
    )
}

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


class DemoExchange:
    """A deterministic Kalshi history. Methods return the API's wire objects (dicts) exactly."""

    def __init__(self, seed: int = 7, scale: int = 1, end: datetime = DEMO_END) -> None:
        if scale < 1:
            raise ValueError(f"scale must be >= 1, got {scale}")
        self.seed = seed
        self.scale = scale
        self.now = end
        self._event_cache = lru_cache(maxsize=512)(self._build_event)

    # ---------------------------------------------------------------- catalogue

    @cached_property
    def series_tickers(self) -> tuple[str, ...]:
        tickers = []
        for replica in range(1, self.scale + 1):
            for base in SERIES_SPECS:
                tickers.append(base if replica == 1 else f"{base}R{replica}")
        return tuple(tickers)

    def _spec(self, series_ticker: str) -> tuple[SeriesSpec, int]:
        """The spec and replica number of a series (replicas are named <base>R<n>)."""
        if series_ticker in self.series_tickers:
            for base, spec in SERIES_SPECS.items():
                if series_ticker == base:
                    return spec, 1
                suffix = series_ticker[len(base) + 1:]
                if series_ticker.startswith(base + "R") and suffix.isdigit():
                    return spec, int(suffix)
        raise KeyError(f"unknown series {series_ticker!r}")

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
        values: dict[str, float] = {}
        if spec.base == "KXCPI":
            x = 0.25
            for r in releases:
                x = 0.25 + 0.45 * (x - 0.25) + rng.normal(0, 0.12)
                values[r.period_code] = round(x, 1)
        elif spec.base == "KXU3":
            x = 4.1
            for r in releases:
                x = float(np.clip(x + rng.normal(0, 0.08), 3.4, 5.6))
                values[r.period_code] = round(x, 1)
        elif spec.base == "KXPAYROLLS":
            for r in releases:
                values[r.period_code] = float(round(rng.normal(140000, 70000), -3))
        elif spec.base == "KXGDP":
            for r in releases:
                values[r.period_code] = round(float(rng.normal(2.0, 1.4)), 1)
        else:  # the FOMC series share one rate path per replica
            path = self._rate_path(replica)
            for r in releases:
                before, after = path[r.period_code]
                values[r.period_code] = after if spec.base == "KXFED" else round((after - before) * 10000) / 100
        return values

    @lru_cache(maxsize=16)  # noqa: B019
    def _rate_path(self, replica: int) -> dict[str, tuple[float, float]]:
        """period code -> (upper bound before, upper bound after) for each FOMC meeting."""
        rng = _rng(self.seed, "fomc", replica)
        rate, path = 5.50, {}
        moves = np.array([-0.50, -0.25, 0.0, 0.25])
        for release in calendar.fomc_releases(date(2024, 1, 1), (self.now + timedelta(days=45)).date()):
            move = float(rng.choice(moves, p=[0.07, 0.38, 0.47, 0.08]))
            if rate + move < 0.25:
                move = 0.0
            path[release.period_code] = (rate, round(rate + move, 2))
            rate = round(rate + move, 2)
        return path

    # ---------------------------------------------------------------- building one event

    def _build_event(self, event_ticker: str) -> DemoEvent:
        series_ticker, release = self._catalogue[event_ticker]
        spec, replica = self._spec(series_ticker)
        rng = _rng(self.seed, "event", event_ticker)
        truth = self._values(series_ticker)[release.period_code]
        previous_rate = None
        if spec.base in ("KXFED", "KXFEDDECISION"):
            previous_rate = self._rate_path(replica)[release.period_code][0]
        # The latent variable the book prices: the released value, or for FOMC the upper bound.
        latent_truth = truth if spec.base != "KXFEDDECISION" else previous_rate + truth / 100.0
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
        mean = latent_truth + end_error + (prior_mean - latent_truth - end_error) * frac**0.7 + (
            bridge * spec.prior_sd * 0.35
        )
        sd = spec.final_sd + (spec.prior_sd - spec.final_sd) * np.sqrt(frac)

        tickers, strike_types, floors, caps, subs, fair = self._ladder(
            event_ticker, spec, latent_truth, prior_mean, previous_rate, mean, sd
        )
        bid, ask, last, volume, oi = self._book(rng, spec, fair, frac)
        return DemoEvent(
            event_ticker=event_ticker, series_ticker=series_ticker, spec=spec, release=release,
            open_time=open_time, close_time=close_time, first_print=truth, previous_rate=previous_rate,
            market_tickers=tuple(tickers), strike_types=tuple(strike_types), floors=tuple(floors),
            caps=tuple(caps), sub_titles=tuple(subs), hours=hours, mean=mean, sd=sd, bid_cents=bid,
            ask_cents=ask, last_cents=last, volume=volume, open_interest=oi,
        )

    def _ladder(self, event_ticker, spec, latent_truth, prior_mean, previous_rate, mean, sd):
        """Markets of an event and their fair YES prices per hour, shape (markets, hours)."""
        half_grid = spec.grid / 2
        if spec.base == "KXFEDDECISION":
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
        if spec.base == "KXFED":
            center = previous_rate
        else:
            center = round(prior_mean / spec.strike_step) * spec.strike_step
        strikes = [center + i * spec.strike_step for i in range(-spec.rungs_below, spec.rungs_above + 1)]
        strikes = [round(k, 4) for k in strikes]
        tickers = [f"{event_ticker}-T{_format_strike(k, spec)}" for k in strikes]
        # "Above k" on a discrete grid: P(X > k) = P(X >= k + grid) ~ 1 - Phi((k + grid/2 - mean) / sd).
        fair = np.vstack([1.0 - ndtr((k + half_grid - mean) / sd) for k in strikes])
        subs = [f"Above {_format_strike(k, spec)}{spec.unit}" for k in strikes]
        return tickers, ["greater"] * len(strikes), strikes, [None] * len(strikes), subs, fair

    @staticmethod
    def _book(rng: np.random.Generator, spec: SeriesSpec, fair: np.ndarray, frac: np.ndarray):
        """Hourly bid/ask/last/volume/open interest in cents and contracts for a ladder."""
        n_markets, n_hours = fair.shape
        # Favorite-longshot bias: quotes lean toward 0.5 (longshots rich, favorites cheap).
        leaned = fair**FAVORITE_LONGSHOT_GAMMA / (fair**FAVORITE_LONGSHOT_GAMMA + (1 - fair) ** FAVORITE_LONGSHOT_GAMMA)
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

    # ---------------------------------------------------------------- wire objects

    def series_list(self) -> list[dict]:
        return [self.series(ticker) for ticker in self.series_tickers]

    def series(self, ticker: str) -> dict:
        spec, replica = self._spec(ticker)
        title = spec.title if replica == 1 else f"{spec.title} (replica {replica})"
        return {
            "ticker": ticker,
            "frequency": spec.frequency,
            "title": title,
            "category": "Economics",
            "tags": ["Economics", spec.title],
            "settlement_sources": [{"name": spec.source_name, "url": spec.source_url}],
            "contract_url": f"https://demo.invalid/contracts/{ticker}.pdf",
            "contract_terms_url": f"https://demo.invalid/terms/{ticker}.pdf",
            "fee_type": "quadratic",
            "fee_multiplier": 1,
            "additional_prohibitions": [],
            "product_metadata": None,
        }

    def events(self, series_ticker: str | None = None, status: str | None = None) -> list[dict]:
        events = [self.event(ticker) for ticker in self.event_tickers(series_ticker)]
        if status is not None:
            events = [e for e in events if self._event_status(e["event_ticker"]) == status]
        return events

    def _event_status(self, event_ticker: str) -> str:
        _, release = self._catalogue[event_ticker]
        return "open" if release.release_time > self.now else "settled"

    def event(self, event_ticker: str) -> dict:
        series_ticker, release = self._catalogue.get(event_ticker, (None, None))
        if release is None:
            raise KeyError(f"unknown event {event_ticker!r}")
        spec, _ = self._spec(series_ticker)
        return {
            "event_ticker": event_ticker,
            "series_ticker": series_ticker,
            "title": f"{spec.title} {release.period_code}",
            "sub_title": f"Released {release.release_time:%b %d, %Y %H:%M} UTC",
            "collateral_return_type": "MECNET" if spec.base == "KXFEDDECISION" else "",
            "mutually_exclusive": spec.base == "KXFEDDECISION",
            "category": "Economics",
            "strike_date": iso(release.release_time),
            "available_on_brokers": False,
            "product_metadata": None,
        }

    def markets(
        self,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        status: str | None = None,
        tickers: list[str] | None = None,
    ) -> list[dict]:
        if tickers:
            wanted = set(tickers)
            events = sorted({self._event_of_market(t) for t in wanted if self._event_of_market(t)})
        elif event_ticker is not None:
            events = [event_ticker] if event_ticker in self._catalogue else []
        else:
            events = self.event_tickers(series_ticker)
        out = []
        for ticker in events:
            event = self.demo_event(ticker)
            for i in range(len(event.market_tickers)):
                market = self._market_object(event, i)
                if tickers and market["ticker"] not in tickers:
                    continue
                if status is not None and _status_filter(market["status"]) != status:
                    continue
                out.append(market)
        return out

    def _event_of_market(self, market_ticker: str) -> str | None:
        match = _MARKET_TICKER.match(market_ticker)
        if match is None or match.group("event") not in self._catalogue:
            return None
        return match.group("event")

    def market(self, ticker: str) -> dict:
        event_ticker = self._event_of_market(ticker)
        if event_ticker is None:
            raise KeyError(f"unknown market {ticker!r}")
        event = self.demo_event(event_ticker)
        if ticker not in event.market_tickers:
            raise KeyError(f"unknown market {ticker!r}")
        return self._market_object(event, event.market_tickers.index(ticker))

    def _settles_yes(self, event: DemoEvent, i: int) -> bool:
        value, floor, cap = event.first_print, event.floors[i], event.caps[i]
        if event.strike_types[i] == "between":
            return floor <= value <= cap
        return value > floor

    def _market_object(self, event: DemoEvent, i: int) -> dict:
        spec = event.spec
        n = event.hours.size
        bid = int(event.bid_cents[i, -1]) if n else 0
        ask = int(event.ask_cents[i, -1]) if n else 100
        prev_bid = int(event.bid_cents[i, -2]) if n > 1 else bid
        prev_ask = int(event.ask_cents[i, -2]) if n > 1 else ask
        traded = np.flatnonzero(event.last_cents[i] >= 0)
        last = int(event.last_cents[i, traded[-1]]) if traded.size else 0
        prev_last = int(event.last_cents[i, traded[-2]]) if traded.size > 1 else 0
        volume = int(event.volume[i].sum())
        volume_24h = int(event.volume[i, -24:].sum())
        oi = int(event.open_interest[i, -1]) if n else 0
        settled_at = event.release_time + timedelta(hours=2)
        if settled_at <= self.now:
            status = "finalized"
            result = "yes" if self._settles_yes(event, i) else "no"
            expiration_value = _format_value(event.first_print, spec)
        elif event.close_time <= self.now:
            status, result, expiration_value = "closed", "", ""
        else:
            status, result, expiration_value = "active", "", ""
        bid_size, ask_size = self._top_sizes(event, i)
        market = {
            "ticker": event.market_tickers[i],
            "event_ticker": event.event_ticker,
            "market_type": "binary",
            "title": f"{spec.title} {event.release.period_code}: {event.sub_titles[i]}",
            "subtitle": "",
            "yes_sub_title": event.sub_titles[i],
            "no_sub_title": event.sub_titles[i],
            "created_time": iso(event.open_time - timedelta(hours=1)),
            "updated_time": iso(event.open_time - timedelta(hours=1)),
            "open_time": iso(event.open_time),
            "close_time": iso(event.close_time),
            "expected_expiration_time": iso(event.release_time + timedelta(minutes=90)),
            "expiration_time": iso(event.release_time + timedelta(days=7)),
            "latest_expiration_time": iso(event.release_time + timedelta(days=7)),
            "settlement_timer_seconds": 1800,
            "status": status,
            "response_price_units": "usd_cent",
            "notional_value_dollars": "1.0000",
            "yes_bid_dollars": dollars(bid),
            "yes_ask_dollars": dollars(ask),
            "no_bid_dollars": dollars(100 - ask),
            "no_ask_dollars": dollars(100 - bid),
            "yes_bid_size_fp": count_fp(bid_size),
            "yes_ask_size_fp": count_fp(ask_size),
            "last_price_dollars": dollars(last),
            "previous_yes_bid_dollars": dollars(prev_bid),
            "previous_yes_ask_dollars": dollars(prev_ask),
            "previous_price_dollars": dollars(prev_last),
            "volume_fp": count_fp(volume),
            "volume_24h_fp": count_fp(volume_24h),
            "liquidity_dollars": f"{(bid_size * bid + ask_size * (100 - ask)) / 100:.4f}",
            "open_interest_fp": count_fp(oi),
            "result": result,
            "can_close_early": False,
            "fractional_trading_enabled": False,
            "expiration_value": expiration_value,
            "tick_size": 1,
            "strike_type": event.strike_types[i],
            "floor_strike": event.floors[i],
            "rules_primary": _rules(event, i),
            "rules_secondary": "",
            "price_level_structure": "linear_cent",
            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        }
        if event.caps[i] is not None:
            market["cap_strike"] = event.caps[i]
        if status == "finalized":
            market["settlement_value_dollars"] = "1.0000" if result == "yes" else "0.0000"
            market["settlement_ts"] = iso(settled_at)
        return market

    def _top_sizes(self, event: DemoEvent, i: int) -> tuple[int, int]:
        rng = _rng(self.seed, "sizes", event.market_tickers[i])
        bid_size, ask_size = (int(x) for x in rng.integers(5, 400, 2))
        if event.close_time <= self.now or not event.hours.size:
            return 0, 0
        no_bid = event.bid_cents[i, -1] == 0
        no_ask = event.ask_cents[i, -1] == 100
        return (0 if no_bid else bid_size), (0 if no_ask else ask_size)

    def candlesticks(self, ticker: str, start_ts: int, end_ts: int, period_interval: int = 60) -> list[dict]:
        """Hourly candles with start_ts < end_period_ts <= end_ts (the API's inclusive end)."""
        if period_interval != 60:
            raise ValueError("the demo exchange keeps hourly candles only (period_interval=60)")
        event_ticker = self._event_of_market(ticker)
        if event_ticker is None:
            raise KeyError(f"unknown market {ticker!r}")
        event = self.demo_event(event_ticker)
        i = event.market_tickers.index(ticker)
        lo, hi = np.searchsorted(event.hours, [start_ts, end_ts], side="right")
        out = []
        bid, ask, last = event.bid_cents[i], event.ask_cents[i], event.last_cents[i]
        volume, oi = event.volume[i], event.open_interest[i]
        traded_before = np.flatnonzero(last[:lo] >= 0)
        previous = int(last[traded_before[-1]]) if traded_before.size else None
        for j in range(lo, hi):
            b, a = int(bid[j]), int(ask[j])
            pb = int(bid[j - 1]) if j else b
            pa = int(ask[j - 1]) if j else a
            trade = int(last[j])
            if trade >= 0:
                price = {
                    "open_dollars": dollars(trade), "low_dollars": dollars(trade), "high_dollars": dollars(trade),
                    "close_dollars": dollars(trade), "mean_dollars": dollars(trade),
                    "previous_dollars": dollars(previous) if previous is not None else None,
                    "min_dollars": dollars(trade), "max_dollars": dollars(trade),
                }
                previous = trade
            else:
                price = {
                    "open_dollars": None, "low_dollars": None, "high_dollars": None, "close_dollars": None,
                    "mean_dollars": None,
                    "previous_dollars": dollars(previous) if previous is not None else None,
                    "min_dollars": None, "max_dollars": None,
                }
            out.append({
                "end_period_ts": int(event.hours[j]),
                "yes_bid": {"open_dollars": dollars(pb), "low_dollars": dollars(min(pb, b)),
                            "high_dollars": dollars(max(pb, b)), "close_dollars": dollars(b)},
                "yes_ask": {"open_dollars": dollars(pa), "low_dollars": dollars(min(pa, a)),
                            "high_dollars": dollars(max(pa, a)), "close_dollars": dollars(a)},
                "price": price,
                "volume_fp": count_fp(int(volume[j])),
                "open_interest_fp": count_fp(int(oi[j])),
            })
        return out

    def market_tickers_active(self, start_ts: int, end_ts: int) -> list[str]:
        """Markets with at least one candle in (start_ts, end_ts]: the batch a day's ingestion asks for."""
        out = []
        for event_ticker, (_, release) in self._catalogue.items():
            spec, _ = self._spec(self._catalogue[event_ticker][0])
            opened = (release.release_time - timedelta(days=spec.open_days)).timestamp()
            if opened < end_ts and release.release_time.timestamp() > start_ts - _HOUR:
                out.extend(self.demo_event(event_ticker).market_tickers)
        return sorted(out)

    def trades(self, ticker: str | None = None, min_ts: int | None = None, max_ts: int | None = None) -> list[dict]:
        """Individual trades, newest first like the API; the hourly volume split into a few prints."""
        if ticker is None:
            raise ValueError("the demo exchange lists trades per market: pass ticker")
        event_ticker = self._event_of_market(ticker)
        if event_ticker is None:
            raise KeyError(f"unknown market {ticker!r}")
        event = self.demo_event(event_ticker)
        i = event.market_tickers.index(ticker)
        out = []
        for j in np.flatnonzero(event.volume[i] > 0):
            hour_end = int(event.hours[j])
            volume, price = int(event.volume[i, j]), int(event.last_cents[i, j])
            prints = min(volume, 3)
            sizes = [volume // prints + (1 if k < volume % prints else 0) for k in range(prints)]
            for k, size in enumerate(sizes):
                created = hour_end - _HOUR + (k + 1) * _HOUR // (prints + 1)
                if (min_ts is not None and created < min_ts) or (max_ts is not None and created > max_ts):
                    continue
                out.append({
                    "trade_id": str(uuid.uuid5(_TRADE_NAMESPACE, f"{ticker}|{hour_end}|{k}")),
                    "ticker": ticker,
                    "count_fp": count_fp(size),
                    "yes_price_dollars": dollars(price),
                    "no_price_dollars": dollars(100 - price),
                    "taker_side": "yes" if k % 2 == 0 else "no",
                    "created_time": iso(created),
                })
        out.sort(key=lambda t: t["created_time"], reverse=True)
        return out

    def orderbook(self, ticker: str, depth: int | None = None) -> dict:
        """The book at `now`: YES bids and NO bids (ascending), empty once the market has closed."""
        market = self.market(ticker)
        event = self.demo_event(market["event_ticker"])
        i = event.market_tickers.index(ticker)
        yes_levels: list[list[str]] = []
        no_levels: list[list[str]] = []
        if market["status"] == "active" and event.hours.size:
            rng = _rng(self.seed, "book", ticker)
            bid, ask = int(event.bid_cents[i, -1]), int(event.ask_cents[i, -1])
            bid_size, ask_size = self._top_sizes(event, i)
            if bid > 0:
                for level in range(3):
                    if bid - level >= 1:
                        size = bid_size if level == 0 else int(rng.integers(10, 600))
                        yes_levels.append([dollars(bid - level), count_fp(size)])
            if ask < 100:
                for level in range(3):
                    if 100 - ask - level >= 1:
                        size = ask_size if level == 0 else int(rng.integers(10, 600))
                        no_levels.append([dollars(100 - ask - level), count_fp(size)])
        yes_levels.sort(key=lambda level: level[0])
        no_levels.sort(key=lambda level: level[0])
        if depth:
            yes_levels, no_levels = yes_levels[-depth:], no_levels[-depth:]
        return {"orderbook_fp": {"yes_dollars": yes_levels, "no_dollars": no_levels}}

    def forecast_percentile_history(
        self, event_ticker: str, percentiles: list[int], start_ts: int, end_ts: int, period_interval: int = 60
    ) -> list[dict]:
        """Kalshi-style forecast percentiles from the book's own latent distribution."""
        if period_interval not in (60, 1440):
            raise ValueError("the demo exchange serves period_interval 60 or 1440")
        if len(percentiles) > 10 or any(not 0 <= p <= 10000 for p in percentiles):
            raise ValueError("at most 10 percentiles, each in 0..10000")
        event = self.demo_event(event_ticker)
        spec = event.spec
        step = period_interval * 60
        out = []
        for j in np.flatnonzero((event.hours > start_ts) & (event.hours <= end_ts)):
            if int(event.hours[j]) % step:
                continue
            points = []
            for p in percentiles:
                z = float(ndtri(min(max(p / 10000, 1e-4), 1 - 1e-4)))
                raw = float(event.mean[j] + z * event.sd[j])
                if spec.base == "KXFEDDECISION":
                    raw = (raw - event.previous_rate) * 100.0
                grid = 25.0 if spec.base == "KXFEDDECISION" else spec.grid
                value = round(round(raw / grid) * grid, 4)
                points.append({
                    "percentile": int(p),
                    "raw_numerical_forecast": raw,
                    "numerical_forecast": value,
                    "formatted_forecast": f"{_format_value(value, spec)}{spec.unit}",
                })
            out.append({"event_ticker": event_ticker, "end_period_ts": int(event.hours[j]),
                        "period_interval": period_interval, "percentile_points": points})
        return out

    # ---------------------------------------------------------------- vintages (first prints and revisions)

    def vintages(self) -> list[dict]:
        """Every published vintage known by `now`: the first print at release, then revisions.

        GDP gets second and third estimates a month apart; payrolls are revised with the next two
        employment reports. Each published revision changes the value, so an event's latest value
        differs from its first print exactly when it has a revision.
        """
        out = []
        for event_ticker, (series_ticker, release) in self._catalogue.items():
            if release.release_time > self.now:
                continue
            spec, _ = self._spec(series_ticker)
            first = self._values(series_ticker)[release.period_code]
            rows = [(release.release_time, first)]
            if spec.base in ("KXGDP", "KXPAYROLLS"):
                rng = _rng(self.seed, "revisions", event_ticker)
                size = 0.3 if spec.base == "KXGDP" else 30000.0
                value = first
                for step in (1, 2):
                    when = release.release_time + timedelta(days=35 * step if spec.base == "KXPAYROLLS" else 30 * step)
                    if when > self.now or rng.random() < 0.3:
                        continue
                    revised = round(round((value + rng.normal(0, size)) / spec.grid) * spec.grid, 4)
                    if revised in (value, first):
                        revised = round(value + spec.grid * (1 if rng.random() < 0.5 else -1), 4)
                        if revised == first:
                            revised = round(revised + spec.grid, 4)
                    rows.append((when, revised))
                    value = revised
            for number, (when, value) in enumerate(rows, start=1):
                out.append({
                    "event_ticker": event_ticker,
                    "series_ticker": series_ticker,
                    "reference_period": release.reference_period.isoformat(),
                    "vintage_time": iso(when),
                    "vintage": number,
                    "value": value,
                })
        out.sort(key=lambda v: (v["vintage_time"], v["event_ticker"]))
        return out


def _status_filter(market_status: str) -> str:
    """Market status words -> the words the /markets `status` filter uses."""
    return {"active": "open", "closed": "closed", "finalized": "settled", "determined": "settled",
            "initialized": "unopened", "inactive": "paused"}.get(market_status, market_status)


def _format_strike(strike: float, spec: SeriesSpec) -> str:
    if spec.decimals == 0:
        return str(int(round(strike)))
    text = f"{strike:.{spec.decimals}f}"
    return text.rstrip("0").rstrip(".") if spec.base != "KXFED" else text


def _format_value(value: float, spec: SeriesSpec) -> str:
    if spec.decimals == 0:
        return str(int(round(value)))
    return f"{value:.{spec.decimals}f}"


def _rules(event: DemoEvent, i: int) -> str:
    spec = event.spec
    if event.strike_types[i] == "between":
        return (f"If the FOMC changes the upper bound of the target range by between {event.floors[i]:g} and "
                f"{event.caps[i]:g} basis points at the meeting of {event.release.reference_period}, "
                "the market resolves to Yes.")
    return (f"If the first official release of {spec.title} for {event.release.period_code} is more than "
            f"{_format_strike(event.floors[i], spec)}{spec.unit}, then the market resolves to Yes.")
