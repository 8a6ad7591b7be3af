"""The loopback demo server over raw HTTP: auth, pagination, limits, faults, orders and the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests

from kalshi_assets.demo.exchange import DemoExchange
from kalshi_assets.demo.keys import DEMO_API_KEY_ID, demo_key_pair
from kalshi_assets.demo.server import (
    API_PREFIX,
    DemoServer,
    FaultConfig,
    Faults,
    ServerRateLimits,
    _paper_order,
    decode_cursor,
    encode_cursor,
)
from kalshi_assets.kalshi.signing import CryptographySigner, auth_headers, load_private_key, now_ms


@pytest.fixture(scope="module")
def exchange() -> DemoExchange:
    return DemoExchange(seed=7)


@pytest.fixture(scope="module")
def signer() -> CryptographySigner:
    return CryptographySigner(load_private_key(demo_key_pair()[0]))


@pytest.fixture
def server(exchange: DemoExchange) -> Iterator[DemoServer]:
    with DemoServer(exchange, rate_limits=None) as running:
        yield running


def signed(signer: CryptographySigner, method: str, path: str, timestamp_ms: int | None = None) -> dict[str, str]:
    return auth_headers(DEMO_API_KEY_ID, signer, method, API_PREFIX + path, timestamp_ms)


def active_market(exchange: DemoExchange) -> dict:
    return next(m for m in exchange.markets(series_ticker="KXU3") if m["status"] == "active")


# --- authentication -------------------------------------------------------------------------------


def test_signature_checks(server: DemoServer, signer: CryptographySigner) -> None:
    url = server.base_url + "/portfolio/balance"
    assert requests.get(url, headers=signed(signer, "GET", "/portfolio/balance"), timeout=5).status_code == 200
    # The query string is not part of the signed message.
    assert (
        requests.get(url + "?subaccount=0", headers=signed(signer, "GET", "/portfolio/balance"), timeout=5).status_code
        == 200
    )
    cases = {
        "unsigned": {},
        "stale": signed(signer, "GET", "/portfolio/balance", now_ms() - 5 * 60 * 1000),
        "future": signed(signer, "GET", "/portfolio/balance", now_ms() + 5 * 60 * 1000),
        "other path": signed(signer, "GET", "/portfolio/orders"),
        "other method": signed(signer, "POST", "/portfolio/balance"),
        "seconds not ms": signed(signer, "GET", "/portfolio/balance", now_ms() // 1000),
        "missing signature": {
            k: v for k, v in signed(signer, "GET", "/portfolio/balance").items() if k != "KALSHI-ACCESS-SIGNATURE"
        },
        "unknown key": signed(signer, "GET", "/portfolio/balance") | {"KALSHI-ACCESS-KEY": "someone-else"},
        "bad timestamp": signed(signer, "GET", "/portfolio/balance") | {"KALSHI-ACCESS-TIMESTAMP": "yesterday"},
    }
    for name, headers in cases.items():
        answer = requests.get(url, headers=headers, timeout=5)
        assert answer.status_code == 401, name
        assert answer.json()["error"]["code"] == "authentication_error", name
    # Within the allowed skew (30 s) a slightly old timestamp is fine.
    fresh_enough = signed(signer, "GET", "/portfolio/balance", now_ms() - 20_000)
    assert requests.get(url, headers=fresh_enough, timeout=5).status_code == 200


def test_public_paths_need_no_signature_but_a_bad_one_is_refused(
    server: DemoServer, signer: CryptographySigner
) -> None:
    url = server.base_url + "/exchange/status"
    assert requests.get(url, timeout=5).status_code == 200
    stale = signed(signer, "GET", "/exchange/status", now_ms() - 3_600_000)
    assert requests.get(url, headers=stale, timeout=5).status_code == 401


# --- routing, parameters, pagination --------------------------------------------------------------


def test_unknown_paths_methods_and_bad_parameters(server: DemoServer, exchange: DemoExchange) -> None:
    base = server.base_url
    assert requests.get(base + "/nope", timeout=5).status_code == 404
    assert requests.get(f"http://127.0.0.1:{server.port}/v1/markets", timeout=5).status_code == 404
    assert requests.delete(base + "/markets", timeout=5).status_code == 405
    for params in ({"cursor": ""}, {"cursor": "garbage"}, {"limit": 0}, {"limit": 1001}, {"limit": "x"}):
        answer = requests.get(base + "/markets", params=params, timeout=5)
        assert answer.status_code == 400, params
        assert set(answer.json()["error"]) == {"code", "message", "service"}
    assert requests.get(base + "/events", params={"limit": 201}, timeout=5).status_code == 400
    assert requests.get(base + "/events", params={"status": "bogus"}, timeout=5).status_code == 400
    market = active_market(exchange)
    candles = f"{base}/series/KXU3/markets/{market['ticker']}/candlesticks"
    assert requests.get(candles, params={"start_ts": 1}, timeout=5).status_code == 400
    assert requests.get(candles, params={"start_ts": 1, "end_ts": 2, "period_interval": 5}, timeout=5).status_code == 400
    wrong_series = f"{base}/series/KXCPI/markets/{market['ticker']}/candlesticks"
    assert requests.get(wrong_series, params={"start_ts": 1, "end_ts": 2, "period_interval": 60}, timeout=5).status_code == 404
    too_many = ",".join([market["ticker"]] * 101)
    batch = {"market_tickers": too_many, "start_ts": 1, "end_ts": 2, "period_interval": 60}
    assert requests.get(base + "/markets/candlesticks", params=batch, timeout=5).status_code == 400


def test_cursor_round_trip() -> None:
    for offset in (0, 1, 999, 123456):
        assert decode_cursor(encode_cursor(offset)) == offset


def test_raw_pagination_covers_every_market_once(server: DemoServer, exchange: DemoExchange) -> None:
    seen: list[str] = []
    params: dict[str, object] = {"limit": 100}
    pages = 0
    while True:
        answer = requests.get(server.base_url + "/markets", params=params, timeout=10).json()
        pages += 1
        seen.extend(m["ticker"] for m in answer["markets"])
        if not answer["cursor"]:
            break
        params["cursor"] = answer["cursor"]
    expected = [m["ticker"] for m in exchange.markets(tier="live")]
    assert seen == expected and len(set(seen)) == len(seen)
    assert pages == -(-len(expected) // 100)


def test_filters(server: DemoServer, exchange: DemoExchange) -> None:
    base = server.base_url
    settled = requests.get(base + "/events", params={"series_ticker": "KXGDP", "status": "settled"}, timeout=5).json()
    assert settled["events"] and all(e["series_ticker"] == "KXGDP" for e in settled["events"])
    tickers = [m["ticker"] for m in exchange.markets(series_ticker="KXGDP", tier="live")][:3]
    chosen = requests.get(base + "/markets", params={"tickers": ",".join(tickers)}, timeout=5).json()["markets"]
    assert sorted(m["ticker"] for m in chosen) == sorted(tickers)
    assert requests.get(base + "/markets", params={"mve_filter": "only"}, timeout=5).json()["markets"] == []
    end = int(exchange.now.timestamp())
    open_later = requests.get(base + "/markets", params={"min_close_ts": end, "limit": 1000}, timeout=5).json()
    assert open_later["markets"] and all(m["status"] == "active" for m in open_later["markets"])


# --- rate limits ----------------------------------------------------------------------------------


def test_rate_limit_answers_429_like_kalshi_with_separate_buckets(
    exchange: DemoExchange, signer: CryptographySigner
) -> None:
    with DemoServer(exchange, rate_limits=ServerRateLimits(reads_per_second=3, writes_per_second=2)) as server:
        url = server.base_url + "/exchange/status"
        statuses = [requests.get(url, timeout=5).status_code for _ in range(6)]
        assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
        answer = requests.get(url, timeout=5)
        assert answer.status_code == 429
        assert answer.json() == {"error": "too many requests"}
        assert "Retry-After" not in answer.headers
        # A signed caller has its own bucket (per API key), and writes have theirs.
        assert requests.get(url, headers=signed(signer, "GET", "/exchange/status"), timeout=5).status_code == 200
        market = active_market(exchange)
        order = {"ticker": market["ticker"], "side": "yes", "action": "buy", "count": 1, "yes_price_dollars": "0.01"}
        posted = [
            requests.post(
                server.base_url + "/portfolio/orders",
                json=order | {"client_order_id": f"rl-{n}"},
                headers=signed(signer, "POST", "/portfolio/orders"),
                timeout=5,
            ).status_code
            for n in range(4)
        ]
        assert posted[:2] == [201, 201] and 429 in posted[2:]
        time.sleep(0.6)  # the read bucket refills at 3/s
        assert requests.get(url, timeout=5).status_code == 200


# --- faults ---------------------------------------------------------------------------------------


def test_fault_switches(server: DemoServer) -> None:
    url = server.base_url + "/exchange/status"
    server.faults.configure(error_rate=1.0, error_status=503)
    answer = requests.get(url, timeout=5)
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "injected_fault"
    server.faults.configure(error_rate=0.0, truncate_rate=1.0)
    answer = requests.get(url, timeout=5)
    assert answer.status_code == 200
    assert int(answer.headers["Content-Length"]) == len(answer.content)
    with pytest.raises(ValueError):
        json.loads(answer.content)
    server.faults.configure(truncate_rate=0.0, drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=5)
    server.faults.configure(drop_rate=0.0, latency_s=0.15)
    started = time.monotonic()
    assert requests.get(url, timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.15
    server.faults.clear()
    assert server.faults.config == FaultConfig(seed=None)
    assert server.stats.dropped == 1 and server.stats.truncated == 1


def test_scripted_faults_match_path_prefixes_in_order() -> None:
    faults = Faults()
    faults.force_status(429, times=2, path_prefix="/portfolio")
    faults.force_drop(1)
    assert faults.draw("/markets")[1].kind == "drop"
    assert faults.draw("/markets")[1] is None
    assert faults.draw("/portfolio/orders")[1].status == 429
    assert faults.pending() == 1


def test_random_faults_are_reproducible_with_a_seed() -> None:
    def sequence() -> list[str | None]:
        faults = Faults(FaultConfig(error_rate=0.3, drop_rate=0.2, truncate_rate=0.1, seed=11))
        return [(f.kind if f else None) for _, f in (faults.draw("/x") for _ in range(200))]

    first = sequence()
    assert first == sequence()
    counts = {kind: first.count(kind) for kind in ("status", "drop", "truncate", None)}
    assert 35 <= counts["status"] <= 85 and 20 <= counts["drop"] <= 60 and 5 <= counts["truncate"] <= 35


def test_fault_config_validation() -> None:
    with pytest.raises(ValueError):
        FaultConfig(error_rate=1.5)
    with pytest.raises(ValueError):
        FaultConfig(latency_s=-1)
    with pytest.raises(ValueError):
        FaultConfig(error_status=200)


# --- orders ---------------------------------------------------------------------------------------


def post_order(server: DemoServer, signer: CryptographySigner, body: dict) -> requests.Response:
    return requests.post(
        server.base_url + "/portfolio/orders",
        data=json.dumps(body),
        headers=signed(signer, "POST", "/portfolio/orders") | {"Content-Type": "application/json"},
        timeout=5,
    )


def test_orders_duplicates_and_validation(server: DemoServer, signer: CryptographySigner, exchange) -> None:
    market = active_market(exchange)
    body = {
        "ticker": market["ticker"],
        "side": "yes",
        "action": "buy",
        "count": 2,
        "yes_price": 1,  # legacy integer cents are still accepted
        "client_order_id": "c-1",
    }
    first = post_order(server, signer, body)
    assert first.status_code == 201
    assert first.json()["order"]["yes_price_dollars"] == "0.0100"
    duplicate = post_order(server, signer, body)
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "order_already_exists"
    assert len(server.api.orders) == 1
    bad_bodies = [
        body | {"client_order_id": "c-2", "side": "up"},
        body | {"client_order_id": "c-3", "count": 0},
        body | {"client_order_id": "c-4", "yes_price": None, "yes_price_dollars": "1.20"},
        body | {"client_order_id": "c-5", "no_price_dollars": "0.40"},
        body | {"client_order_id": "c-6", "time_in_force": "forever"},
        {k: v for k, v in body.items() if k != "ticker"},
    ]
    for bad in bad_bodies:
        assert post_order(server, signer, bad).status_code == 400, bad
    assert post_order(server, signer, body | {"client_order_id": "c-7", "ticker": "KXNOPE-1"}).status_code == 404
    settled = next(m for m in exchange.markets(series_ticker="KXU3") if m["status"] == "finalized")
    closed = post_order(server, signer, body | {"client_order_id": "c-8", "ticker": settled["ticker"]})
    assert closed.status_code == 400 and closed.json()["error"]["code"] == "market_closed"
    raw = requests.post(
        server.base_url + "/portfolio/orders",
        data=b"{not json",
        headers=signed(signer, "POST", "/portfolio/orders"),
        timeout=5,
    )
    assert raw.status_code == 400


def test_paper_fill_at_the_touch_with_the_kalshi_fee() -> None:
    """Kalshi's fee schedule: 10 contracts at $0.50 pay a $0.18 taker fee."""
    book = {"yes_dollars": [["0.4800", "50.00"]], "no_dollars": [["0.4900", "20.00"], ["0.5000", "100.00"]]}
    request = {
        "ticker": "T",
        "side": "yes",
        "action": "buy",
        "count": 10,
        "yes_price": Decimal("0.55"),
        "time_in_force": "good_till_canceled",
        "client_order_id": "x",
    }
    order = _paper_order(request, book, Decimal(1))
    assert order["status"] == "executed"
    assert order["taker_fill_cost_dollars"] == "5.0000"
    assert order["taker_fees_dollars"] == "0.1800"
    # Below the ask it rests; fill-or-kill cancels; a larger order fills only the top level.
    assert _paper_order(request | {"yes_price": Decimal("0.40")}, book, Decimal(1))["status"] == "resting"
    fok = _paper_order(request | {"yes_price": Decimal("0.40"), "time_in_force": "fill_or_kill"}, book, Decimal(1))
    assert (fok["status"], fok["fill_count_fp"], fok["remaining_count_fp"]) == ("canceled", "0.00", "0.00")
    big = _paper_order(request | {"count": 150}, book, Decimal(1))
    assert (big["status"], big["fill_count_fp"], big["remaining_count_fp"]) == ("resting", "100.00", "50.00")
    sell = _paper_order(request | {"action": "sell", "yes_price": Decimal("0.45")}, book, Decimal(1))
    assert sell["status"] == "executed" and sell["taker_fill_cost_dollars"] == "4.8000"


# --- lifecycle and the CLI ------------------------------------------------------------------------


def test_binds_to_loopback_only(exchange: DemoExchange) -> None:
    with pytest.raises(ValueError, match="loopback"):
        DemoServer(exchange, host="0.0.0.0")  # noqa: S104 - the point of the test
    with DemoServer(exchange, host="localhost") as server:
        assert requests.get(server.base_url + "/exchange/status", timeout=5).status_code == 200


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cli_runs_the_server_as_a_subprocess(stop: signal.Signals) -> None:
    """Started by a parent that blocks SIGINT (a child inherits the signal mask: a test runner or a job
    supervisor may block it), the server still stops on SIGINT and SIGTERM."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "kalshi_assets.cli", "demo-server", "--port", "0", "--tier", "premier"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert "serving at http://127.0.0.1:" in line, line + (process.stderr.read() if process.stderr else "")
        base_url = line.split("serving at ", 1)[1].split()[0]
        assert base_url.endswith(API_PREFIX) and "historical tier before 2026-08-03T00:00:00Z" in line
        assert requests.get(base_url + "/exchange/status", timeout=10).json()["exchange_active"] is True
    finally:
        process.send_signal(stop)
        try:
            # Drain both pipes while waiting: a child blocked writing to a full pipe would never exit.
            _, errors = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, errors = process.communicate()
    assert process.returncode == 0, errors[-3000:]


def test_cli_rejects_bad_fault_settings() -> None:
    from kalshi_assets.cli import main

    assert main(["demo-server", "--error-rate", "2"]) == 1
    assert main(["demo-server", "--tier", "platinum"]) == 1


def test_bad_content_length_is_a_400(server: DemoServer) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /trade-api/v2/portfolio/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n{}"
        )
        answer = sock.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 400") and "Server: KalshiDemo/1.0\r\n" in answer
