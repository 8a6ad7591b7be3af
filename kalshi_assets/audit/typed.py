"""Typed helpers: one method per event type, each building the payload that event type carries.

`api_call_entry` builds the same API_CALL entry as `log_api_call` without writing it, for callers
that buffer entries and write them with `AuditLog.append_many`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kalshi_assets.audit import events

Entry = tuple[str, str | None, Mapping[str, Any] | None]  # (event_type, user_id, payload)


def api_call_entry(
    user_id: str | None,
    *,
    method: str,
    path: str,
    status_code: int | None = None,
    duration_ms: float | None = None,
    request_id: str | None = None,
    headers: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    error: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Entry:
    """The (API_CALL, user_id, payload) entry of one Kalshi API request, for `append_many`."""
    return (
        events.API_CALL,
        user_id,
        {
            "method": method,
            "path": path,
            "status_code": status_code,
            "duration_ms": duration_ms,
            "request_id": request_id,
            "headers": dict(headers or {}),
            "params": dict(params or {}),
            "error": error,
            "details": dict(details or {}),
        },
    )


class TypedEvents:
    """Mixin of AuditLog: `log_api_call`, `log_order`, `log_trade`, `log_risk_violation`, `log_breaker_state`."""

    def append(self, event_type: str, user_id: str | None, payload: Mapping[str, Any] | None) -> dict[str, Any]:
        raise NotImplementedError

    def log_api_call(
        self,
        user_id: str | None,
        *,
        method: str,
        path: str,
        status_code: int | None = None,
        duration_ms: float | None = None,
        request_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        error: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One Kalshi API request (headers and params are scrubbed of credentials)."""
        return self.append(
            *api_call_entry(
                user_id,
                method=method,
                path=path,
                status_code=status_code,
                duration_ms=duration_ms,
                request_id=request_id,
                headers=headers,
                params=params,
                error=error,
                details=details,
            )
        )

    def log_order(
        self,
        user_id: str | None,
        *,
        client_order_id: str,
        ticker: str,
        side: str,
        action: str,
        count: int,
        status: str,
        price_cents: int | None = None,
        order_id: str | None = None,
        order_type: str = "limit",
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An order event (submitted, accepted, rejected, cancelled...)."""
        return self.append(
            events.ORDER,
            user_id,
            {
                "client_order_id": client_order_id,
                "order_id": order_id,
                "ticker": ticker,
                "side": side,
                "action": action,
                "count": count,
                "price_cents": price_cents,
                "order_type": order_type,
                "status": status,
                "details": dict(details or {}),
            },
        )

    def log_trade(
        self,
        user_id: str | None,
        *,
        trade_id: str,
        ticker: str,
        side: str,
        action: str,
        count: int,
        price_cents: int,
        order_id: str | None = None,
        client_order_id: str | None = None,
        fee_cents: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A fill."""
        return self.append(
            events.TRADE,
            user_id,
            {
                "trade_id": trade_id,
                "order_id": order_id,
                "client_order_id": client_order_id,
                "ticker": ticker,
                "side": side,
                "action": action,
                "count": count,
                "price_cents": price_cents,
                "fee_cents": fee_cents,
                "details": dict(details or {}),
            },
        )

    def log_risk_violation(
        self,
        user_id: str | None,
        *,
        rule: str,
        limit: Any,
        observed: Any,
        action: str,
        ticker: str | None = None,
        client_order_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A risk check that failed, and what was done about it (e.g. "rejected")."""
        return self.append(
            events.RISK_VIOLATION,
            user_id,
            {
                "rule": rule,
                "limit": limit,
                "observed": observed,
                "action": action,
                "ticker": ticker,
                "client_order_id": client_order_id,
                "details": dict(details or {}),
            },
        )

    def log_breaker_state(
        self,
        user_id: str | None,
        *,
        breaker: str,
        from_state: str,
        to_state: str,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A circuit breaker changed state (closed/open/half_open)."""
        return self.append(
            events.BREAKER_STATE,
            user_id,
            {
                "breaker": breaker,
                "from_state": from_state,
                "to_state": to_state,
                "reason": reason,
                "details": dict(details or {}),
            },
        )
