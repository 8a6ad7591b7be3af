"""The demo API's portfolio endpoints: a constant balance and in-memory paper orders.

An order fills against the touch of the demo book (top level only) and pays Kalshi's taker fee
(`analytics.walkforward.taker_fee`, the project's one fee function); a duplicate `client_order_id`
answers 409 like Kalshi.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kalshi_assets.analytics.walkforward import taker_fee
from kalshi_assets.demo.server.wire import ApiError, Query, fixed, page
from kalshi_assets.kalshi.limits import ORDERS_PAGE_LIMIT

DEMO_BALANCE_CENTS = 100_000_00  # a constant paper balance of $100,000
DEMO_USER_ID = "00000000-0000-4000-8000-000000000001"


class OrderEndpoints:
    """Portfolio endpoints of `DemoApi` (a mixin: the API supplies `exchange` and `_lookup`)."""

    exchange: Any
    _lookup: Callable[..., Any]

    def _init_orders(self) -> None:
        self._orders_lock = threading.Lock()
        self.orders: dict[str, dict[str, Any]] = {}  # order_id -> Order, in placement order
        self._client_order_ids: dict[str, str] = {}  # client_order_id -> order_id

    def balance(self, query: Query, *, body: bytes) -> tuple[int, dict]:
        return 200, {"balance": DEMO_BALANCE_CENTS, "portfolio_value": 0, "updated_ts": int(time.time())}

    def orders_list(self, query: Query, *, body: bytes) -> tuple[int, dict]:
        limit = query.integer("limit", default=100, lo=1, hi=ORDERS_PAGE_LIMIT)
        ticker = query.text("ticker")
        status = query.text("status", choices=("resting", "canceled", "executed"))
        with self._orders_lock:
            orders = [
                o
                for o in reversed(self.orders.values())  # newest first, like the API
                if (ticker is None or o["ticker"] == ticker) and (status is None or o["status"] == status)
            ]
        chunk, cursor = page(orders, limit or 100, query.cursor())
        return 200, {"orders": chunk, "cursor": cursor}

    def order_one(self, query: Query, order_id: str, *, body: bytes) -> tuple[int, dict]:
        with self._orders_lock:
            order = self.orders.get(order_id)
        if order is None:
            raise ApiError(404, "not_found", f"order {order_id} not found")
        return 200, {"order": order}

    def create_order(self, query: Query, *, body: bytes) -> tuple[int, dict]:
        request = _parse_order_request(body)
        market = self._lookup(self.exchange.market, request["ticker"])
        if market["status"] != "active":
            raise ApiError(
                400, "market_closed", f"market {request['ticker']} is {market['status']}, not active"
            )
        book = self._lookup(self.exchange.orderbook, request["ticker"])["orderbook_fp"]
        series_ticker = self._lookup(self.exchange.event, market["event_ticker"])["series_ticker"]
        fee_multiplier = Decimal(
            str(self._lookup(self.exchange.series, series_ticker).get("fee_multiplier", 1))
        )
        with self._orders_lock:
            client_order_id = request["client_order_id"]
            if client_order_id in self._client_order_ids:
                raise ApiError(
                    409, "order_already_exists", f"an order with client_order_id {client_order_id} exists"
                )
            order = _paper_order(request, book, fee_multiplier)
            self.orders[order["order_id"]] = order
            self._client_order_ids[client_order_id] = order["order_id"]
        return 201, {"order": order}


def _parse_order_request(body: bytes) -> dict[str, Any]:
    """A validated CreateOrderRequest: count in contracts, prices as YES/NO dollar Decimals."""
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise ApiError(400, "invalid_parameters", "request body is not JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_parameters", "request body must be a JSON object")
    ticker = data.get("ticker")
    if not isinstance(ticker, str) or not ticker:
        raise ApiError(400, "missing_parameters", "ticker is required")
    side, action = data.get("side"), data.get("action")
    if side not in ("yes", "no"):
        raise ApiError(400, "invalid_parameters", "side must be yes or no")
    if action not in ("buy", "sell"):
        raise ApiError(400, "invalid_parameters", "action must be buy or sell")
    count = data.get("count")
    if count is None and data.get("count_fp") is not None:
        try:
            count_fp = Decimal(str(data["count_fp"]))
        except InvalidOperation:
            raise ApiError(400, "invalid_parameters", "count_fp is not a number") from None
        if count_fp != count_fp.to_integral_value():
            raise ApiError(400, "invalid_parameters", "the demo market trades whole contracts only")
        count = int(count_fp)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ApiError(400, "invalid_parameters", "count must be a whole number of contracts >= 1")
    prices: dict[str, Decimal] = {}
    for name in ("yes_price_dollars", "no_price_dollars"):
        if data.get(name) is not None:
            try:
                prices[name] = Decimal(str(data[name]))
            except InvalidOperation:
                raise ApiError(400, "invalid_parameters", f"{name} is not a number") from None
    for name, dollars_name in (("yes_price", "yes_price_dollars"), ("no_price", "no_price_dollars")):
        if data.get(name) is not None:  # legacy integer cents
            if isinstance(data[name], bool) or not isinstance(data[name], int):
                raise ApiError(400, "invalid_parameters", f"{name} must be integer cents")
            prices.setdefault(dollars_name, Decimal(data[name]) / 100)
    if len(prices) != 1:
        raise ApiError(
            400, "invalid_parameters", "give exactly one of yes_price(_dollars) and no_price(_dollars)"
        )
    ((price_name, price),) = prices.items()
    if not Decimal("0.01") <= price <= Decimal("0.99"):
        raise ApiError(400, "invalid_parameters", f"{price_name} must lie within 0.01..0.99")
    yes_price = price if price_name == "yes_price_dollars" else 1 - price
    time_in_force = data.get("time_in_force") or "good_till_canceled"
    if time_in_force not in ("fill_or_kill", "good_till_canceled", "immediate_or_cancel"):
        raise ApiError(400, "invalid_parameters", "unknown time_in_force")
    client_order_id = data.get("client_order_id") or str(uuid.uuid4())
    if not isinstance(client_order_id, str):
        raise ApiError(400, "invalid_parameters", "client_order_id must be a string")
    return {
        "ticker": ticker,
        "side": side,
        "action": action,
        "count": count,
        "yes_price": yes_price,
        "time_in_force": time_in_force,
        "client_order_id": client_order_id,
    }


def _paper_order(request: dict[str, Any], book: dict[str, Any], fee_multiplier: Decimal) -> dict[str, Any]:
    """Fill against the touch of the demo book (top level only), rest or cancel the remainder."""
    side, action, count = request["side"], request["action"], request["count"]
    own_price = request["yes_price"] if side == "yes" else 1 - request["yes_price"]
    # The touch of the contract being traded: asks come from the other side's bids.
    other = book["no_dollars"] if side == "yes" else book["yes_dollars"]
    same = book["yes_dollars"] if side == "yes" else book["no_dollars"]
    fill_count, fill_price = 0, Decimal(0)
    if action == "buy" and other:
        best_other_bid, size = Decimal(other[-1][0]), Decimal(other[-1][1])
        ask = 1 - best_other_bid
        if own_price >= ask:
            fill_count, fill_price = min(count, int(size)), ask
    elif action == "sell" and same:
        best_bid, size = Decimal(same[-1][0]), Decimal(same[-1][1])
        if own_price <= best_bid:
            fill_count, fill_price = min(count, int(size)), best_bid
    if request["time_in_force"] == "fill_or_kill" and fill_count < count:
        fill_count = 0
    remaining = count - fill_count
    if remaining == 0:
        status = "executed"
    elif request["time_in_force"] == "good_till_canceled":
        status = "resting"
    else:
        status, remaining = "canceled", 0
    fee = taker_fee(fill_count, fill_price, fee_multiplier) if fill_count else Decimal(0)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "order_id": str(uuid.uuid4()),
        "user_id": DEMO_USER_ID,
        "client_order_id": request["client_order_id"],
        "ticker": request["ticker"],
        "side": side,
        "action": action,
        "type": "limit",
        "status": status,
        "yes_price_dollars": fixed(request["yes_price"]),
        "no_price_dollars": fixed(1 - request["yes_price"]),
        "fill_count_fp": fixed(Decimal(fill_count), "0.01"),
        "remaining_count_fp": fixed(Decimal(remaining), "0.01"),
        "initial_count_fp": fixed(Decimal(count), "0.01"),
        "taker_fees_dollars": fixed(fee),
        "maker_fees_dollars": "0.0000",
        "taker_fill_cost_dollars": fixed(fill_price * fill_count),
        "maker_fill_cost_dollars": "0.0000",
        "expiration_time": None,
        "created_time": now,
        "last_update_time": now,
        "order_group_id": None,
    }
