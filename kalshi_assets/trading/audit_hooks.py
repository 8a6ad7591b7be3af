"""Callbacks that put the Kalshi client's breaker changes and API calls into the audit log."""

from __future__ import annotations

from typing import Any

from kalshi_assets.kalshi.breaker import BreakerRegistry, BreakerStats, StateChangeCallback
from kalshi_assets.kalshi.client import RequestCallback


def breaker_state_recorder(audit_log: Any, user_id: str | None) -> StateChangeCallback:
    """An `on_state_change` callback writing one BREAKER_STATE record per transition."""

    def record(name: str, from_state: str, to_state: str, stats: BreakerStats) -> None:
        audit_log.log_breaker_state(
            user_id,
            breaker=name,
            from_state=from_state,
            to_state=to_state,
            reason=stats.last_failure,
            details=stats.as_dict(),
        )

    return record


def api_call_recorder(audit_log: Any, user_id: str | None) -> RequestCallback:
    """An `on_request` callback of KalshiClient writing one API_CALL record per HTTP attempt."""

    def record(method: str, path: str, status: int | None, elapsed_ms: float, code: str | None) -> None:
        audit_log.log_api_call(
            user_id, method=method, path=path, status_code=status, duration_ms=round(elapsed_ms, 3), error=code
        )

    return record


def audited_breaker_registry(audit_log: Any, user_id: str | None, **settings: Any) -> BreakerRegistry:
    """A breaker registry whose every state change is an audit record (settings: thresholds, clock)."""
    return BreakerRegistry(on_state_change=breaker_state_recorder(audit_log, user_id), **settings)
