"""Every answer the demo server sends validates against Kalshi's OpenAPI document.

The server records each response; the test drives every endpoint (successes, client errors, 401s,
404s, 409s, real and injected 429s and 5xx) through the signed client and raw HTTP, then looks up
the operation of each recorded (method, path) in the OpenAPI document and validates the body with
jsonschema against the schema of that status. OpenAPI 3.0's `nullable` is turned into JSON Schema
(`type: [T, "null"]`, or `anyOf [..., null]` beside a `$ref`).

Error bodies: Kalshi wraps the documented `ErrorResponse` object as `{"error": {...}}` on the wire
(as Kalshi documents it), so the inner object is validated against `ErrorResponse`; the 429 answer
`{"error": "too many requests"}` is Kalshi's exact shape and is checked literally.
"""

from __future__ import annotations

import collections
import json
import random
from collections.abc import Iterator
from datetime import datetime

import jsonschema
import pytest
import requests

from kalshi_assets.demo.exchange import DemoExchange
from kalshi_assets.demo.keys import DEMO_API_KEY_ID, demo_key_pair
from kalshi_assets.demo.server import API_PREFIX, DemoServer, ServerRateLimits
from kalshi_assets.kalshi import (
    BreakerRegistry,
    KalshiClient,
    KalshiError,
    RateLimiter,
    RateLimitTier,
    RetryPolicy,
)
from tests.reference import OpenApiDocument, openapi_document, openapi_to_jsonschema


@pytest.fixture(scope="module")
def openapi() -> OpenApiDocument:
    return openapi_document()


def test_nullable_conversion() -> None:
    assert openapi_to_jsonschema({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert openapi_to_jsonschema({"$ref": "#/x", "nullable": True, "description": "d"}) == {
        "description": "d",
        "anyOf": [{"$ref": "#/x"}, {"type": "null"}],
    }
    assert openapi_to_jsonschema({"type": "string", "enum": ["a"], "nullable": True})["enum"] == ["a", None]
    assert openapi_to_jsonschema({"properties": {"a": {"type": "integer", "nullable": False}}}) == {
        "properties": {"a": {"type": "integer"}}
    }


def test_validator_rejects_what_it_should(openapi: OpenApiDocument) -> None:
    """Guard against a validator that accepts everything."""
    _, operation = openapi.operation("GET", "/markets/KXCPI-26OCT-T0.4")
    schema = openapi.response_schema(operation, 200)
    assert schema is not None
    with pytest.raises(jsonschema.ValidationError):
        openapi.validate({"market": {"ticker": "X"}}, schema)  # required fields missing
    _, trades = openapi.operation("GET", "/markets/trades")
    trade = {
        "trade_id": "t",
        "ticker": "X",
        "count_fp": "1.00",
        "yes_price_dollars": "0.5000",
        "no_price_dollars": "0.5000",
        "taker_side": "yes",
        "created_time": "2026-01-01T00:00:00Z",
    }
    trades_schema = openapi.response_schema(trades, 200)
    assert trades_schema is not None
    openapi.validate({"trades": [trade], "cursor": ""}, trades_schema)
    with pytest.raises(jsonschema.ValidationError):
        openapi.validate({"trades": [trade | {"created_time": "yesterday"}], "cursor": ""}, trades_schema)
    with pytest.raises(jsonschema.ValidationError):
        openapi.validate({"trades": [trade | {"taker_side": "maybe"}], "cursor": ""}, trades_schema)


@pytest.fixture(scope="module")
def recorded_responses() -> Iterator[list[tuple[str, str, bytes, int, bytes]]]:
    """Drive every endpoint of a recording server; yield what it sent."""
    exchange = DemoExchange(seed=7)
    private_pem = demo_key_pair()[0]
    with DemoServer(
        exchange, record_responses=True, rate_limits=ServerRateLimits(reads_per_second=10, writes_per_second=5)
    ) as server:
        client = KalshiClient(
            server.base_url,
            DEMO_API_KEY_ID,
            private_key_pem=private_pem,
            rate_limiter=RateLimiter(RateLimitTier("test", 10_000, 10_000)),
            retry=RetryPolicy(max_attempts=30, base_delay_s=0.05, max_delay_s=0.3, rng=random.Random(4)),
            breaker_registry=BreakerRegistry(failure_threshold=10_000),
        )
        end = int(exchange.now.timestamp())
        active = [m for m in exchange.markets(series_ticker="KXFED") if m["status"] == "active"]
        market = active[0]
        settled = next(m for m in exchange.markets(series_ticker="KXCPI", tier="live") if m["status"] == "finalized")
        archived = exchange.markets(series_ticker="KXCPI", tier="historical")[-1]
        archived_close = int(datetime.fromisoformat(archived["close_time"].replace("Z", "+00:00")).timestamp())
        event = exchange.event(market["event_ticker"])
        series_ticker = event["series_ticker"]

        # Successes on every endpoint (the small server limit also provokes real 429s here).
        client.get_exchange_status()
        client.get_series()
        client.get_series(series_ticker)
        client.get_events(series_ticker=series_ticker, limit=10)
        client.get_events(series_ticker=series_ticker, status="settled", with_nested_markets=True, limit=50)
        client.get_event(market["event_ticker"], with_nested_markets=True)
        client.get_markets(event_ticker=market["event_ticker"], limit=3)
        client.get_markets(series_ticker="KXCPI", limit=1000)
        client.get_market(market["ticker"])
        client.get_market(settled["ticker"])
        client.get_candlesticks(series_ticker, market["ticker"], end - 3 * 86400, end, 60)
        client.get_candlesticks("KXCPI", settled["ticker"], end - 60 * 86400, end, 60)
        client.get_candlesticks_batch([m["ticker"] for m in active[:4]], end - 86400, end, 60)
        client.get_trades(market["ticker"], limit=200)
        client.get_orderbook(market["ticker"])
        client.get_orderbook(settled["ticker"])
        client.get_forecast_percentile_history(
            series_ticker, event["event_ticker"], [1000, 5000, 9000], end - 2 * 86400, end, 60
        )
        client.get_historical_cutoff()
        client.get_account_limits()
        client.get_historical_markets(event_ticker=archived["event_ticker"], limit=3)
        client.get_historical_markets(tickers=[archived["ticker"], market["ticker"]])
        client.get_historical_market(archived["ticker"])
        client.get_historical_candlesticks(archived["ticker"], archived_close - 50 * 86400, archived_close, 60)
        client.get_historical_trades(archived["ticker"], limit=500)
        client.get_balance()
        placed = [
            client.place_order(market["ticker"], "yes", "buy", 2, yes_price_dollars="0.01"),
            client.place_order(market["ticker"], "yes", "buy", 2, yes_price_dollars="0.99"),
            client.place_order(market["ticker"], "no", "sell", 1, no_price_dollars="0.99", time_in_force="fill_or_kill"),
        ]
        client.get_orders(ticker=market["ticker"], limit=2)
        client.get_order(placed[0]["order_id"])

        # Errors the API documents.
        for failing in (
            lambda: client.get_market("KXNOPE-1"),
            lambda: client.get_series("KXNOPE"),
            lambda: client.get_order("no-such-order"),
            lambda: client.get_candlesticks("KXCPI", market["ticker"], 0, end, 60),
            lambda: client.place_order(market["ticker"], "yes", "buy", 1, yes_price_dollars="0.01", client_order_id=placed[0]["client_order_id"]),
            lambda: client.place_order("KXNOPE-1", "yes", "buy", 1, yes_price_dollars="0.5"),
            lambda: client.place_order(settled["ticker"], "yes", "buy", 1, yes_price_dollars="0.5"),
            lambda: client.get("/markets", {"limit": 5000}),
            lambda: client.get("/markets/candlesticks", {"market_tickers": market["ticker"]}),
            lambda: client.get_market(archived["ticker"]),
            lambda: client.get_historical_market(market["ticker"]),
            lambda: client.get(f"/historical/markets/{archived['ticker']}/candlesticks",
                               {"start_ts": 0, "end_ts": end, "period_interval": 60}),
            lambda: client.get("/historical/markets", {"event_ticker": archived["event_ticker"], "series_ticker": "KXCPI"}),
        ):  # fmt: skip
            with pytest.raises(KalshiError):
                failing()
        base = server.base_url
        requests.get(f"{base}/portfolio/balance", timeout=5)  # unsigned: 401
        requests.get(f"{base}/markets", params={"cursor": ""}, timeout=5)  # 400
        server.faults.force_status(500)
        server.faults.force_status(503)
        server.faults.force_status(429)
        client.get_exchange_status()
        server.faults.force_status(500, path_prefix="/portfolio/orders")
        client.place_order(market["ticker"], "no", "buy", 1, no_price_dollars="0.02")
        client.close()
        yield list(server.api.responses)


def test_every_response_validates_against_the_openapi_schemas(
    openapi: OpenApiDocument, recorded_responses: list[tuple[str, str, bytes, int, bytes]]
) -> None:
    validated: collections.Counter[tuple[str, str, int]] = collections.Counter()
    for method, raw_path, _request_body, status, body in recorded_responses:
        assert status != 0, "no faults that drop connections were injected here"
        path = raw_path.split("?", 1)[0].removeprefix(API_PREFIX)
        template, operation = openapi.operation(method, path)
        answer = json.loads(body)
        if status == 429:
            assert answer == {"error": "too many requests"}
            validated[(method, template, status)] += 1
            continue
        if status >= 400:
            assert set(answer) == {"error"} and isinstance(answer["error"], dict), answer
            openapi.validate(answer["error"], {"$ref": "#/components/schemas/ErrorResponse"})
            assert answer["error"]["code"] and answer["error"]["message"]
            validated[(method, template, status)] += 1
            continue
        schema = openapi.response_schema(operation, status)
        assert schema is not None, f"{method} {template} documents no JSON answer for {status}"
        try:
            openapi.validate(answer, schema)
        except jsonschema.ValidationError as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"{method} {raw_path} -> {status}: {exc.message} at {list(exc.absolute_path)}")
        validated[(method, template, status)] += 1

    succeeded = {template for (method, template, status) in validated if status < 300}
    assert succeeded == {
        "/exchange/status",
        "/series",
        "/series/{series_ticker}",
        "/events",
        "/events/{event_ticker}",
        "/markets",
        "/markets/{ticker}",
        "/series/{series_ticker}/markets/{ticker}/candlesticks",
        "/markets/candlesticks",
        "/markets/trades",
        "/markets/{ticker}/orderbook",
        "/series/{series_ticker}/events/{ticker}/forecast_percentile_history",
        "/portfolio/balance",
        "/portfolio/orders",
        "/portfolio/orders/{order_id}",
        "/account/limits",
        "/historical/cutoff",
        "/historical/markets",
        "/historical/markets/{ticker}",
        "/historical/markets/{ticker}/candlesticks",
        "/historical/trades",
    }
    statuses = {status for (_, _, status) in validated}
    assert {200, 201, 400, 401, 404, 409, 429, 500, 503} <= statuses
    assert sum(validated.values()) == len(recorded_responses)
