"""Every Dagster resource of the code location, in one place (secrets through EnvVar).

No `from __future__ import annotations` in defs/: Dagster inspects real annotations (context types).
"""


import contextlib
import os
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from typing import Literal

import dagster as dg
import duckdb
from pydantic import Field, PrivateAttr

from kalshi_assets import settings as project_settings
from kalshi_assets.audit import (
    ANCHOR_ENV,
    PUBLIC_KEY_ENV,
    SIGNING_KEY_ENV,
    AuditLog,
    VerifyReport,
    default_audit_directory,
    verify_configured,
)
from kalshi_assets.catalog import load_catalog
from kalshi_assets.demo.exchange import HISTORICAL_CUTOFF_ENV, DemoExchange, parse_cutoff
from kalshi_assets.demo.server.routes import DemoApi
from kalshi_assets.demo.source import DemoMarketData, InProcessDemoClient
from kalshi_assets.kalshi.breaker import (
    FAILURE_THRESHOLD,
    RECOVERY_TIMEOUT_S,
    SUCCESS_THRESHOLD,
    BreakerRegistry,
    CircuitBreaker,
)
from kalshi_assets.kalshi.call_audit import ApiCallAuditor
from kalshi_assets.kalshi.client import DEMO_BASE_URL, KalshiClient
from kalshi_assets.kalshi.retry import RetryPolicy
from kalshi_assets.kalshi.source import ApiMarketData, MarketDataSource
from kalshi_assets.macro.alfred import API_KEY_ENV, FRED_BASE_URL, AlfredClient, classify_fred_outcome
from kalshi_assets.macro.demo_source import DemoVintageSource
from kalshi_assets.macro.sources import AlfredVintageSource, VintageSource
from kalshi_assets.trading import (
    Broker,
    LiveBroker,
    MarketDataBooks,
    PaperBroker,
    PositionBook,
    RiskManager,
    api_call_recorder,
    audited_breaker_registry,
    require_live_confirmation,
)
from kalshi_assets.warehouse import db


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file. Every writer asset also sits in the `duckdb_writer` pool."""

    path: str = Field(
        default_factory=lambda: str(project_settings.warehouse_path()),
        description="DuckDB file; defaults to $KALSHI_WAREHOUSE, else data/warehouse.duckdb in the repository.",
    )
    lock_timeout_s: float = Field(default=30.0, description="How long to wait for another process's write lock.")

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with db.connection(self.path, read_only=read_only, timeout_s=self.lock_timeout_s) as con:
            yield con


_DEMO_SCALE_HELP = "Demo exchange size multiplier (replica series); $KALSHI_DEMO_SCALE, default 1."


def _demo_scale() -> int:
    """One scale for the market data and the vintages of the same demo exchange."""
    return int(os.environ.get("KALSHI_DEMO_SCALE", "1"))


@cache
def _demo_exchange(seed: int, scale: int, historical_cutoff: str | None, catalog: str) -> DemoExchange:
    # One exchange per configuration per process: its event caches are what make ingestion fast.
    cutoff = parse_cutoff(historical_cutoff, what="demo_historical_cutoff") if historical_cutoff else None
    return DemoExchange(seed=seed, scale=scale, historical_cutoff=cutoff, catalog=load_catalog(catalog))


# The audit log's user id of the pipeline's own API calls (ingestion, outcomes), and the process-wide
# breakers of the APIs it reads (Kalshi's "kalshi", FRED's "alfred"), whose changes are audited.
PIPELINE_USER_ID = "kalshi-assets-pipeline"
_API_AUDITS: dict[str, tuple[ApiCallAuditor, BreakerRegistry]] = {}


def api_audit(audit_directory: str) -> tuple[ApiCallAuditor, BreakerRegistry]:
    """The auditor of API calls into the audit log at `audit_directory` and the breaker registry whose
    state changes it records: one of each per directory per process."""
    found = _API_AUDITS.get(audit_directory)
    if found is None:
        log_resource = AuditLogResource(directory=audit_directory)
        auditor = ApiCallAuditor(log_resource.get_log, PIPELINE_USER_ID)
        found = (auditor, BreakerRegistry(on_state_change=auditor.on_state_change))
        _API_AUDITS[audit_directory] = found
    return found


class ApiResilience(dg.Config):
    """One retry budget and the breaker around it, set together: the breaker counts a call once, after
    all its attempts failed (a fault a retry absorbs never counts), and opens after
    `breaker_failure_threshold` such calls in a row; retries stop when it opens."""

    retry_max_attempts: int = Field(default=10, description="attempts of one call (its whole retry budget)")
    retry_base_delay_s: float = Field(default=0.25, description="backoff: uniform(0, base * 2**n), capped")
    retry_max_delay_s: float = Field(default=4.0, description="longest wait between two attempts")
    breaker_failure_threshold: int = Field(default=FAILURE_THRESHOLD, description="failed calls in a row that open it")
    breaker_recovery_timeout_s: float = Field(default=RECOVERY_TIMEOUT_S, description="seconds open before a probe")
    breaker_success_threshold: int = Field(default=SUCCESS_THRESHOLD, description="good probes in a row that close it")

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.retry_max_attempts, base_delay_s=self.retry_base_delay_s,
                           max_delay_s=self.retry_max_delay_s)

    def breaker(self, registry: BreakerRegistry, name: str, **overrides: object) -> CircuitBreaker:
        return registry.get(name, failure_threshold=self.breaker_failure_threshold,
                            recovery_timeout_s=self.breaker_recovery_timeout_s,
                            success_threshold=self.breaker_success_threshold, **overrides)


class MarketDataResource(dg.ConfigurableResource):
    """Kalshi market data: the embedded demo exchange (default) or Kalshi's API (both tiers) through the client.

    Market data is public: without `api_key_id` and a key the API source reads unsigned. Every request of the
    API source is an API_CALL record in the audit log at `audit_directory`, and the client's breaker changes
    are BREAKER_STATE records (shown by `kalshi-assets status` and the `kalshi_api_breakers` asset).
    """

    source: Literal["demo", "api"] = "demo"
    demo_seed: int = 7
    demo_scale: int = Field(default_factory=lambda: _demo_scale(), description=_DEMO_SCALE_HELP)
    demo_historical_cutoff: str | None = Field(
        default_factory=lambda: os.environ.get(HISTORICAL_CUTOFF_ENV) or None,
        description="Demo exchange: markets settled before this UTC time (and trades before it) are served only "
        "under /historical/*; default $KALSHI_DEMO_HISTORICAL_CUTOFF, else 90 days before the demo's now.",
    )
    base_url: str = "https://external-api.kalshi.com/trade-api/v2"
    # Credentials: give them as EnvVars ({env: KALSHI_...}); repr=False keeps them out of reprs and logs.
    api_key_id: str | None = Field(default=None, repr=False)
    private_key_path: str | None = None
    private_key_pem: str | None = Field(default=None, repr=False)
    passphrase: str | None = Field(default=None, repr=False)
    read_rate_per_s: float = 20.0
    write_rate_per_s: float = 10.0
    series: list[str] | None = Field(
        default=None,
        description="Series to ingest; default: every demo series, or the catalog's default_series for the API.",
    )
    resilience: ApiResilience = Field(default_factory=ApiResilience)
    audit_directory: str = Field(
        default_factory=lambda: str(default_audit_directory()),
        description="Audit log of the API source's calls; defaults to the audit_log resource's directory.",
    )
    _client: KalshiClient | None = PrivateAttr(default=None)
    _source: ApiMarketData | None = PrivateAttr(default=None)

    def tracked_series(self) -> list[str] | None:
        if self.series is not None:
            return list(self.series)
        if self.source == "demo":
            return None  # every series the demo exchange lists (replicas included at scale > 1)
        return list(load_catalog().default_series)

    def get_source(self) -> MarketDataSource:
        if self.source == "demo":
            catalog = str(load_catalog().path)
            return DemoMarketData(_demo_exchange(self.demo_seed, self.demo_scale, self.demo_historical_cutoff, catalog))
        if self._source is None:  # one source per resource (per run): the historical cutoff is read once
            self._source = ApiMarketData(self.get_client())
        return self._source

    def get_client(self) -> KalshiClient:
        """The Kalshi client for `source: api`: signed when a key is configured, audited, behind the "kalshi"
        breaker of the process's API registry."""
        if self._client is None:
            auditor, registry = api_audit(self.audit_directory)
            self.resilience.breaker(registry, "kalshi")
            self._client = KalshiClient(
                self.base_url,
                api_key_id=self.api_key_id or None,
                private_key_path=self.private_key_path or None,
                private_key_pem=self.private_key_pem or None,
                passphrase=self.passphrase or None,
                read_rate_per_s=self.read_rate_per_s,
                write_rate_per_s=self.write_rate_per_s,
                retry=self.resilience.retry_policy(),
                breaker_registry=registry,
                breaker_name="kalshi",
                on_request=auditor.on_request,
            )
        return self._client

    def read_only_client(self) -> tuple[object, str]:
        """(client, what it talks to) for `kalshi-assets doctor`: the same exchange and key as `get_client`,
        but outside the pipeline's breakers and audit log (a diagnosis changes nothing)."""
        if self.source == "demo":
            exchange = _demo_exchange(self.demo_seed, self.demo_scale, self.demo_historical_cutoff,
                                      str(load_catalog().path))
            return InProcessDemoClient(DemoApi(exchange, rate_limits=None)), "demo exchange (in process)"
        client = KalshiClient(
            self.base_url, api_key_id=self.api_key_id or None, private_key_path=self.private_key_path or None,
            private_key_pem=self.private_key_pem or None, passphrase=self.passphrase or None,
            read_rate_per_s=self.read_rate_per_s, write_rate_per_s=self.write_rate_per_s,
            retry=RetryPolicy(max_attempts=2), breaker_registry=BreakerRegistry(),
        )  # fmt: skip
        return client, f"{self.base_url} ({'signed' if client.authenticated else 'unsigned'})"

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """End of a step: every buffered API_CALL record is written, the connection pool closed."""
        if self._client is not None:
            api_audit(self.audit_directory)[0].flush()
            self._client.close()
            self._client, self._source = None, None


class SettingsResource(dg.ConfigurableResource):
    """Research settings a run may override from the launchpad (defaults from settings.py)."""

    purge_window_days: dict[str, int] = Field(
        default_factory=lambda: project_settings.purge_windows(),
        description="Purge window in days per event type (default: the series catalog's purge classes).",
    )
    default_purge_window_days: int = project_settings.DEFAULT_PURGE_WINDOW_DAYS
    max_spread: float = project_settings.QuoteRules.max_spread
    max_staleness_hours: float = project_settings.QuoteRules.max_staleness_hours

    def purge_days(self, event_type: str) -> int:
        # An override of one event type ({"CPI": 5}) keeps the others' windows from the catalog.
        windows = {**project_settings.purge_windows(), **self.purge_window_days}
        return int(windows.get(event_type, self.default_purge_window_days))


# --- audit log (issue 4) ---------------------------------------------------------------------


class AuditLogResource(dg.ConfigurableResource):
    """The tamper-evident audit log (kalshi_assets.audit). One `AuditLog` per process, opened lazily.

    The checkpoint's HMAC key comes from the KALSHI_AUDIT_HMAC_KEY environment variable when set
    (stronger: stored apart from the log), else from a 0600 key file inside the directory. Anchors
    outside the directory (docs/AUDIT.md) make the log unforgeable by a writer of the directory:
    a signing key, a public key to verify with, and/or an anchor file of published checkpoints.
    With any anchor configured, the `audit_chain_intact` check runs in strict mode.
    """

    directory: str = Field(
        default_factory=lambda: str(default_audit_directory()),
        description="Audit log directory; defaults to $KALSHI_AUDIT_DIR, else audit/ beside the warehouse file.",
    )
    fsync: Literal["batch", "always", "off"] = Field(
        default="batch", description="batch: group commit (durable, fast); always: one fsync per record; off: none."
    )
    max_segment_bytes: int = Field(default=16 * 1024 * 1024, description="Rotate a segment past this size.")
    max_segment_age_s: float = Field(default=24 * 3600.0, description="Rotate a segment this old (seconds).")
    signing_key_path: str | None = Field(
        default_factory=lambda: os.environ.get(SIGNING_KEY_ENV) or None,
        description="Ed25519 private key (PEM) outside the directory that signs each checkpoint; "
        "default $KALSHI_AUDIT_SIGNING_KEY. Its passphrase, if any, is $KALSHI_AUDIT_SIGNING_KEY_PASSPHRASE.",
    )
    public_key_path: str | None = Field(
        default_factory=lambda: os.environ.get(PUBLIC_KEY_ENV) or None,
        description="Ed25519 public key(s) (PEM, ':'-separated) the check verifies signatures with; default "
        "$KALSHI_AUDIT_PUBLIC_KEY, else the signing key's own public key.",
    )
    anchor: str | None = Field(
        default_factory=lambda: os.environ.get(ANCHOR_ENV) or None,
        description="Where checkpoints are published: a file outside the directory the writer cannot rewrite, "
        "or 'stdout' for a SIEM; default $KALSHI_AUDIT_ANCHOR.",
    )
    anchor_interval_s: float = Field(default=1.0, description="Publish at most one checkpoint per interval (seconds).")

    def get_log(self) -> AuditLog:
        # One open log per configuration per process, so every asset of a step shares one group commit.
        key = (self.directory, self.fsync, self.max_segment_bytes, self.max_segment_age_s, self.signing_key_path,
               self.public_key_path, self.anchor, self.anchor_interval_s)
        log = _AUDIT_LOGS.get(key)
        if log is None or log.closed:
            log = AuditLog(
                self.directory,
                fsync=self.fsync,
                max_segment_bytes=self.max_segment_bytes,
                max_segment_age=self.max_segment_age_s,
                signing_key=self.signing_key_path,
                trusted_public_keys=self._public_key_paths(),
                anchor=self.anchor,
                anchor_interval=self.anchor_interval_s,
            )
            _AUDIT_LOGS[key] = log
        return log

    @property
    def anchored(self) -> bool:
        """True when an anchor outside the directory is configured: verification is then strict."""
        return bool(self.signing_key_path or self.public_key_path or self._anchor_file())

    def verify(self) -> VerifyReport:
        """Verify the log with the configured anchors (the signing key's public key if none is given)."""
        return verify_configured(
            self.directory,
            signing_key_path=self.signing_key_path,
            public_key_paths=self._public_key_paths(),
            anchor=self.anchor,
        )

    def _public_key_paths(self) -> list[str]:
        return [p for p in (self.public_key_path or "").split(os.pathsep) if p]

    def _anchor_file(self) -> str | None:
        return self.anchor if self.anchor and self.anchor != "stdout" else None


_AUDIT_LOGS: dict[tuple[object, ...], AuditLog] = {}


class ExtraVintage(dg.Config):
    """One more vintage published on top of the demo's (a test's revision, or a what-if)."""

    event_ticker: str
    vintage_time: str = Field(description="ISO-8601 UTC, not after the demo's now")
    value: float
    vintage: int | None = Field(default=None, description="Default: the next number for the event")


class MacroResource(dg.ConfigurableResource):
    """Where outcomes come from: the demo exchange's vintages (default) or FRED/ALFRED real-time periods.

    For `source: alfred` give the key as `fred_api_key: {env: FRED_API_KEY}` (an EnvVar, so the UI shows the
    variable's name, never its value); left empty, the client reads $FRED_API_KEY itself.
    """

    source: Literal["demo", "alfred"] = "demo"
    demo_seed: int = 7
    demo_scale: int = Field(default_factory=lambda: _demo_scale(), description=_DEMO_SCALE_HELP)
    extra_vintages: list[ExtraVintage] = Field(default_factory=list)
    fred_api_key: str | None = Field(default=None, repr=False)
    fred_base_url: str = FRED_BASE_URL
    alfred_window_days: int = Field(default=1000, description="FRED refuses spans of more than 2000 vintage dates")
    alfred_backoff_s: float = Field(default=1.0, description="first wait before retrying FRED (doubles each retry)")
    audit_directory: str = Field(
        default_factory=lambda: str(default_audit_directory()),
        description="Audit log of the ALFRED client's calls; defaults to the audit_log resource's directory.",
    )

    def get_source(self) -> VintageSource:
        """The configured source: vintages(events), now(), name."""
        if self.source == "demo":
            # The same exchange (and its event caches) as the market data's in the default configuration;
            # vintages do not depend on the historical cutoff.
            cutoff = os.environ.get(HISTORICAL_CUTOFF_ENV) or None
            return DemoVintageSource(
                _demo_exchange(self.demo_seed, self.demo_scale, cutoff, str(load_catalog().path)),
                extra_vintages=[
                    {k: v for k, v in extra.model_dump().items() if v is not None} for extra in self.extra_vintages
                ],
            )
        auditor, registry = api_audit(self.audit_directory)
        client = AlfredClient(
            self.fred_api_key, base_url=self.fred_base_url, on_request=auditor.on_request,
            backoff_seconds=self.alfred_backoff_s,
            breaker=ApiResilience().breaker(registry, "alfred", classify=classify_fred_outcome),
        )
        return AlfredVintageSource(client, window_days=self.alfred_window_days)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self.source == "alfred":
            api_audit(self.audit_directory)[0].flush()


def macro_from_environment() -> MacroResource:
    """The demo's vintages unless KALSHI_MACRO_SOURCE=alfred; the FRED key only ever travels through EnvVar."""
    if os.environ.get("KALSHI_MACRO_SOURCE", "demo") != "alfred":
        return MacroResource()
    return MacroResource(
        source="alfred",
        fred_api_key=dg.EnvVar(API_KEY_ENV),
        fred_base_url=os.environ.get("FRED_BASE_URL", FRED_BASE_URL),
    )


# --- trading (issue 8) -------------------------------------------------------------------------



class TradingResource(dg.ConfigurableResource):
    """How paper_orders trades: `mode` paper (fills against the market-data source's books) or live (orders
    on Kalshi through the signed client), the risk limits, and the user id its audit records carry.

    Live trading needs BOTH `mode: live` here AND the environment variable KALSHI_LIVE_TRADING=I_UNDERSTAND
    in the process that trades; without it, building the broker fails with an error saying so. The live
    connection defaults to Kalshi's demo environment; give keys as EnvVars (`api_key_id: {env: ...}`).
    """

    mode: Literal["paper", "live"] = "paper"
    user_id: str = Field(default="kalshi-assets-paper", description="audit log user id of the strategy account")
    max_position_per_market: int = project_settings.RiskLimits.max_position_per_market
    max_order_notional: float = Field(default=project_settings.RiskLimits.max_order_notional, description="dollars")
    max_daily_loss: float = Field(default=project_settings.RiskLimits.max_daily_loss, description="dollars")
    time_in_force: Literal["immediate_or_cancel", "fill_or_kill", "good_till_canceled"] = "immediate_or_cancel"
    capacity_window_hours: float = Field(default=24.0, description="contracts traded in this window cap the size")
    max_snapshot_age_hours: float = Field(default=6.0, description="older distribution snapshots are not traded on")
    max_days_to_release: float | None = Field(default=None, description="skip events released further out")
    prices_from: Literal["orderbook", "quotes"] = Field(
        default="orderbook",
        description="what the strategy prices its decisions on: the market-data source's order book now, or "
        "the warehouse's latest hourly quote (which can be an hour old)",
    )
    incubating_candidates: list[str] = Field(
        default_factory=lambda: [c.strip() for c in os.environ.get("KALSHI_PAPER_INCUBATE", "").split(",") if c.strip()],
        description="paper mode only: candidates paper-traded although not promoted (forward testing toward "
        "promotion), default $KALSHI_PAPER_INCUBATE (comma-separated); empty, nothing trades unless promoted",
    )
    live_base_url: str = DEMO_BASE_URL
    api_key_id: str | None = Field(default=None, repr=False)
    private_key_path: str | None = None
    private_key_pem: str | None = Field(default=None, repr=False)
    passphrase: str | None = Field(default=None, repr=False)
    breaker_failure_threshold: int = 5
    breaker_recovery_timeout_s: float = 30.0

    def risk_manager(self, book: PositionBook | None = None, marks: dict | None = None, clock=None) -> RiskManager:
        """The limits above over `book` (the account's positions), `marks` (YES mids) and `clock` (its UTC
        date is the trading day of the daily loss limit; default the wall clock)."""
        return RiskManager(
            self.max_position_per_market,
            Decimal(str(self.max_order_notional)),
            Decimal(str(self.max_daily_loss)),
            book=book,
            marks=marks,
            **({"clock": clock} if clock is not None else {}),
        )

    def get_broker(
        self,
        *,
        market_data: MarketDataResource,
        audit_log,
        fee_multipliers: dict | None = None,
        is_market_open=None,
    ) -> Broker:
        """PaperBroker for mode paper; LiveBroker (audited breaker and API calls) only for mode live with the
        environment's confirmation."""
        if self.mode == "paper":
            source = market_data.get_source()
            return PaperBroker(
                MarketDataBooks(source), fee_multipliers=fee_multipliers, is_market_open=is_market_open, now=source.now
            )
        require_live_confirmation()
        from kalshi_assets.kalshi.client import KalshiClient

        client = KalshiClient(
            self.live_base_url,
            api_key_id=self.api_key_id,
            private_key_path=self.private_key_path,
            private_key_pem=self.private_key_pem,
            passphrase=self.passphrase,
            breaker_registry=audited_breaker_registry(
                audit_log,
                self.user_id,
                failure_threshold=self.breaker_failure_threshold,
                recovery_timeout_s=self.breaker_recovery_timeout_s,
            ),
            breaker_name="kalshi_trading",
            on_request=api_call_recorder(audit_log, self.user_id),
        )
        return LiveBroker(client)
