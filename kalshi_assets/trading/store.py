"""Where routed orders are kept: reserve an order's id before it goes anywhere, complete it after.

Reserving first (write-ahead) is what makes a re-run or a retry safe: a second `reserve` of the same
client_order_id is refused even if the first run died between placing the order and recording its
answer (its row stays `pending`, for a person to reconcile against the exchange). The warehouse store
lives in kalshi_assets.warehouse.trading; `MemoryOrderStore` is the in-process one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from kalshi_assets.trading.orders import Order, RouteResult

PENDING = "pending"


class OrderStore(Protocol):
    def reserve(self, order: Order, mode: str) -> bool:
        """Record the order as pending; False (nothing written) if its client_order_id exists."""
        ...

    def complete(self, result: RouteResult) -> None:
        """Record the routing result (status, reason, fills) of a reserved order."""
        ...


@dataclass
class MemoryOrderStore:
    orders: dict[str, Order] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    results: dict[str, RouteResult] = field(default_factory=dict)

    def reserve(self, order: Order, mode: str) -> bool:
        if order.client_order_id in self.orders:
            return False
        self.orders[order.client_order_id] = order
        self.statuses[order.client_order_id] = PENDING
        return True

    def complete(self, result: RouteResult) -> None:
        key = result.order.client_order_id
        if key not in self.orders:
            raise KeyError(f"order {key} was never reserved")
        self.statuses[key] = result.status
        self.results[key] = result
