"""Event types of the audit log (upper-case constants; custom types must match `EVENT_TYPE_PATTERN`)."""

from __future__ import annotations

import re

API_CALL = "API_CALL"
ORDER = "ORDER"
TRADE = "TRADE"
RISK_VIOLATION = "RISK_VIOLATION"
BREAKER_STATE = "BREAKER_STATE"

EVENT_TYPES: tuple[str, ...] = (API_CALL, ORDER, TRADE, RISK_VIOLATION, BREAKER_STATE)

EVENT_TYPE_PATTERN = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


def validate_event_type(event_type: str) -> str:
    """Return `event_type` if it is an upper-case identifier, else raise ValueError."""
    if not isinstance(event_type, str) or not EVENT_TYPE_PATTERN.fullmatch(event_type):
        raise ValueError(
            f"event_type must be an upper-case identifier such as {ORDER!r}, got {event_type!r}"
        )
    return event_type
