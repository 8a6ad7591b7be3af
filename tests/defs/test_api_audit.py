"""The pipeline's API clients (Kalshi's and FRED's) share one audited breaker registry: every call is an
API_CALL record, every breaker change a BREAKER_STATE record, and `kalshi-assets status` shows them."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from kalshi_assets.audit import API_CALL, BREAKER_STATE, query_log, verify_log
from kalshi_assets.defs.resources import MacroResource, MarketDataResource, api_audit
from kalshi_assets.demo.server import DemoServer
from kalshi_assets.kalshi.breaker import FAILURE_THRESHOLD, RECOVERY_TIMEOUT_S, SUCCESS_THRESHOLD
from kalshi_assets.macro.alfred import FredError
from kalshi_assets.macro.sources import EventRef
from kalshi_assets.service import breaker_status
from tests.macro.fake_fred import LATEST, TEST_KEY, FakeFredServer, FakeFredState, Period

PAYROLLS_AUG = EventRef("KXPAYROLLS-26AUG", "KXPAYROLLS", datetime(2026, 9, 4, 12, 30))


def test_the_breaker_defaults_are_the_integration_promises() -> None:
    assert (FAILURE_THRESHOLD, RECOVERY_TIMEOUT_S, SUCCESS_THRESHOLD) == (5, 60.0, 2)
    resilience = MarketDataResource().resilience
    assert (resilience.breaker_failure_threshold, resilience.breaker_recovery_timeout_s,
            resilience.breaker_success_threshold) == (5, 60.0, 2)


def test_alfred_calls_are_audited_behind_their_own_breaker_in_the_same_registry(tmp_path: Path) -> None:
    audit = tmp_path / "audit"
    state = FakeFredState(api_key=TEST_KEY, series={"PAYEMS": [
        Period(date(2026, 8, 1), date(2026, 9, 4), LATEST, "54.0")]})
    with FakeFredServer(state) as fred, DemoServer(rate_limits=None) as kalshi:
        macro = MacroResource(source="alfred", fred_api_key=TEST_KEY, fred_base_url=fred.url,
                              audit_directory=str(audit), alfred_backoff_s=0.001)
        records = macro.get_source().vintages([PAYROLLS_AUG])
        assert [r.value for r in records] == [54000.0]
        market_data = MarketDataResource(source="api", base_url=kalshi.base_url, audit_directory=str(audit))
        assert market_data.get_source().series(["KXCPI"])[0]["ticker"] == "KXCPI"
        _, registry = api_audit(str(audit))
        assert registry.names() == ["alfred", "kalshi"]
        assert market_data.get_client().breaker is registry.get("kalshi")

        state.queued_statuses = [500] * 20  # FRED down: each call's retries fail, the fifth failed call opens it
        macro_source = macro.get_source()
        for _ in range(5):
            with pytest.raises(FredError):
                macro_source.vintages([PAYROLLS_AUG])
        assert registry.get("alfred").state == "open" and registry.get("kalshi").state == "closed"
        api_audit(str(audit))[0].flush()
    calls = query_log(audit, event_type=API_CALL)
    paths = {c["payload"]["path"] for c in calls}
    assert paths == {"/fred/series/observations", "/series/KXCPI"}
    assert all(TEST_KEY not in str(c) for c in calls), "the FRED key travels in the query: never recorded"
    changes = query_log(audit, event_type=BREAKER_STATE)
    assert [(c["payload"]["breaker"], c["payload"]["to_state"]) for c in changes] == [("alfred", "open")]
    shown = {b["name"]: b["state"] for b in breaker_status(audit)["breakers"]}
    assert shown == {"alfred": "open"}
    assert verify_log(audit).ok
