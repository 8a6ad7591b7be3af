"""The unit each series' released value is published in: axis labels and table headers say it.

A demo replica series <base>R<n> (KXCPIR2) takes its base's unit; an event ticker's series is read from
the warehouse where one is at hand (`series_ticker` columns), never guessed from a title.
"""

from __future__ import annotations

import re

SERIES_UNITS: dict[str, str] = {
    "KXCPI": "% m/m",
    "CPI": "% m/m",
    "KXU3": "% of labour force",
    "U3": "% of labour force",
    "KXPAYROLLS": "jobs, m/m change",
    "PAYROLLS": "jobs, m/m change",
    "KXGDP": "% q/q, annualized",
    "GDP": "% q/q, annualized",
    "KXFED": "% (upper bound)",
    "FED": "% (upper bound)",
    "KXFEDDECISION": "bp change",
}
_REPLICA = re.compile(r"^(?P<base>[A-Z0-9]+?)R\d+$")


def value_unit(series_ticker: str | None) -> str | None:
    """The unit of a series' released value (None for a series this project does not know)."""
    if not series_ticker:
        return None
    if series_ticker in SERIES_UNITS:
        return SERIES_UNITS[series_ticker]
    match = _REPLICA.match(series_ticker)
    return SERIES_UNITS.get(match.group("base")) if match else None
