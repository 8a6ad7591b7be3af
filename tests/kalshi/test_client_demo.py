"""The Kalshi client against the loopback demo server: signing, pagination, retries, breaker, orders."""

from __future__ import annotations

import json
import math
import random
import socket
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_assets.demo.keys import DEMO_API_KEY_ID
from kalshi_assets.demo.server import DEMO_BALANCE_CENTS, DemoServer
from kalshi_assets.kalshi import (
    BreakerRegistry,
    CircuitOpenError,
    KalshiAuthError,
    KalshiClient,
    KalshiConnectionError,
    KalshiDuplicateOrder,
    KalshiKeyError,
    KalshiNotFound,
    KalshiServerError,
    RateLimiter,
    RateLimitTier,
    RetryPolicy,
)
from kalshi_assets.kalshi import signing as signing_module
from kalshi_assets.kalshi.client import dollars_string, encode_params
from kalshi_assets.kalshi.signing import CryptographySigner, load_private_key

FAST_TIER = RateLimitTier("test", 10_000, 10_000)


def _active_market(exchange) -> dict:
    return next(m for m in exchange.markets(series_ticker="KXCPI") if m["status"] == "active")


# --- signing --------------------------------------------------------------------------------------


def test_signed_request_verifies(make_client, server: DemoServer) -> None:
    client = make_client()
    balance = client.get_balance()
    assert balance["balance"] == DEMO_BALANCE_CENTS
    assert set(balance) == {"balance", "portfolio_value", "updated_ts"}
    assert server.stats.by_status == {200: 1}


class TamperingSigner:
    """Signs something other than what is sent, the way a proxy rewriting a request would."""

    def __init__(self, inner: CryptographySigner, tamper: str) -> None:
        self._inner, self._tamper = inner, tamper

    def sign(self, message: bytes) -> str:
        if self._tamper == "path":
            return self._inner.sign(message.replace(b"/balance", b"/orders"))
        if self._tamper == "method":
            return self._inner.sign(message.replace(b"GET", b"POST"))
        signature = bytearray(self._inner.sign(message).encode())
        signature[10] = ord("A") if signature[10] != ord("A") else ord("B")
        return signature.decode()


@pytest.mark.parametrize("tamper", ["path", "method", "bytes"])
def test_tampered_signature_gets_401(make_client, demo_private_pem: bytes, tamper: str, recorder) -> None:
    signer = TamperingSigner(CryptographySigner(load_private_key(demo_private_pem)), tamper)
    client = make_client(signed=False, api_key_id=DEMO_API_KEY_ID, signer=signer)
    with pytest.raises(KalshiAuthError) as raised:
        client.get_balance()
    assert raised.value.status == 401
    assert raised.value.code == "authentication_error"
    assert recorder.statuses() == [401], "a 401 must not be retried"
    assert client.breaker.stats().failures == 0, "a 401 is the caller's fault, not the API's"


def test_stale_timestamp_gets_401(make_client, monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client()
    assert client.get_balance()["balance"] == DEMO_BALANCE_CENTS
    real_now = signing_module.now_ms
    monkeypatch.setattr(signing_module, "now_ms", lambda: real_now() - 10 * 60 * 1000)
    with pytest.raises(KalshiAuthError, match="stale"):
        client.get_balance()


def test_signature_from_another_key_gets_401(make_client) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    client = make_client(signed=False, api_key_id=DEMO_API_KEY_ID, private_key_pem=other)
    with pytest.raises(KalshiAuthError, match="invalid signature"):
        client.get_balance()
    # A signed request to a public path is verified too.
    with pytest.raises(KalshiAuthError):
        client.get_exchange_status()


def test_unsigned_client_reads_public_data_but_not_the_portfolio(make_client, exchange) -> None:
    client = make_client(signed=False)
    assert client.get_exchange_status()["exchange_active"] is True
    assert client.get_market(_active_market(exchange)["ticker"])["status"] == "active"
    with pytest.raises(KalshiAuthError, match="no credentials"):
        client.get_balance()


def test_an_order_without_a_key_fails_before_any_request_naming_the_variables(
    make_client, server: DemoServer, recorder, exchange
) -> None:
    client = make_client(signed=False)
    with pytest.raises(KalshiAuthError) as raised:
        client.place_order(_active_market(exchange)["ticker"], "yes", "buy", 1, yes_price_dollars="0.40")
    message = str(raised.value)
    assert "KALSHI_API_KEY_ID" in message and "KALSHI_PRIVATE_KEY_PATH" in message and "Nothing was sent" in message
    assert raised.value.code == "no_credentials"
    for signed_only in (client.get_balance, client.get_orders, client.get_account_limits):
        with pytest.raises(KalshiAuthError, match="no credentials"):
            signed_only()
    assert recorder.requests == [] and server.stats.total == 0
    assert client.breaker.stats().calls == 0


def test_callbacks_never_see_secrets(make_client, recorder, demo_private_pem: bytes, exchange) -> None:
    client = make_client()
    client.get_balance()
    client.place_order(_active_market(exchange)["ticker"], "yes", "buy", 1, yes_price_dollars="0.01")
    assert recorder.requests
    for method, path, status, elapsed_ms, code in recorder.requests:
        assert isinstance(elapsed_ms, float) and elapsed_ms >= 0
        for value in (method, path, status, code):
            text = str(value)
            assert DEMO_API_KEY_ID not in text and "BEGIN" not in text and "KALSHI-ACCESS" not in text
    assert [r[:3] for r in recorder.requests] == [
        ("GET", "/portfolio/balance", 200),
        ("POST", "/portfolio/orders", 201),
    ]


# --- pagination -----------------------------------------------------------------------------------


def test_pagination_returns_every_market_exactly_once_from_each_tier(make_client, exchange, recorder) -> None:
    client = make_client()
    expected = [m["ticker"] for m in exchange.markets(series_ticker="KXCPI", tier="live")]
    got = [m["ticker"] for m in client.get_markets(series_ticker="KXCPI", limit=7)]
    assert got == expected
    assert len(set(got)) == len(got)
    pages = [r for r in recorder.requests if r[1] == "/markets"]
    assert len(pages) == math.ceil(len(expected) / 7) > 3
    archived = [m["ticker"] for m in client.get_historical_markets(series_ticker="KXCPI", limit=50)]
    assert archived == [m["ticker"] for m in exchange.markets(series_ticker="KXCPI", tier="historical")]
    assert len(archived) > 50 and sorted(got + archived) == sorted(m["ticker"] for m in exchange.markets(
        series_ticker="KXCPI"))


def test_pagination_of_events_and_trades(make_client, exchange) -> None:
    client = make_client()
    events = client.get_events(series_ticker="KXFED", limit=3)
    assert [e["event_ticker"] for e in events] == [e["event_ticker"] for e in exchange.events(series_ticker="KXFED")]
    ticker = _active_market(exchange)["ticker"]
    trades = client.get_trades(ticker, limit=25)
    ids = [t["trade_id"] for t in trades]
    assert ids == [t["trade_id"] for t in exchange.trades(ticker=ticker)]
    assert len(ids) == len(set(ids)) > 25


def test_paginate_first_request_has_no_cursor_and_max_pages(make_client, server: DemoServer) -> None:
    client = make_client()
    items = list(client.paginate("/markets", "markets", {"limit": 5, "cursor": ""}, max_pages=2))
    assert len(items) == 10
    paths = [path for method, path, *_ in server.api.responses]
    assert "cursor=" not in paths[0]
    assert "cursor=" in paths[1]


class _FakeResponse:
    def __init__(self, body: object, status: int = 200) -> None:
        self.status_code = status
        self.content = json.dumps(body).encode()
        self.headers: dict[str, str] = {}
        self.reason = "OK"


class _ScriptedSession:
    def __init__(self, bodies: list[object]) -> None:
        self._bodies = list(bodies)

    def request(self, *args, **kwargs) -> _FakeResponse:
        return _FakeResponse(self._bodies.pop(0))

    def close(self) -> None:
        pass


def test_paginate_stops_on_a_repeated_cursor() -> None:
    session = _ScriptedSession([{"markets": [{"ticker": "A"}], "cursor": "c1"}] * 3)
    client = KalshiClient("https://example.invalid/trade-api/v2", session=session, breaker_registry=BreakerRegistry())
    with pytest.raises(Exception, match="repeated cursor"):
        list(client.paginate("/markets", "markets"))


def test_paginate_accepts_null_pages_and_rejects_missing_keys() -> None:
    session = _ScriptedSession([{"markets": None, "cursor": "c1"}, {"markets": [{"ticker": "B"}], "cursor": ""}])
    client = KalshiClient("https://example.invalid/trade-api/v2", session=session, breaker_registry=BreakerRegistry())
    assert [m["ticker"] for m in client.paginate("/markets", "markets")] == ["B"]
    client._session = _ScriptedSession([{"events": []}])  # type: ignore[assignment]
    with pytest.raises(Exception, match="no 'markets' list"):
        list(client.paginate("/markets", "markets"))


# --- retries --------------------------------------------------------------------------------------


def test_429_burst_is_retried_until_success(make_client, server: DemoServer, recorder) -> None:
    server.faults.force_status(429, times=4)
    client = make_client()
    assert client.get_exchange_status()["trading_active"] is True
    assert recorder.statuses() == [429, 429, 429, 429, 200]
    assert len(recorder.sleeps) == 4
    assert all(0 <= s <= 0.01 for s in recorder.sleeps)
    # Kalshi's 429 has no Retry-After and its body is {"error": "too many requests"}.
    method, path, _, status, body = server.api.responses[0]
    assert (status, json.loads(body)) == (429, {"error": "too many requests"})


def test_real_rate_limit_429s_are_retried_until_every_request_succeeds(
    limited_server: DemoServer, demo_private_pem: bytes
) -> None:
    """A client allowed far more than the server (5 reads/s) provokes 429s and still gets through."""
    client = KalshiClient(
        limited_server.base_url,
        DEMO_API_KEY_ID,
        private_key_pem=demo_private_pem,
        rate_limiter=RateLimiter(FAST_TIER),
        retry=RetryPolicy(max_attempts=12, base_delay_s=0.05, max_delay_s=0.4, rng=random.Random(2)),
        breaker_registry=BreakerRegistry(failure_threshold=1000),
    )
    results: list[dict] = []
    errors: list[BaseException] = []

    def worker() -> None:
        for _ in range(3):
            try:
                results.append(client.get_exchange_status())
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    assert errors == []
    assert len(results) == 12
    assert limited_server.stats.by_status[429] > 0, "the burst should have hit the server's limit"
    assert limited_server.stats.by_status[200] == 12


def test_retry_after_is_honoured(make_client, server: DemoServer, recorder) -> None:
    server.faults.force_status(503, retry_after="0.2")
    make_client().get_exchange_status()
    assert recorder.sleeps == [0.2]


def test_server_errors_exhaust_retries_with_typed_error(make_client, server: DemoServer, recorder) -> None:
    server.faults.configure(error_rate=1.0)
    client = make_client(retry=RetryPolicy(max_attempts=3, base_delay_s=0.001), breaker_registry=BreakerRegistry())
    with pytest.raises(KalshiServerError) as raised:
        client.get_exchange_status()
    assert (raised.value.status, raised.value.code) == (500, "injected_fault")
    assert recorder.statuses() == [500, 500, 500]


def test_dropped_connections_and_truncated_json_are_retried(
    make_client, server: DemoServer, recorder, exchange
) -> None:
    ticker = _active_market(exchange)["ticker"]
    server.faults.force_drop(2)
    server.faults.force_truncate(1)
    assert make_client().get_market(ticker)["ticker"] == ticker
    assert [(status, code) for _, _, status, _, code in recorder.requests] == [
        (None, "connection_error"),
        (None, "connection_error"),
        (200, "invalid_json"),
        (200, None),
    ]
    assert server.stats.dropped == 2 and server.stats.truncated == 1


def test_not_found_is_typed_and_not_retried(make_client, recorder) -> None:
    client = make_client()
    with pytest.raises(KalshiNotFound) as raised:
        client.get_market("KXNOPE-00-T1")
    assert raised.value.status == 404 and raised.value.code == "not_found"
    assert recorder.statuses() == [404]
    assert client.breaker.stats().neutral == 1 and client.breaker.stats().failures == 0


# --- circuit breaker ------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_five_failures_fails_fast_probes_once_and_closes(
    make_client, server: DemoServer
) -> None:
    clock = FakeClock()
    transitions: list[tuple[str, str, str]] = []
    registry = BreakerRegistry(
        recovery_timeout_s=30, clock=clock, on_state_change=lambda name, old, new, stats: transitions.append((name, old, new))
    )
    client = make_client(retry=RetryPolicy(max_attempts=1), breaker_registry=registry)
    server.faults.configure(error_rate=1.0)
    for _ in range(5):
        with pytest.raises(KalshiServerError):
            client.get_exchange_status()
    assert client.breaker.state == "open"
    seen_by_server = server.stats.total
    for _ in range(3):
        with pytest.raises(CircuitOpenError):
            client.get_exchange_status()
    assert server.stats.total == seen_by_server, "an open breaker must not reach the server"

    # After the timeout exactly one probe goes out; it fails, so the breaker reopens.
    clock.now += 30
    with pytest.raises(KalshiServerError):
        client.get_exchange_status()
    with pytest.raises(CircuitOpenError):
        client.get_exchange_status()
    assert server.stats.total == seen_by_server + 1

    # The API recovers: the next probe succeeds and closes the breaker.
    server.faults.configure(error_rate=0.0)
    clock.now += 30
    assert client.get_exchange_status()["exchange_active"] is True
    assert client.get_exchange_status()["exchange_active"] is True
    assert transitions == [
        ("kalshi", "closed", "open"),
        ("kalshi", "open", "half_open"),
        ("kalshi", "half_open", "open"),
        ("kalshi", "open", "half_open"),
        ("kalshi", "half_open", "closed"),
    ]
    stats = registry.stats()["kalshi"]
    assert (stats.state, stats.calls, stats.failures, stats.successes, stats.rejected) == ("closed", 8, 6, 2, 4)
    assert stats.success_rate == pytest.approx(2 / 8)


def test_a_transient_fault_the_retries_absorb_never_counts_against_the_breaker(
    make_client, server: DemoServer, recorder
) -> None:
    """One retry budget: nine failed attempts of one call (more than the breaker's threshold of five)
    are carried by the retries, and the breaker, which counts calls, stays closed."""
    client = make_client(retry=RetryPolicy(max_attempts=10, base_delay_s=0.001))
    server.faults.force_status(503, times=9)
    assert client.get_exchange_status()["exchange_active"] is True
    assert recorder.statuses() == [503] * 9 + [200]
    stats = client.breaker.stats()
    assert (stats.state, stats.failures, stats.successes, stats.consecutive_failures) == ("closed", 0, 1, 0)


def test_retries_stop_when_the_breaker_opens_and_the_error_names_the_cause(
    make_client, server: DemoServer, recorder
) -> None:
    """Another caller's failures open the shared breaker while this call waits to retry: it stops at
    once, raising CircuitOpenError whose cause is its own last failure."""
    registry = BreakerRegistry()
    other = make_client(retry=RetryPolicy(max_attempts=1), breaker_registry=registry)

    def sleep_while_the_api_fails_for_others(seconds: float) -> None:
        if registry.get("kalshi").state == "closed":
            for _ in range(5):
                with pytest.raises(KalshiServerError):
                    other.get_exchange_status()

    client = make_client(retry=RetryPolicy(max_attempts=10, base_delay_s=0.001), breaker_registry=registry,
                         sleep=sleep_while_the_api_fails_for_others)
    server.faults.configure(error_rate=1.0)
    with pytest.raises(CircuitOpenError) as raised:
        client.get_exchange_status()
    assert recorder.statuses() == [500] * 6, "one attempt of this call, five of the other caller's"
    assert isinstance(raised.value.__cause__, KalshiServerError)
    assert "last failure: GET /exchange/status: injected fault (HTTP 500" in str(raised.value)


def test_a_dead_server_names_the_connection_failure(make_client) -> None:
    """Nothing listens on the port: the error says the connection was refused, and once the breaker is
    open its error says so too, with the refused connection as its cause."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    registry = BreakerRegistry()
    client = make_client(base_url=f"http://127.0.0.1:{port}/trade-api/v2", breaker_registry=registry,
                         retry=RetryPolicy(max_attempts=3, base_delay_s=0.001))
    for _ in range(5):
        with pytest.raises(KalshiConnectionError, match="Connection refused"):
            client.get_series()
    with pytest.raises(CircuitOpenError) as raised:
        client.get_series()
    assert "Connection refused" in str(raised.value)
    assert isinstance(raised.value.__cause__, KalshiConnectionError)
    assert "Connection refused" in str(raised.value.__cause__)


# --- orders ---------------------------------------------------------------------------------------


def _posted_client_order_ids(server: DemoServer) -> list[str]:
    return [
        json.loads(request_body)["client_order_id"]
        for method, path, request_body, status, body in server.api.responses
        if method == "POST"
    ]


def test_order_retried_after_5xx_reuses_its_client_order_id(make_client, server: DemoServer, exchange) -> None:
    server.faults.force_status(500, path_prefix="/portfolio/orders")
    order = make_client().place_order(_active_market(exchange)["ticker"], "yes", "buy", 2, yes_price_dollars="0.02")
    ids = _posted_client_order_ids(server)
    assert len(ids) == 2 and ids[0] == ids[1] == order["client_order_id"]
    assert len(server.api.orders) == 1


def test_order_whose_answer_was_lost_is_not_placed_twice(
    make_client, server: DemoServer, recorder, exchange
) -> None:
    """The first POST lands but its answer is lost; the retry (same client_order_id) meets 409 and
    the client returns the order that exists instead of placing another."""
    server.faults.force_drop_after(1, path_prefix="/portfolio/orders")
    client = make_client()
    order = client.place_order(
        _active_market(exchange)["ticker"], "no", "buy", 3, no_price_dollars="0.05", client_order_id="my-order-1"
    )
    assert order["client_order_id"] == "my-order-1"
    assert _posted_client_order_ids(server) == ["my-order-1", "my-order-1"]
    assert [o["client_order_id"] for o in server.api.orders.values()] == ["my-order-1"]
    assert [(m, p, s) for m, p, s, _, _ in recorder.requests] == [
        ("POST", "/portfolio/orders", None),
        ("POST", "/portfolio/orders", 409),
        ("GET", "/portfolio/orders", 200),
    ]


def test_order_429_is_retried_with_the_same_client_order_id(make_client, server: DemoServer, exchange) -> None:
    server.faults.force_status(429, times=2, path_prefix="/portfolio/orders")
    order = make_client().place_order(_active_market(exchange)["ticker"], "yes", "buy", 1, yes_price_dollars="0.03")
    assert _posted_client_order_ids(server) == [order["client_order_id"]] * 3
    assert len(server.api.orders) == 1


def test_duplicate_client_order_id_on_first_attempt_is_a_typed_error(make_client, exchange) -> None:
    client = make_client()
    ticker = _active_market(exchange)["ticker"]
    client.place_order(ticker, "yes", "buy", 1, yes_price_dollars="0.01", client_order_id="dup-1")
    with pytest.raises(KalshiDuplicateOrder) as raised:
        client.place_order(ticker, "yes", "buy", 1, yes_price_dollars="0.01", client_order_id="dup-1")
    assert raised.value.status == 409
    assert raised.value.client_order_id == "dup-1"
    assert raised.value.after_lost_answer is False


def test_write_without_client_order_id_is_never_retried(make_client, server: DemoServer, recorder) -> None:
    server.faults.force_status(500, path_prefix="/portfolio/orders")
    client = make_client()
    with pytest.raises(KalshiServerError):
        client._request("POST", "/portfolio/orders", json_body={"ticker": "X", "side": "yes", "action": "buy"})
    assert recorder.statuses() == [500]


def test_place_order_answer_matches_the_order_schema_fields(make_client, exchange) -> None:
    market = _active_market(exchange)
    client = make_client()
    resting = client.place_order(market["ticker"], "yes", "buy", 4, yes_price_dollars="0.01")
    assert resting["status"] in ("resting", "executed")
    assert resting["initial_count_fp"] == "4.00"
    assert resting["yes_price_dollars"] == "0.0100" and resting["no_price_dollars"] == "0.9900"
    listed = client.get_orders(ticker=market["ticker"])
    assert [o["order_id"] for o in listed] == [resting["order_id"]]
    assert client.get_order(resting["order_id"]) == resting


def test_place_order_validates_before_sending(make_client, recorder) -> None:
    client = make_client()
    bad_calls = [
        dict(side="maybe"),
        dict(action="hold"),
        dict(count=0),
        dict(count=True),
        dict(yes_price_dollars=None),
        dict(yes_price_dollars="0.5", no_price_dollars="0.5"),
        dict(yes_price_dollars="1.00"),
        dict(yes_price_dollars="0.12345"),
        dict(time_in_force="forever"),
        dict(client_order_id="  "),
    ]
    for overrides in bad_calls:
        arguments = dict(ticker="T", side="yes", action="buy", count=1, yes_price_dollars="0.5") | overrides
        with pytest.raises(ValueError):
            client.place_order(**arguments)
    assert recorder.requests == []


def test_dollars_string() -> None:
    assert dollars_string("0.56", field="p") == "0.5600"
    assert dollars_string(0.07, field="p") == "0.0700"
    with pytest.raises(ValueError):
        dollars_string("abc", field="p")


# --- market data ----------------------------------------------------------------------------------


def test_market_data_methods_return_the_exchange_objects(make_client, exchange) -> None:
    client = make_client()
    market = _active_market(exchange)
    event = exchange.event(market["event_ticker"])
    assert client.get_series("KXCPI") == exchange.series("KXCPI")
    assert [s["ticker"] for s in client.get_series()] == [s["ticker"] for s in exchange.series_list()]
    assert client.get_market(market["ticker"]) == market
    answer = client.get_event(market["event_ticker"], with_nested_markets=True)
    assert answer["event"]["event_ticker"] == event["event_ticker"]
    assert [m["ticker"] for m in answer["event"]["markets"]] == [m["ticker"] for m in answer["markets"]]
    end = int(exchange.now.timestamp())
    candles = client.get_candlesticks(event["series_ticker"], market["ticker"], end - 2 * 86400, end, 60)
    assert candles == exchange.candlesticks(market["ticker"], end - 2 * 86400, end, 60)
    assert client.get_orderbook(market["ticker"], depth=1) == exchange.orderbook(market["ticker"], 1)["orderbook_fp"]
    history = client.get_forecast_percentile_history(
        event["series_ticker"], event["event_ticker"], [2500, 5000, 7500], end - 86400, end, 60
    )
    assert history == exchange.forecast_percentile_history(event["event_ticker"], [2500, 5000, 7500], end - 86400, end, 60)


def test_batch_candlesticks_chunk_by_candle_budget(make_client, exchange, recorder) -> None:
    client = make_client()
    tickers = [m["ticker"] for m in exchange.markets(series_ticker="KXCPI") if m["status"] == "active"][:3]
    end = int(exchange.now.timestamp())
    start = end - 300 * 86400  # 7,200 hourly candles a market: one market per request
    result = client.get_candlesticks_batch(tickers, start, end, 60)
    assert list(result) == tickers
    for ticker in tickers:
        assert result[ticker] == exchange.candlesticks(ticker, start, end, 60)
    assert len([r for r in recorder.requests if r[1] == "/markets/candlesticks"]) == 3
    recorder.requests.clear()
    client.get_candlesticks_batch(tickers, end - 86400, end, 60)
    assert len([r for r in recorder.requests if r[1] == "/markets/candlesticks"]) == 1


def testencode_params() -> None:
    assert encode_params({"a": None, "b": True, "c": False, "d": [1, 2], "e": "x", "f": 3}) == [
        ("b", "true"),
        ("c", "false"),
        ("d", "1"),
        ("d", "2"),
        ("e", "x"),
        ("f", "3"),
    ]


def test_argument_validation(make_client) -> None:
    client = make_client()
    with pytest.raises(ValueError, match="start with '/'"):
        client.get("markets")
    with pytest.raises(ValueError, match="params"):
        client.get("/markets?limit=1")
    with pytest.raises(ValueError, match="period_interval"):
        client.get_candlesticks("S", "T", 0, 1, period_interval=5)
    with pytest.raises(ValueError, match="percentiles"):
        client.get_forecast_percentile_history("S", "E", list(range(11)), 0, 1)
    with pytest.raises(ValueError, match="depth"):
        client.get_orderbook("T", depth=101)


# --- construction ---------------------------------------------------------------------------------


def test_constructor_rules(tmp_path: Path, demo_private_pem: bytes) -> None:
    with pytest.raises(ValueError, match="loopback"):
        KalshiClient("http://example.com/trade-api/v2")
    with pytest.raises(ValueError, match="http"):
        KalshiClient("ftp://example.com/trade-api/v2")
    with pytest.raises(KalshiKeyError, match="without api_key_id"):
        KalshiClient("https://example.invalid/trade-api/v2", private_key_pem=demo_private_pem)
    with pytest.raises(KalshiKeyError, match="without a private key"):
        KalshiClient("https://example.invalid/trade-api/v2", api_key_id="k")
    key_file = tmp_path / "demo.pem"
    key_file.write_bytes(demo_private_pem)
    key_file.chmod(0o644)
    with pytest.raises(KalshiKeyError, match="chmod 600"):
        KalshiClient("https://example.invalid/trade-api/v2", api_key_id="k", private_key_path=str(key_file))
    key_file.chmod(0o600)
    client = KalshiClient("https://example.invalid/trade-api/v2/", api_key_id="k", private_key_path=str(key_file))
    assert client.base_url == "https://example.invalid/trade-api/v2"
    assert client.authenticated and "BEGIN" not in repr(client)


def test_openssl_backend_signs_requests_the_server_accepts(make_client, demo_private_pem: bytes) -> None:
    client = make_client(signer_backend="openssl")
    assert client.get_balance()["balance"] == DEMO_BALANCE_CENTS


def test_client_rate_limit_paces_requests(server: DemoServer, demo_private_pem: bytes) -> None:
    """With the real clock, 15 reads at 50/s with a 0.1 s burst take at least (15 - 5) / 50 s."""


    client = KalshiClient(
        server.base_url,
        rate_limiter=RateLimiter(RateLimitTier("t", 50, 50), burst_seconds=0.1),
        breaker_registry=BreakerRegistry(),
    )
    started = time.monotonic()
    for _ in range(15):
        client.get_exchange_status()
    assert time.monotonic() - started >= (15 - 5) / 50 * 0.95
    client.close()


def test_everything_the_client_fetches_parses_into_rows(make_client, exchange) -> None:
    """The current unit generation, as served and fetched, goes through the wire -> row parsers."""
    from datetime import UTC, datetime

    from kalshi_assets.kalshi import parse

    client = make_client()
    now = datetime.now(UTC).replace(tzinfo=None)
    market = _active_market(exchange)
    event_answer = client.get_event(market["event_ticker"])
    series_ticker = event_answer["event"]["series_ticker"]
    assert parse.parse_series(client.get_series(series_ticker), now)["series_ticker"] == series_ticker
    assert parse.parse_event(event_answer["event"], now)["event_ticker"] == market["event_ticker"]
    rows = [parse.parse_market(m, now) for m in client.get_markets(series_ticker=series_ticker)]
    assert {r["market_ticker"] for r in rows} >= {market["ticker"]}
    end = int(exchange.now.timestamp())
    candles = client.get_candlesticks(series_ticker, market["ticker"], end - 7 * 86400, end, 60)
    quotes = parse.parse_candlesticks(candles, market["ticker"], market["event_ticker"])
    assert len(quotes) == len(candles) > 0
    # An hour without trades (null price) parses to a NULL last price, and only such an hour.
    assert all((q["last_price"] is None) == (c["price"]["close_dollars"] is None)
               for q, c in zip(quotes, candles, strict=True))
    trades = [parse.parse_trade(t) for t in client.get_trades(market["ticker"])]
    assert trades and all(0 < t["yes_price"] < 1 for t in trades)
    book = parse.parse_orderbook({"orderbook_fp": client.get_orderbook(market["ticker"])}, market["ticker"])
    assert set(book) == {"yes", "no"}
    history = client.get_forecast_percentile_history(
        series_ticker, market["event_ticker"], [5000], end - 86400, end, 60
    )
    assert [row for point in history for row in parse.parse_forecast_percentiles(point, series_ticker)]


def test_rate_overrides_build_the_buckets() -> None:
    basic = KalshiClient("https://example.invalid/trade-api/v2", breaker_registry=BreakerRegistry())
    assert (basic.rate_limiter.reads.rate, basic.rate_limiter.writes.rate) == (20, 10)
    custom = KalshiClient(
        "https://example.invalid/trade-api/v2", tier="advanced", write_rate_per_s=5, breaker_registry=BreakerRegistry()
    )
    assert (custom.rate_limiter.reads.rate, custom.rate_limiter.writes.rate) == (30, 5)
    with pytest.raises(ValueError, match="unknown rate-limit tier"):
        KalshiClient("https://example.invalid/trade-api/v2", tier="gold")
