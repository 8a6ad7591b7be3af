"""`kalshi-assets doctor`: read-only checks of the configured exchange, as a structured report.

`diagnose(client, ...)` asks the exchange (Kalshi, the demo server, or the demo in process) for: its
status; the three historical cutoffs; the clock skew against its `Date` header (Kalshi rejects
signatures whose timestamp is outside a window); whether the key authenticates (the balance) and the
rate tier in use; which catalog series it knows. It never writes anything and never holds a secret:
the report names whether a key is configured, never the key. `render` turns the report into lines;
the exit status is `report.exit_status` (1 on any problem).
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kalshi_assets.catalog import Catalog
from kalshi_assets.kalshi.errors import KalshiError
from kalshi_assets.kalshi.parse import WireFormatError, parse_historical_cutoff

OK, WARN, PROBLEM, SKIPPED = "ok", "warn", "problem", "skipped"
# Signatures older or newer than this are at risk: the demo server refuses 30 s; stay well inside.
MAX_CLOCK_SKEW_S = 5.0


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # ok, warn, problem, skipped
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DoctorReport:
    source: str  # "api <base url>" or "demo (in process)"
    findings: tuple[Finding, ...]

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.status == PROBLEM]

    @property
    def exit_status(self) -> int:
        return 1 if self.problems else 0

    def finding(self, check: str) -> Finding:
        return next(f for f in self.findings if f.check == check)


def _ask(check: str, call: Callable[[], Finding]) -> Finding:
    """Run one check; an error of the exchange or of its answer is that check's problem, named."""
    try:
        return call()
    except (KalshiError, WireFormatError, KeyError, TypeError, ValueError) as exc:
        return Finding(check, PROBLEM, f"{type(exc).__name__}: {exc}")


def _exchange_status(client: Any) -> Finding:
    answer = client.get_exchange_status()
    active, trading = bool(answer.get("exchange_active")), bool(answer.get("trading_active"))
    if not active:
        return Finding("exchange status", PROBLEM, "the exchange is not active", dict(answer))
    if not trading:
        resume = answer.get("exchange_estimated_resume_time") or "unknown"
        return Finding("exchange status", WARN, f"exchange up, trading paused (resume: {resume})", dict(answer))
    return Finding("exchange status", OK, "exchange active, trading active", dict(answer))


def _cutoffs(client: Any) -> Finding:
    cutoff = parse_historical_cutoff(client.get_historical_cutoff())
    data = {"market_settled_ts": cutoff.market_settled.isoformat(), "trades_created_ts": cutoff.trades_created.isoformat(),
            "orders_updated_ts": cutoff.orders_updated.isoformat()}
    detail = (f"markets settled before {cutoff.market_settled:%Y-%m-%d %H:%M}, trades before "
              f"{cutoff.trades_created:%Y-%m-%d %H:%M}, orders before {cutoff.orders_updated:%Y-%m-%d %H:%M} (UTC) "
              "are served under /historical/*")
    return Finding("historical cutoffs", OK, detail, data)


def _clock_skew(client: Any, now: Callable[[], datetime]) -> Finding:
    if not hasattr(client, "last_date_header"):
        return Finding("clock skew", SKIPPED, "the demo in process has no clock of its own")
    client.get_exchange_status()
    local = now()
    header = client.last_date_header
    if not header:
        return Finding("clock skew", WARN, "the exchange's answer carried no Date header")
    server = email.utils.parsedate_to_datetime(header)
    skew = (local - server).total_seconds()  # Date has whole seconds: up to 1 s of it is rounding
    data = {"server_date": header, "skew_seconds": round(skew, 3), "limit_seconds": MAX_CLOCK_SKEW_S}
    if abs(skew) > MAX_CLOCK_SKEW_S:
        return Finding("clock skew", PROBLEM, f"this clock is {skew:+.1f} s off the exchange's: signatures will be "
                       "refused; synchronize the clock (NTP)", data)
    return Finding("clock skew", OK, f"{skew:+.1f} s against the exchange's Date header", data)


def _key(client: Any, configured_tier: str | None) -> Finding:
    if not getattr(client, "authenticated", False):
        return Finding("API key", SKIPPED, "no key configured: public market data only (unsigned); orders need "
                       "KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH",
                       {"configured_tier": configured_tier})
    balance = client.get_balance()
    limits = client.get_account_limits()
    tier = str(limits.get("usage_tier"))
    data = {"balance_cents": balance.get("balance"), "usage_tier": tier, "read_limit": limits.get("read_limit"),
            "write_limit": limits.get("write_limit"), "configured_tier": configured_tier}
    detail = (f"the key authenticates (balance ${int(balance.get('balance') or 0) / 100:,.2f}); account tier "
              f"{tier}: {limits.get('read_limit')} reads/s, {limits.get('write_limit')} writes/s")
    if configured_tier and limits.get("read_limit") is not None:
        detail += f"; the client is configured for {configured_tier}"
    return Finding("API key", OK, detail, data)


def _series(client: Any, catalog: Catalog, tracked: Sequence[str]) -> Finding:
    known, unknown = [], []
    for ticker in catalog.series:
        try:
            client.get_series(ticker)
            known.append(ticker)
        except KalshiError as exc:
            if exc.status != 404:
                raise
            unknown.append(ticker)
    missing = [t for t in tracked if catalog.lookup(t) is not None and catalog.lookup(t).ticker in unknown]
    data = {"known": known, "unknown": unknown, "tracked_but_unknown": missing}
    detail = f"the exchange knows {len(known)} of {len(catalog.series)} catalog series"
    if unknown:
        detail += f"; not: {', '.join(unknown)}"
    if missing:
        return Finding("catalog series", PROBLEM, detail + f"; the pipeline tracks {', '.join(missing)}", data)
    return Finding("catalog series", OK if not unknown else WARN, detail, data)


def diagnose(
    client: Any,
    catalog: Catalog,
    *,
    source: str,
    tracked_series: Sequence[str] = (),
    configured_tier: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DoctorReport:
    """Every check against `client` (a KalshiClient, or the demo's in-process client); read-only."""
    findings = (
        _ask("exchange status", lambda: _exchange_status(client)),
        _ask("historical cutoffs", lambda: _cutoffs(client)),
        _ask("clock skew", lambda: _clock_skew(client, now)),
        _ask("API key", lambda: _key(client, configured_tier)),
        _ask("catalog series", lambda: _series(client, catalog, tracked_series)),
    )
    return DoctorReport(source, findings)


_MARKS = {OK: "ok  ", WARN: "warn", PROBLEM: "FAIL", SKIPPED: "skip"}


def render(report: DoctorReport) -> list[str]:
    """The report as lines for a terminal (no secret is ever part of a report)."""
    width = max(len(f.check) for f in report.findings)
    lines = [f"kalshi-assets doctor: {report.source}"]
    lines += [f"  [{_MARKS[f.status]}] {f.check:<{width}}  {f.detail}" for f in report.findings]
    problems = report.problems
    lines.append(f"{len(problems)} problem(s): " + ", ".join(f.check for f in problems) if problems else "no problems")
    return lines
