"""Brokers: where an approved order goes. `PaperBroker` fills against a quoted book; `LiveBroker`
places orders on Kalshi through the signed client.

A broker answers `place(order) -> BrokerAnswer` or raises: `OrderRejected` when the venue refused the
order (duplicate id, market or exchange closed), or the Kalshi client's typed errors (the router
turns them into rejected or error results).

Paper fills (docs/METHODS.md section 6): a buy takes the asks (YES ask = 1 - NO bid) from the best up to
its limit price, never more than each level's displayed size; a sell hits the bids the same way. Each
level taken is one fill, charged Kalshi's taker fee ceil_to_cent(0.07 x C x P x (1 - P) x multiplier).

Live trading needs two switches: the trading resource's `mode: live` (the only path that builds a
LiveBroker) and the environment variable KALSHI_LIVE_TRADING=I_UNDERSTAND, which LiveBroker checks
itself on construction.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from kalshi_assets.analytics.walkforward import taker_fee
from kalshi_assets.kalshi.parse import parse_orderbook
from kalshi_assets.trading.orders import (
    ONE,
    PRICE_QUANTUM,
    REASON_DUPLICATE,
    REASON_EXCHANGE_CLOSED,
    REASON_MARKET_CLOSED,
    ZERO,
    Fill,
    Order,
    to_decimal,
)

LIVE_TRADING_ENV = "KALSHI_LIVE_TRADING"
LIVE_TRADING_CONFIRMATION = "I_UNDERSTAND"


class LiveTradingNotConfirmed(RuntimeError):
    """Live trading was asked for without the environment's confirmation."""


def require_live_confirmation(environ: Mapping[str, str] | None = None) -> None:
    """Raise unless the environment says KALSHI_LIVE_TRADING=I_UNDERSTAND."""
    env = os.environ if environ is None else environ
    if env.get(LIVE_TRADING_ENV) != LIVE_TRADING_CONFIRMATION:
        raise LiveTradingNotConfirmed(
            f"live trading places real orders with real money: set the trading resource's mode to 'live' AND "
            f"export {LIVE_TRADING_ENV}={LIVE_TRADING_CONFIRMATION} in the environment of the process that "
            f"trades. {LIVE_TRADING_ENV} is {'unset' if LIVE_TRADING_ENV not in env else 'set to another value'}; "
            f"refusing to build a LiveBroker."
        )


class OrderRejected(Exception):
    """The venue refused the order; `reason` is what the order's record says (a code, not prose)."""

    def __init__(self, reason: str, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.code = code
        self.status = status


@dataclass(frozen=True)
class BrokerAnswer:
    """The venue's answer to an accepted order."""

    exchange_order_id: str
    exchange_status: str  # executed, resting, canceled
    fills: tuple[Fill, ...]
    remaining_count: int  # contracts still resting (0 unless exchange_status is resting)
    raw: Mapping[str, Any] | None = None


class Broker(Protocol):
    mode: str

    def place(self, order: Order) -> BrokerAnswer: ...


# --- order books -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderBook:
    """Bids of both sides as (price, size), best last (Kalshi's ascending order)."""

    yes_bids: tuple[tuple[Decimal, int], ...]
    no_bids: tuple[tuple[Decimal, int], ...]

    @classmethod
    def from_levels(cls, yes: list[tuple[Any, Any]], no: list[tuple[Any, Any]]) -> OrderBook:
        def side(levels: list[tuple[Any, Any]], name: str) -> tuple[tuple[Decimal, int], ...]:
            out = []
            for price, size in levels:
                p = to_decimal(price, f"{name} bid price").quantize(PRICE_QUANTUM)
                n = int(to_decimal(size, f"{name} bid size"))  # whole contracts only
                if n > 0 and ZERO < p < ONE:
                    out.append((p, n))
            return tuple(sorted(out))

        return cls(side(yes, "yes"), side(no, "no"))

    def asks(self, side: str) -> list[tuple[Decimal, int]]:
        """The asks of `side`, best (lowest) first: the other side's bids, priced 1 - bid."""
        other = self.no_bids if side == "yes" else self.yes_bids
        return [(ONE - price, size) for price, size in reversed(other)]

    def bids(self, side: str) -> list[tuple[Decimal, int]]:
        """The bids of `side`, best (highest) first."""
        return list(reversed(self.yes_bids if side == "yes" else self.no_bids))

    def mid(self) -> Decimal | None:
        """The YES mid, when both a YES bid and a YES ask are shown."""
        if not self.yes_bids or not self.no_bids:
            return None
        return ((self.yes_bids[-1][0] + ONE - self.no_bids[-1][0]) / 2).quantize(PRICE_QUANTUM)


class BookSource(Protocol):
    def book(self, market_ticker: str) -> OrderBook: ...


class MarketDataBooks:
    """Order books from a MarketDataSource (the demo exchange at its now, or Kalshi's API)."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def book(self, market_ticker: str) -> OrderBook:
        parsed = parse_orderbook(self.source.orderbook(market_ticker), market_ticker)
        return OrderBook.from_levels(
            [(repr(p), s) for p, s in parsed["yes"]], [(repr(p), s) for p, s in parsed["no"]]
        )


class StaticBooks:
    """Fixed books per market (tests, what-if runs)."""

    def __init__(self, books: Mapping[str, OrderBook]) -> None:
        self.books = dict(books)

    def book(self, market_ticker: str) -> OrderBook:
        return self.books.get(market_ticker, OrderBook((), ()))


# --- paper -------------------------------------------------------------------------------------------


class PaperBroker:
    """Simulated execution against displayed books, with Kalshi's taker fee and duplicate refusal."""

    mode = "paper"

    def __init__(
        self,
        books: BookSource,
        *,
        fee_multipliers: Mapping[str, Decimal | float] | None = None,
        is_market_open: Callable[[str], bool] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.books = books
        self.fee_multipliers = {t: to_decimal(m, f"fee multiplier of {t}") for t, m in (fee_multipliers or {}).items()}
        self.is_market_open = is_market_open
        self.now = now
        self._placed: set[str] = set()  # client order ids this venue has seen, like the exchange's own
        # Contracts already taken per book level (market, which bids, bid price): the displayed book is a
        # snapshot, so orders placed through this broker together never take more than it showed.
        self._taken: dict[tuple[str, str, Decimal], int] = {}

    @staticmethod
    def _level_key(order: Order, price: Decimal) -> tuple[str, str, Decimal]:
        """The book level a trade at `price` takes: (market, which bids, bid price). A YES buy at a and a
        NO sell at 1 - a take the same NO bid, so they share what is left of it."""
        bids = "no" if (order.side == "yes") == (order.action == "buy") else "yes"
        return order.market_ticker, bids, ONE - price if order.action == "buy" else price

    def _matchable(self, order: Order, book: OrderBook) -> list[tuple[Decimal, int]]:
        if order.action == "buy":
            levels = [(p, n) for p, n in book.asks(order.side) if p <= order.limit_price]
        else:
            levels = [(p, n) for p, n in book.bids(order.side) if p >= order.limit_price]
        out = []
        for price, size in levels:
            left = size - self._taken.get(self._level_key(order, price), 0)
            if left > 0:
                out.append((price, left))
        return out

    def place(self, order: Order) -> BrokerAnswer:
        if order.client_order_id in self._placed:
            raise OrderRejected(
                REASON_DUPLICATE,
                f"an order with client_order_id {order.client_order_id} exists",
                code="order_already_exists",
                status=409,
            )
        if self.is_market_open is not None and not self.is_market_open(order.market_ticker):
            raise OrderRejected(REASON_MARKET_CLOSED, f"market {order.market_ticker} is not open for trading")
        levels = self._matchable(order, self.books.book(order.market_ticker))
        if order.time_in_force == "fill_or_kill" and sum(n for _, n in levels) < order.count:
            levels = []
        multiplier = self.fee_multipliers.get(order.market_ticker, ONE)
        filled_at = self.now()
        exchange_order_id = f"paper-{order.client_order_id}"
        fills: list[Fill] = []
        remaining = order.count
        for price, size in levels:
            if remaining == 0:
                break
            take = min(remaining, size)
            remaining -= take
            key = self._level_key(order, price)
            self._taken[key] = self._taken.get(key, 0) + take
            fills.append(
                Fill(
                    trade_id=f"{order.client_order_id}-{len(fills) + 1}",
                    client_order_id=order.client_order_id,
                    exchange_order_id=exchange_order_id,
                    market_ticker=order.market_ticker,
                    event_ticker=order.event_ticker,
                    side=order.side,
                    action=order.action,
                    count=take,
                    price=price,
                    fee=taker_fee(take, price, multiplier),
                    filled_at=filled_at,
                )
            )
        self._placed.add(order.client_order_id)
        if remaining == 0:
            status, resting = "executed", 0
        elif order.time_in_force == "good_till_canceled":
            status, resting = "resting", remaining
        else:
            status, resting = "canceled", 0
        return BrokerAnswer(exchange_order_id, status, tuple(fills), resting)


# --- live ---------------------------------------------------------------------------------------------


def _fp(order: Mapping[str, Any], name: str, legacy: str | None = None, scale: Decimal = ONE) -> Decimal:
    """A fixed-point field of Kalshi's Order (`*_fp` / `*_dollars`), or its legacy integer form."""
    if order.get(name) not in (None, ""):
        return to_decimal(order[name], name)
    if legacy is not None and order.get(legacy) not in (None, ""):
        return to_decimal(order[legacy], legacy) / scale
    return ZERO


class LiveBroker:
    """Orders on Kalshi through a signed `KalshiClient` (retries keep the order's client_order_id)."""

    mode = "live"

    def __init__(
        self,
        client: Any,
        *,
        environ: Mapping[str, str] | None = None,
        check_exchange_status: bool = True,
        status_ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        require_live_confirmation(environ)
        if not getattr(client, "authenticated", False):
            raise ValueError("a LiveBroker needs a client with credentials (api_key_id and a private key)")
        self.client = client
        self.check_exchange_status = check_exchange_status
        self.status_ttl_s = status_ttl_s
        self._clock = clock
        self.now = now
        self._status_checked_at: float | None = None

    def _require_trading_active(self) -> None:
        if not self.check_exchange_status:
            return
        if self._status_checked_at is not None and self._clock() - self._status_checked_at < self.status_ttl_s:
            return
        status = self.client.get_exchange_status()
        if not status.get("trading_active") or not status.get("exchange_active", True):
            self._status_checked_at = None
            resume = status.get("exchange_estimated_resume_time")
            raise OrderRejected(
                REASON_EXCHANGE_CLOSED,
                "Kalshi is not accepting orders now" + (f" (expected back {resume})" if resume else ""),
            )
        self._status_checked_at = self._clock()

    def place(self, order: Order) -> BrokerAnswer:
        self._require_trading_active()
        price = {"yes_price_dollars" if order.side == "yes" else "no_price_dollars": order.limit_price}
        answer = self.client.place_order(
            order.market_ticker,
            order.side,
            order.action,
            order.count,
            **price,
            client_order_id=order.client_order_id,
            time_in_force=order.time_in_force,
        )
        return self._answer(order, answer)

    def _answer(self, order: Order, answer: Mapping[str, Any]) -> BrokerAnswer:
        exchange_order_id = str(answer.get("order_id") or "")
        if not exchange_order_id:
            raise ValueError(f"Kalshi's order answer for {order.client_order_id} has no order_id")
        filled = _fp(answer, "fill_count_fp", "fill_count")
        remaining = _fp(answer, "remaining_count_fp", "remaining_count")
        cost = _fp(answer, "taker_fill_cost_dollars", "taker_fill_cost", Decimal(100)) + _fp(
            answer, "maker_fill_cost_dollars", "maker_fill_cost", Decimal(100)
        )
        fees = _fp(answer, "taker_fees_dollars", "taker_fees", Decimal(100)) + _fp(
            answer, "maker_fees_dollars", "maker_fees", Decimal(100)
        )
        fills: tuple[Fill, ...] = ()
        count = int(filled)
        if count >= 1:
            # The order answer sums its fills: one fill at the average price carries the order's fees.
            fills = (
                Fill(
                    trade_id=f"{exchange_order_id}-fill",
                    client_order_id=order.client_order_id,
                    exchange_order_id=exchange_order_id,
                    market_ticker=order.market_ticker,
                    event_ticker=order.event_ticker,
                    side=order.side,
                    action=order.action,
                    count=count,
                    price=(cost / count).quantize(PRICE_QUANTUM),
                    fee=fees,
                    filled_at=self.now(),
                ),
            )
        status = str(answer.get("status") or ("executed" if count == order.count else "canceled"))
        return BrokerAnswer(exchange_order_id, status, fills, int(remaining) if status == "resting" else 0, answer)
