"""API-backed ingestion over the demo server's HTTP, both of Kalshi's tiers: the same tables as in process,
every call audited, faults absorbed, bad answers refused by name with nothing stored changed."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from kalshi_assets.audit import API_CALL, BREAKER_STATE, query_log, verify_log
from kalshi_assets.defs import ingest
from kalshi_assets.defs.resources import ApiResilience, MarketDataResource
from kalshi_assets.demo.exchange import DemoExchange
from kalshi_assets.demo.keys import DEMO_API_KEY_ID, demo_key_pair
from kalshi_assets.demo.server import DemoServer, FaultConfig, Faults, ServerRateLimits
from kalshi_assets.service import breaker_status
from tests.defs.ingest_runs import (
    COMPARED,
    differences,
    ingest_into,
    ingest_metadata,
    ingest_partitions,
    table_rows,
)
from tests.demo.test_demo_fingerprint import INGESTED_WHOLE_HISTORY
from tests.fingerprint import table_fingerprints

HISTORY = ("2024-10-01", "2026-10-31")
# Four weeks around the demo's historical cutoff (2026-08-03): trades of both tiers, split markets included.
AROUND_CUTOFF = ("2026-07-20", "2026-08-16")
FAST_RETRIES = ApiResilience(retry_base_delay_s=0.002, retry_max_delay_s=0.02)


def api(server: DemoServer, audit: Path, *, signed: bool = True, **overrides) -> MarketDataResource:
    key = {"api_key_id": DEMO_API_KEY_ID, "private_key_pem": demo_key_pair()[0].decode()} if signed else {}
    settings = {"source": "api", "base_url": server.base_url, "read_rate_per_s": 1000.0,
                "audit_directory": str(audit), "resilience": FAST_RETRIES, **key}
    return MarketDataResource(**{**settings, **overrides})


@pytest.mark.slow
def test_whole_history_over_signed_http_equals_the_in_process_tables_and_every_call_is_audited(
    tmp_path: Path,
) -> None:
    faults = Faults(FaultConfig(error_rate=0.05, error_status=503, seed=11))
    with DemoServer(faults=faults, rate_limits=ServerRateLimits(reads_per_second=400, writes_per_second=10)) as server:
        faults.force_status(429, times=3, path_prefix="/markets")  # a burst, like Kalshi's: no Retry-After
        faults.force_status(429, times=2, path_prefix="/historical")
        market_data = api(server, tmp_path / "audit", read_rate_per_s=400.0)
        assert ingest_metadata(tmp_path / "api.duckdb", market_data).success
        assert ingest_partitions(tmp_path / "api.duckdb", *HISTORY, market_data, assets=(ingest.kalshi_quotes,)).success
        assert ingest_partitions(tmp_path / "api.duckdb", *AROUND_CUTOFF, market_data,
                                 assets=(ingest.kalshi_trades,)).success
        requests_received = server.stats.total
        tiers = dict(server.api.tier_requests)
        statuses = dict(server.stats.by_status)
    print(f"\nwhole history over HTTP: {requests_received} requests; by tier {tiers}; by status {statuses}")

    # The whole history is row for row what the in-process ingest gave before the historical tier existed.
    assert table_fingerprints(tmp_path / "api.duckdb") == INGESTED_WHOLE_HISTORY
    local = tmp_path / "local.duckdb"
    assert ingest_metadata(local).success
    assert ingest_partitions(local, *AROUND_CUTOFF, assets=(ingest.kalshi_trades,)).success
    rows, only_http, only_local = differences(tmp_path / "api.duckdb", local, COMPARED["kalshi_trades"])
    assert rows > 10_000 and (only_http, only_local) == (0, 0)
    assert table_rows(local, "SELECT count(*) FROM kalshi_trades WHERE ts < '2026-08-03'")[0][0] > 1000

    assert tiers["historical"] > 500 and tiers["live"] > 100, "both tiers must be asked"
    assert {429, 503} <= set(statuses), "the faults were not exercised"
    calls = query_log(tmp_path / "audit", event_type=API_CALL)
    assert len(calls) == requests_received, "one API_CALL record per request the server received"
    assert {c["payload"]["status_code"] for c in calls} >= {200, 429, 503}
    assert verify_log(tmp_path / "audit").ok


@pytest.fixture(scope="module")
def upstream_in_process(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two series, their markets, and two days of quotes and trades around the cutoff, in process."""
    path = tmp_path_factory.mktemp("upstream") / "local.duckdb"
    ingest_into(path, "2026-08-02", "2026-08-03", MarketDataResource(series=["KXCPI", "KXFED"]))
    return path


@pytest.mark.slow
def test_upstream_ingest_survives_30_percent_faults_in_ten_seeded_runs(tmp_path: Path, upstream_in_process: Path) -> None:
    """issue 14: 503s, dropped connections, truncated JSON and 429s, 7.5% each; every seeded run succeeds
    (the retries absorb what they should; the breaker counts calls, not attempts) and equals in process."""
    outcomes, attempts = [], 0
    for seed in range(10):
        config = FaultConfig(error_rate=0.075, error_status=503, drop_rate=0.075, truncate_rate=0.075,
                             throttle_rate=0.075, seed=seed)
        with DemoServer(faults=Faults(config), rate_limits=None) as server:
            path, market_data = tmp_path / f"run{seed}.duckdb", api(server, tmp_path / f"audit{seed}",
                                                                   series=["KXCPI", "KXFED"])
            metadata = ingest_metadata(path, market_data)
            partitions = ingest_partitions(path, "2026-08-02", "2026-08-03", market_data) if metadata.success else None
            outcomes.append(bool(metadata.success and partitions is not None and partitions.success))
            attempts += server.stats.total
            assert server.stats.dropped and server.stats.truncated and {429, 503} <= set(server.stats.by_status)
        for name, sql in COMPARED.items():
            rows, only_api, only_local = differences(path, upstream_in_process, sql)
            assert rows > 0 and (only_api, only_local) == (0, 0), f"run {seed}: {name} differs"
    assert outcomes == [True] * 10
    assert attempts > 10 * 100


def test_one_archived_and_one_live_event_each_come_from_their_tier(tmp_path: Path) -> None:
    """KXCPI-26MAY settled before the cutoff (only /historical/* serves its markets, candles and trades);
    KXCPI-26SEP after it. Skipping either tier would leave that event's rows missing."""
    exchange = DemoExchange()
    events = {"KXCPI-26MAY": "historical", "KXCPI-26SEP": "live"}
    assert {e: "historical" if exchange.event_archived(e) else "live" for e in events} == events
    # Each event's days, from its first market's open to its last market's close (the days between the two
    # belong to other events, which this test does not look at).
    lives = [(min(m["open_time"] for m in ms)[:10], max(m["close_time"] for m in ms)[:10])
             for ms in (exchange.markets(event_ticker=event) for event in events)]
    with DemoServer(exchange, rate_limits=None, record_responses=True) as server:
        path = tmp_path / "w.duckdb"
        assert ingest_metadata(path, api(server, tmp_path / "audit", series=["KXCPI"])).success
        for first_day, last_day in lives:
            assert ingest_partitions(path, first_day, last_day, api(server, tmp_path / "audit")).success
        paths = [p.split("?")[0] for _, p, _, status, _ in server.api.responses if status == 200]
    assert any("/historical/markets/KXCPI-26MAY-" in p for p in paths) and "/trade-api/v2/historical/trades" in paths
    assert "/trade-api/v2/markets/candlesticks" in paths and "/trade-api/v2/markets/trades" in paths
    for event in events:
        markets = exchange.markets(event_ticker=event)
        candles = sum(len(exchange.candlesticks(m["ticker"], 0, 2**40)) for m in markets)
        trades = sum(len(exchange.trades(m["ticker"])) for m in markets)
        assert len(markets) > 5 and candles > 1000 and trades > 1000
        ingested = table_rows(path, f"""SELECT (SELECT count(*) FROM kalshi_markets WHERE event_ticker = '{event}'),
            (SELECT count(*) FROM kalshi_quotes WHERE event_ticker = '{event}'),
            (SELECT count(*) FROM kalshi_trades WHERE event_ticker = '{event}')""")
        assert ingested == [(len(markets), candles, trades)], f"{event} ({events[event]} tier)"


def test_unsigned_ingestion_reads_the_public_market_data(tmp_path: Path) -> None:
    """No key configured: the API source reads unsigned. The server refuses every signature here (another
    key id), so the ingest succeeding shows that nothing was signed."""
    with DemoServer(rate_limits=None, api_key_id="a-key-nobody-has") as server:
        market_data = api(server, tmp_path / "audit", signed=False, series=["KXGDP"])
        assert market_data.get_client().authenticated is False
        path = tmp_path / "w.duckdb"
        assert ingest_metadata(path, market_data).success
        assert ingest_partitions(path, "2026-07-28", "2026-07-31", market_data).success
        assert 401 not in server.stats.by_status
    counts = table_rows(path, "SELECT (SELECT count(*) FROM kalshi_markets), (SELECT count(*) FROM kalshi_quotes), "
                              "(SELECT count(*) FROM kalshi_trades)")[0]
    assert all(count > 0 for count in counts), counts


class _BrokenExchange(DemoExchange):
    """The demo exchange with one answer broken the way a real feed can break."""

    def __init__(self, breakage: str) -> None:
        super().__init__()
        self.breakage = breakage

    def candlesticks(self, ticker, start_ts, end_ts, period_interval=60, *, historical=False):
        candles = super().candlesticks(ticker, start_ts, end_ts, period_interval, historical=historical)
        if self.breakage == "historical_candle_price" and ticker == "KXCPI-26MAY-T0.3" and candles:
            close = "close" if historical else "close_dollars"  # the shape the route serves
            candles[0] = {**candles[0], "yes_ask": {**candles[0]["yes_ask"], close: "about 0.4"}}
        return candles

    def markets(self, event_ticker=None, series_ticker=None, status=None, tickers=None, tier=None):
        markets = super().markets(event_ticker, series_ticker, status, tickers, tier)
        if self.breakage == "both_tiers" and tier == "live" and event_ticker == "KXCPI-26MAY":
            archived = super().markets(event_ticker, tier="historical")
            markets = [*markets, {**archived[0], "result": "yes" if archived[0]["result"] == "no" else "no"}]
        return markets

    def historical_cutoffs(self):
        cutoffs = super().historical_cutoffs()
        if self.breakage == "cutoff_field":
            del cutoffs["trades_created_ts"]
        return cutoffs


@pytest.fixture(scope="module")
def stored_over_http(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """KXCPI's markets and May 2026 quotes and trades, ingested over HTTP from a sound exchange."""
    root = tmp_path_factory.mktemp("stored")
    with DemoServer(rate_limits=None) as server:
        market_data = api(server, root / "audit", series=["KXCPI"])
        ingest_into(root / "w.duckdb", "2026-05-01", "2026-05-31", market_data)
    return root / "w.duckdb"


@pytest.mark.parametrize(
    ("breakage", "asset", "message"),
    [
        ("historical_candle_price", ingest.kalshi_quotes,
         "market KXCPI-26MAY-T0.3 candle at 1779454800.yes_ask.close: expected a number, got 'about 0.4'"),
        ("both_tiers", ingest.kalshi_markets,
         "market KXCPI-26MAY-T0.2: served by both the live and the historical tier with different contents "
         "(fields result)"),
        ("cutoff_field", ingest.kalshi_trades, "historical cutoff: missing required field 'trades_created_ts'"),
    ],
    ids=["historical candle price", "ticker in both tiers", "cutoff field missing"],
)
def test_a_bad_answer_fails_naming_the_object_and_nothing_stored_changes(
    stored_over_http: Path, tmp_path: Path, breakage: str, asset, message: str
) -> None:
    path = tmp_path / "w.duckdb"
    path.write_bytes(stored_over_http.read_bytes())
    before = table_fingerprints(path) | {"trades": table_rows(path, "SELECT * FROM kalshi_trades ORDER BY ALL")}
    with DemoServer(_BrokenExchange(breakage), rate_limits=None) as server:
        market_data = api(server, tmp_path / "audit", series=["KXCPI"])
        if asset is ingest.kalshi_markets:
            result = dg.materialize([asset], resources={**_resources(path, market_data)}, raise_on_error=False)
        else:
            result = ingest_partitions(path, "2026-05-01", "2026-05-31", market_data, assets=(asset,))
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert message in (error.cause.message if error.cause else error.message)
    after = table_fingerprints(path) | {"trades": table_rows(path, "SELECT * FROM kalshi_trades ORDER BY ALL")}
    assert after == before and len(before["trades"]) > 1000


def _resources(path: Path, market_data: MarketDataResource) -> dict:
    from tests.defs.ingest_runs import resources

    return resources(path, market_data)


def test_a_dead_server_fails_the_ingest_naming_the_refused_connection_and_the_breaker_shows_in_status(
    tmp_path: Path,
) -> None:
    with DemoServer() as server:
        base_url = server.base_url  # stopped on leaving: nothing listens there any more
    market_data = MarketDataResource(source="api", base_url=base_url, audit_directory=str(tmp_path / "audit"),
                                     resilience=ApiResilience(retry_max_attempts=2, retry_base_delay_s=0.001,
                                                              breaker_failure_threshold=1))
    result = dg.materialize([ingest.kalshi_series], resources=_resources(tmp_path / "w.duckdb", market_data),
                            raise_on_error=False)
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert "Connection refused" in (error.cause.message if error.cause else error.message)
    changes = query_log(tmp_path / "audit", event_type=BREAKER_STATE)
    assert [(c["payload"]["breaker"], c["payload"]["to_state"]) for c in changes] == [("kalshi", "open")]
    assert len(query_log(tmp_path / "audit", event_type=API_CALL)) == 2
    shown = {b["name"]: b for b in breaker_status(tmp_path / "audit")["breakers"]}
    assert shown["kalshi"]["state"] == "open" and "Connection refused" in str(shown["kalshi"])
