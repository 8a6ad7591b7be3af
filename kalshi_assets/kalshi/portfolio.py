"""Kalshi's portfolio endpoints: balance and orders (they need an API key).

`PortfolioEndpoints` is mixed into `client.KalshiClient`; it needs the client's `get`, `paginate` and
`_request`. A client without credentials refuses these calls before sending anything.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kalshi_assets.kalshi.endpoints import segment, unix_seconds
from kalshi_assets.kalshi.errors import KalshiDuplicateOrder, KalshiResponseError
from kalshi_assets.kalshi.limits import ORDERS_PAGE_LIMIT

logger = logging.getLogger(__name__)

TIME_IN_FORCE = ("fill_or_kill", "good_till_canceled", "immediate_or_cancel")


def dollars_string(value: str | Decimal | float | int, *, field: str) -> str:
    """A price as Kalshi's fixed-point dollar string ("0.5600"), strictly inside (0, 1)."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{field}: {value!r} is not a number") from None
    quantized = amount.quantize(Decimal("0.0001"))
    if quantized != amount:
        raise ValueError(f"{field}: {value!r} has more than 4 decimal places")
    if not Decimal(0) < quantized < Decimal(1):
        raise ValueError(f"{field}: {value!r} is not a price strictly between 0 and 1 dollar")
    return f"{quantized:.4f}"


class PortfolioEndpoints:
    """Balance and orders. Needs `get`, `paginate` and `_request` from the client."""

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def paginate(self, path: str, items_key: str, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def _request(
        self, method: str, path: str, params: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> Any:
        raise NotImplementedError

    def get_balance(self) -> dict[str, Any]:
        """`balance` and `portfolio_value` in cents, `updated_ts`."""
        return self.get("/portfolio/balance")

    def get_account_limits(self) -> dict[str, Any]:
        """`usage_tier` and the `read_limit` / `write_limit` (requests per second) of the key's account."""
        return self.get("/account/limits")

    def get_orders(
        self,
        ticker: str | None = None,
        status: str | None = None,
        *,
        event_ticker: str | None = None,
        limit: int = ORDERS_PAGE_LIMIT,
    ) -> list[dict[str, Any]]:
        """The account's orders matching the filters (all pages)."""
        params = {"ticker": ticker, "status": status, "event_ticker": event_ticker, "limit": limit}
        return list(self.paginate("/portfolio/orders", "orders", params))

    def get_order(self, order_id: str) -> dict[str, Any]:
        return self.get(f"/portfolio/orders/{segment(order_id)}")["order"]

    def place_order(
        self,
        ticker: str,
        side: str,
        action: str,
        count: int,
        yes_price_dollars: str | Decimal | float | None = None,
        no_price_dollars: str | Decimal | float | None = None,
        *,
        client_order_id: str | None = None,
        time_in_force: str | None = None,
        post_only: bool | None = None,
        reduce_only: bool | None = None,
        buy_max_cost: int | None = None,
        expiration_ts: int | datetime | None = None,
    ) -> dict[str, Any]:
        """POST /portfolio/orders a limit order; return the Order object.

        The `client_order_id` (a new UUID unless given) is fixed before the first attempt and every
        retry re-sends it, so the exchange's de-duplication makes retries safe. If a retry after a
        lost answer meets 409 (the first attempt had in fact landed), the existing order is looked up
        and returned. A 409 on the first attempt is a real duplicate: `KalshiDuplicateOrder`.
        """
        if side not in ("yes", "no"):
            raise ValueError(f"side must be 'yes' or 'no', got {side!r}")
        if action not in ("buy", "sell"):
            raise ValueError(f"action must be 'buy' or 'sell', got {action!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive whole number of contracts, got {count!r}")
        if (yes_price_dollars is None) == (no_price_dollars is None):
            raise ValueError("give exactly one of yes_price_dollars and no_price_dollars")
        if time_in_force is not None and time_in_force not in TIME_IN_FORCE:
            raise ValueError(f"time_in_force must be one of {TIME_IN_FORCE}, got {time_in_force!r}")
        if client_order_id is not None and not client_order_id.strip():
            raise ValueError("client_order_id must not be blank")
        order_id = client_order_id or str(uuid.uuid4())
        body: dict[str, Any] = {
            "ticker": ticker,
            "side": side,
            "action": action,
            "count": count,
            "client_order_id": order_id,
        }
        if yes_price_dollars is not None:
            body["yes_price_dollars"] = dollars_string(yes_price_dollars, field="yes_price_dollars")
        if no_price_dollars is not None:
            body["no_price_dollars"] = dollars_string(no_price_dollars, field="no_price_dollars")
        optional = {
            "time_in_force": time_in_force,
            "post_only": post_only,
            "reduce_only": reduce_only,
            "buy_max_cost": buy_max_cost,
            "expiration_ts": unix_seconds(expiration_ts) if expiration_ts is not None else None,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        try:
            answer = self._request("POST", "/portfolio/orders", json_body=body)
        except KalshiDuplicateOrder as exc:
            if not exc.after_lost_answer:
                raise
            existing = self._find_order(ticker, order_id)
            if existing is None:
                raise KalshiDuplicateOrder(
                    f"a retry met 409 but no order with client_order_id {order_id!r} is listed for {ticker}",
                    client_order_id=order_id, status=409, code=exc.code, method="POST", path="/portfolio/orders",
                ) from exc  # fmt: skip
            logger.info("order %s: an earlier attempt had landed; returning the existing order", order_id)
            return existing
        if not isinstance(answer, dict) or not isinstance(answer.get("order"), dict):
            raise KalshiResponseError(
                "order answer has no 'order' object",
                code="unexpected_shape",
                method="POST",
                path="/portfolio/orders",
            )
        return answer["order"]

    def _find_order(self, ticker: str, client_order_id: str) -> dict[str, Any] | None:
        for order in self.paginate("/portfolio/orders", "orders", {"ticker": ticker, "limit": ORDERS_PAGE_LIMIT}):
            if order.get("client_order_id") == client_order_id:
                return order
        return None
