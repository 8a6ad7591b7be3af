"""What the research assets share: their group and small helpers (asset keys are in defs/keys.py)."""

import dagster as dg
import pandas as pd

from kalshi_assets.defs.metadata import markdown_table
from kalshi_assets.defs.resources import SettingsResource

GROUP = "research"
# Kalshi pays on the first print: trades always settle on it, whatever label mode cuts the folds.
SETTLEMENT_LABEL_MODE = "first_print"


def purge_windows(settings: SettingsResource, event_types: object) -> dict[str, int]:
    """The settings resource's window for every event type present (it owns the defaults)."""
    return {str(t): settings.purge_days(str(t)) for t in sorted(set(event_types))}  # type: ignore[call-overload]


def md(frame: pd.DataFrame, max_rows: int = 30) -> dg.MetadataValue:
    return dg.MetadataValue.md(markdown_table(frame, max_rows=max_rows))


def problems_md(problems: list[str], limit: int = 10) -> dg.MetadataValue:
    return dg.MetadataValue.md("\n".join(f"- {p}" for p in problems[:limit]) or "none")
