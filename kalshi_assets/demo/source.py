"""The demo exchange as an in-process `MarketDataSource` (no HTTP): the default for a fresh clone.

It answers exactly as `kalshi-assets demo-server` does: requests go through the demo API's own routes
(`DemoApi.answer`: the same pages, tiers, candle shapes and errors, without signatures, rate limits or
faults) and are walked by the same `ApiMarketData` that walks Kalshi, historical tier included.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kalshi_assets.demo.exchange import DemoExchange
from kalshi_assets.demo.server.routes import DemoApi
from kalshi_assets.kalshi.endpoints import MarketDataEndpoints, encode_params
from kalshi_assets.kalshi.errors import KalshiResponseError, error_class_for_status, parse_error_body
from kalshi_assets.kalshi.source import ApiMarketData


class InProcessDemoClient(MarketDataEndpoints):
    """Kalshi's market-data methods over the demo API's routes, called in process."""

    def __init__(self, api: DemoApi) -> None:
        self.api = api

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        status, body = self.api.answer("GET", path, encode_params(params))
        if status >= 400:
            code, message, details = parse_error_body(body)
            raise error_class_for_status(status)(
                message or f"HTTP {status}", status=status, code=code, method="GET", path=path, details=details
            )
        if not isinstance(body, dict):
            raise KalshiResponseError("expected a JSON object", code="unexpected_shape", method="GET", path=path)
        return body


class DemoMarketData(ApiMarketData):
    """Market data from the embedded demo exchange, through the demo API's routes in process."""

    def __init__(self, exchange: DemoExchange | None = None) -> None:
        self.exchange = exchange or DemoExchange()
        super().__init__(InProcessDemoClient(DemoApi(self.exchange, rate_limits=None)), clock=lambda: self.exchange.now)

    def now(self) -> datetime:
        return self.exchange.now
