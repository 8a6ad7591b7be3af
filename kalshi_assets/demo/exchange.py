"""The embedded demo exchange in Kalshi's exact wire format, with Kalshi's historical tier.

`DemoExchange` turns the simulated history (`simulation.py`) into the API's objects: series, events,
markets, hourly candlesticks (current and historical shapes), trades, order books, forecast percentiles
and the published vintages. Since March 2026 Kalshi serves markets that settled before a cutoff, with
their candles, and trades created before it, only under `/historical/*`; the exchange knows its own
cutoff (`historical_cutoff`, by default 90 days before its `now`, or $KALSHI_DEMO_HISTORICAL_CUTOFF
where the resource and the CLI read it), and its list methods take `tier="live"` or `"historical"` to
answer as one tier does. Without a tier they answer for the whole history.
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
from scipy.special import ndtri

from kalshi_assets.catalog import Catalog
from kalshi_assets.demo.simulation import (  # noqa: F401  (DEMO_START re-exported: benchmarks/bench_distribution.py)
    DEMO_END,
    DEMO_START,
    DemoEvent,
    DemoSimulation,
    _rng,
    format_strike,
    format_value,
)
from kalshi_assets.demo.tape import _DOLLARS, count_fp, dollars, hourly_candles, hourly_prints, trade_ids

Tier = Literal["live", "historical"]
TIERS: tuple[Tier, ...] = ("live", "historical")
HISTORICAL_CUTOFF_ENV = "KALSHI_DEMO_HISTORICAL_CUTOFF"
# Kalshi's cutoff moves with time; the demo's default sits this far before its `now`, inside the history.
DEFAULT_HISTORICAL_LAG = timedelta(days=90)
# A market settles this long after its release (status finalized, result known).
SETTLEMENT_DELAY = timedelta(hours=2)
_HOUR = 3600
# <event>-T<strike> (strikes may be negative: KXCPI-25MAR-T-0.1) or <event>-<decision bin>.
_MARKET_TICKER = re.compile(r"^(?P<event>.+?)-(?P<suffix>T-?[0-9.]+|C50|C25|H0|H25)$")

def iso(ts: datetime | float) -> str:
    if type(ts) is int:  # the hot path (a trade's created_time): no datetime object needed
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
    if not isinstance(ts, datetime):
        ts = datetime.fromtimestamp(ts, tz=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_cutoff(text: str, *, what: str = HISTORICAL_CUTOFF_ENV) -> datetime:
    """An ISO date or UTC time (`2026-08-01`, `2026-08-01T12:00Z`) as an aware UTC datetime."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not an ISO-8601 date or time (2026-08-01T00:00Z)") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def cutoff_from_environment() -> datetime | None:
    """$KALSHI_DEMO_HISTORICAL_CUTOFF as a UTC time, or None when it is not set."""
    text = os.environ.get(HISTORICAL_CUTOFF_ENV, "").strip()
    return parse_cutoff(text) if text else None


class DemoExchange(DemoSimulation):
    """A deterministic Kalshi history. Methods return the API's wire objects (dicts) exactly."""

    def __init__(
        self,
        seed: int = 7,
        scale: int = 1,
        end: datetime = DEMO_END,
        *,
        historical_cutoff: datetime | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        super().__init__(seed=seed, scale=scale, end=end, catalog=catalog)
        cutoff = historical_cutoff if historical_cutoff is not None else end - DEFAULT_HISTORICAL_LAG
        if cutoff.tzinfo is None:
            raise ValueError(f"historical_cutoff {cutoff.isoformat()} has no timezone; give a UTC time")
        # Whole seconds: the API's time filters are Unix seconds.
        self.historical_cutoff = cutoff.astimezone(UTC).replace(microsecond=0)

    # ---------------------------------------------------------------- the historical tier

    def historical_cutoffs(self) -> dict:
        """The GET /historical/cutoff answer: one cutoff for markets, trades and orders alike."""
        stamp = iso(self.historical_cutoff)
        return {"market_settled_ts": stamp, "trades_created_ts": stamp, "orders_updated_ts": stamp}

    def settled_at(self, event: DemoEvent) -> datetime:
        return event.release_time + SETTLEMENT_DELAY

    def event_archived(self, event_ticker: str) -> bool:
        """Whether an event's markets settled before the cutoff (served, with candles, only as historical)."""
        settled = self.settled_at(self.demo_event(event_ticker))
        return settled <= self.now and settled < self.historical_cutoff

    def market_tier(self, ticker: str) -> Tier:
        event_ticker = self._event_of_market(ticker)
        if event_ticker is None:
            raise KeyError(f"unknown market {ticker!r}")
        return "historical" if self.event_archived(event_ticker) else "live"

    def _trade_window(self, min_ts: int | None, max_ts: int | None, tier: Tier | None) -> tuple[int | None, int | None]:
        """Narrow a trade query to one tier: trades created before the cutoff are historical."""
        cutoff = int(self.historical_cutoff.timestamp())
        if tier == "historical":
            max_ts = cutoff - 1 if max_ts is None else min(max_ts, cutoff - 1)
        elif tier == "live":
            min_ts = cutoff if min_ts is None else max(min_ts, cutoff)
        return min_ts, max_ts

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
            "collateral_return_type": "MECNET" if spec.decision_bins else "",
            "mutually_exclusive": spec.decision_bins,
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
        tier: Tier | None = None,
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
            if tier is not None and self.event_archived(ticker) != (tier == "historical"):
                continue
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
        settled_at = self.settled_at(event)
        if settled_at <= self.now:
            status = "finalized"
            result = "yes" if self._settles_yes(event, i) else "no"
            expiration_value = format_value(event.first_print, spec)
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

    def candlesticks(self, ticker: str, start_ts: int, end_ts: int, period_interval: int = 60, *,
                     historical: bool = False) -> list[dict]:
        """Hourly candles with start_ts <= end_period_ts <= end_ts (both ends inclusive, as the API says);
        with `historical`, in the historical tier's shape (what `historical_candle` makes of each)."""
        if period_interval != 60:
            raise ValueError("the demo exchange keeps hourly candles only (period_interval=60)")
        event_ticker = self._event_of_market(ticker)
        if event_ticker is None:
            raise KeyError(f"unknown market {ticker!r}")
        event = self.demo_event(event_ticker)
        i = event.market_tickers.index(ticker)
        lo = int(np.searchsorted(event.hours, start_ts, side="left"))
        hi = int(np.searchsorted(event.hours, end_ts, side="right"))
        if hi <= lo:
            return []
        return hourly_candles(event.hours, event.bid_cents[i], event.ask_cents[i], event.last_cents[i],
                        event.volume[i], event.open_interest[i], lo, hi, historical=historical)

    def market_tickers_active(self, start_ts: int, end_ts: int) -> list[str]:
        """Markets with at least one candle in (start_ts, end_ts]: the batch a day's ingestion asks for."""
        out = []
        for event_ticker, (_, release) in self._catalogue.items():
            spec, _ = self._spec(self._catalogue[event_ticker][0])
            opened = (release.release_time - timedelta(days=spec.open_days)).timestamp()
            if opened < end_ts and release.release_time.timestamp() > start_ts - _HOUR:
                out.extend(self.demo_event(event_ticker).market_tickers)
        return sorted(out)

    def trades(
        self, ticker: str | None = None, min_ts: int | None = None, max_ts: int | None = None,
        tier: Tier | None = None,
    ) -> list[dict]:
        """Individual trades with min_ts <= created <= max_ts, newest first like the API; the hourly
        volume split into a few prints. `tier` keeps the trades one tier serves."""
        if ticker is None:
            raise ValueError("the demo exchange lists trades per market: pass ticker")
        min_ts, max_ts = self._trade_window(min_ts, max_ts, tier)
        event_ticker = self._event_of_market(ticker)
        if event_ticker is None:
            raise KeyError(f"unknown market {ticker!r}")
        event = self.demo_event(event_ticker)
        i = event.market_tickers.index(ticker)
        # Every print of an hour is created inside (hour_end - 1 h, hour_end): hours that cannot reach the
        # window are skipped before any trade is built; the window is then applied per print.
        traded = np.flatnonzero(event.volume[i] > 0)
        if min_ts is not None:
            traded = traded[event.hours[traded] > min_ts]
        if max_ts is not None:
            traded = traded[event.hours[traded] - _HOUR < max_ts]
        hour_end, created, size, price, k = hourly_prints(
            event.hours[traded], event.volume[i, traded], event.last_cents[i, traded], min_ts, max_ts
        )
        ids = trade_ids(ticker, hour_end, k)
        stamps = np.char.add(np.datetime_as_string(created.astype("datetime64[s]"), unit="s"), "Z").tolist()
        return [
            {
                "trade_id": trade_id,
                "ticker": ticker,
                "count_fp": f"{n}.00",
                "yes_price_dollars": _DOLLARS[cents],
                "no_price_dollars": _DOLLARS[100 - cents],
                "taker_side": "yes" if j % 2 == 0 else "no",
                "created_time": stamp,
            }
            for trade_id, n, cents, j, stamp in zip(ids, size.tolist(), price.tolist(), k.tolist(), stamps, strict=True)
        ]

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
        hours = np.flatnonzero((event.hours > start_ts) & (event.hours <= end_ts))
        hours = hours[event.hours[hours].astype(np.int64) % step == 0]
        # One z per percentile, every hour's raw values at once (the same float operations per value).
        z = np.array([float(ndtri(min(max(p / 10000, 1e-4), 1 - 1e-4))) for p in percentiles])
        raws = event.mean[hours][:, None] + z[None, :] * event.sd[hours][:, None]
        if spec.in_bps_change:
            raws = (raws - event.previous_rate) * 100.0
        grid = spec.grid * 100.0 if spec.in_bps_change else spec.grid
        out = []
        # A forecast is a whole number of grid steps: each step's value and text are made once per call.
        on_grid: dict[int, tuple[float, str]] = {}
        whole = [int(p) for p in percentiles]
        for hour, row in zip(event.hours[hours].tolist(), raws.tolist(), strict=True):
            points = []
            for p, raw in zip(whole, row, strict=True):
                steps = round(raw / grid)
                found = on_grid.get(steps)
                if found is None:
                    value = round(steps * grid, 4)
                    found = on_grid[steps] = (value, f"{format_value(value, spec)}{spec.unit}")
                points.append({
                    "percentile": p,
                    "raw_numerical_forecast": raw,
                    "numerical_forecast": found[0],
                    "formatted_forecast": found[1],
                })
            out.append({"event_ticker": event_ticker, "end_period_ts": int(hour),
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
            if spec.revisions is not None:
                rng = _rng(self.seed, "revisions", event_ticker)
                size, every_days = spec.revisions["size"], spec.revisions["every_days"]
                value = first
                for step in (1, 2):
                    when = release.release_time + timedelta(days=every_days * step)
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


def _rules(event: DemoEvent, i: int) -> str:
    spec = event.spec
    if event.strike_types[i] == "between":
        return (f"If the FOMC changes the upper bound of the target range by between {event.floors[i]:g} and "
                f"{event.caps[i]:g} basis points at the meeting of {event.release.reference_period}, "
                "the market resolves to Yes.")
    return (f"If the first official release of {spec.title} for {event.release.period_code} is more than "
            f"{format_strike(event.floors[i], spec)}{spec.unit}, then the market resolves to Yes.")
