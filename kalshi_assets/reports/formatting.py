"""How numbers and times read in tables people look at (the CLI's tables, the UI's previews).

Stored values keep their full precision; only what is displayed is rounded.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

SIGNIFICANT_DIGITS = 4


def display_number(value: float) -> str:
    """Four significant digits, never scientific notation for values people read (payrolls: 124,000)."""
    if math.isnan(value):
        return ""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    return f"{value:.{SIGNIFICANT_DIGITS}g}"


def display_value(value: Any) -> str:
    """A cell's text: numbers rounded for display, times to the minute when whole, no value as empty."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return display_number(value)
    if isinstance(value, Decimal):
        return display_number(float(value)) if abs(value) >= 10_000 else format(value.normalize(), "f")
    if isinstance(value, datetime):
        whole_minute = value.second == 0 and value.microsecond == 0
        return value.strftime("%Y-%m-%d %H:%M" if whole_minute else "%Y-%m-%d %H:%M:%S")
    return str(value)
