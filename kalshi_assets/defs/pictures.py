"""Pictures a person would rather see than read, attached to materializations (docs/ARCHITECTURE.md).

quantile_fan: the implied distribution of recent events over time against their first print.
calibration_curve: how often contracts priced at p settled YES, at a week, a day and an hour before release.
Each writes a PNG under <warehouse dir>/pictures/ and shows it in the UI (a Markdown image in the
materialization's metadata, plus the file's path).
"""

import base64
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from kalshi_assets.analytics import calibration
from kalshi_assets.analytics.distribution import DistributionParams
from kalshi_assets.defs import keys
from kalshi_assets.defs.metadata import WRITER_POOL, markdown_table, table_metadata
from kalshi_assets.defs.resources import MarketDataResource, SettingsResource, WarehouseResource
from kalshi_assets.reports import plots
from kalshi_assets.reports.units import value_unit
from kalshi_assets.times import naive_utc, naive_utc_timestamp
from kalshi_assets.warehouse import reports as reads
from kalshi_assets.warehouse import writes

GROUP = "reports"
PICTURES_DIR = "pictures"


def pictures_dir(warehouse: WarehouseResource) -> Path:
    """Pictures live beside the warehouse file they are drawn from."""
    return Path(warehouse.path).resolve().parent / PICTURES_DIR


def picture_metadata(path: Path, caption: str) -> dict[str, dg.MetadataValue]:
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return {
        "picture": dg.MetadataValue.md(f"![{caption}](data:image/png;base64,{encoded})"),
        "picture_path": dg.MetadataValue.path(str(path)),
        "picture_bytes": dg.MetadataValue.int(path.stat().st_size),
    }


class QuantileFanConfig(dg.Config):
    event_tickers: list[str] = Field(
        default_factory=list,
        description="Events to draw; empty: the latest released event of each type with enough snapshots.",
    )
    min_snapshots: int = Field(default=5, description="Snapshots an event needs to be picked by default.")


@dg.asset(
    group_name=GROUP,
    deps=[keys.DISTRIBUTION_SNAPSHOTS, keys.OUTCOMES_FIRST_PRINT],
    pool=WRITER_POOL,  # DuckDB: no reader may open the file while another process writes it
    kinds={"python", "matplotlib"},
)
def quantile_fan(
    context: dg.AssetExecutionContext, config: QuantileFanConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Quantile fan: the market-implied distribution of an event over time (5-95, 10-90, 25-75% bands and
    the median) against its first print, one panel per event type's latest released event."""
    with warehouse.connect(read_only=True) as con:
        events = reads.fan_events(con, config.min_snapshots, config.event_tickers or None)
        snapshots = reads.fan_snapshots(con, list(events["event_ticker"]))
    if events.empty or snapshots.empty:
        context.log.warning("no event has implied-distribution snapshots and a first print yet: no picture")
        return dg.MaterializeResult(metadata={"events": dg.MetadataValue.int(0)})
    panels = [
        plots.FanPanel(
            event_ticker=row.event_ticker,
            event_type=str(row.event_type),
            title=None if pd.isna(row.title) else str(row.title),
            snapshots=snapshots[snapshots["event_ticker"] == row.event_ticker],
            release_time=None if pd.isna(row.release_time) else naive_utc_timestamp(row.release_time),
            first_print=None if pd.isna(row.first_print) else float(row.first_print),
            unit=value_unit(None if pd.isna(row.series_ticker) else str(row.series_ticker)),
        )
        for row in events.itertuples(index=False)
    ]
    path = plots.quantile_fan(panels, pictures_dir(warehouse) / "quantile_fan.png")
    context.log.info(f"quantile fan of {len(panels)} event(s) written to {path}")
    return dg.MaterializeResult(
        metadata={
            **picture_metadata(path, "quantile fan"),
            "events": dg.MetadataValue.int(len(panels)),
            "snapshots_drawn": dg.MetadataValue.int(len(snapshots)),
            "drawn": dg.MetadataValue.md(markdown_table(events, max_rows=len(events))),
        }
    )


class CalibrationConfig(dg.Config):
    horizons_hours: list[int] = Field(
        default_factory=lambda: list(calibration.default_horizons()),
        description="Hours before each release at which contract probabilities are read.",
    )
    n_bins: int = Field(default=10, description="Probability bins of the reliability curve.")


@dg.asset(
    group_name=GROUP,
    deps=[keys.KALSHI_MARKETS, keys.KALSHI_QUOTES, keys.OUTCOMES_FIRST_PRINT],
    pool=WRITER_POOL,
    kinds={"duckdb", "matplotlib"},
)
def calibration_curve(
    context: dg.AssetExecutionContext,
    config: CalibrationConfig,
    warehouse: WarehouseResource,
    market_data: MarketDataResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    """Calibration curve of market-implied contract probabilities (reliability bins, Brier, ECE) per
    horizon before release, against what each contract settled on (the first print, else Kalshi's result)."""
    if not config.horizons_hours or min(config.horizons_hours) < 0:
        raise dg.Failure(f"horizons_hours must be non-negative hours, got {config.horizons_hours}")
    now = naive_utc(market_data.get_source().now())
    with warehouse.connect(read_only=True) as con:
        inputs = reads.calibration_inputs(con, config.horizons_hours, now)
    params = DistributionParams(max_spread=settings.max_spread, max_staleness_hours=settings.max_staleness_hours)
    forecasts = calibration.contract_forecasts(inputs, params)
    curves, scores = calibration.calibration_by_horizon(forecasts, config.n_bins)
    both, agree = calibration.outcome_agreement(inputs)
    computed_at = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("us")
    with warehouse.connect() as con:
        written = writes.replace_all(con, "calibration_bins", curves.assign(computed_at=computed_at))
        writes.replace_all(con, "calibration_scores", scores.assign(computed_at=computed_at))
        metadata = table_metadata(
            con, "calibration_bins", written, order_by="horizon_hours",
            scores=dg.MetadataValue.md(markdown_table(scores.round(4), max_rows=len(scores))),
            forecasts=dg.MetadataValue.int(len(forecasts)),
            outcome_checks=dg.MetadataValue.text(f"{agree}/{both} contracts: first print agrees with Kalshi's result"),
        )
    if curves.empty:
        context.log.warning("no settled contract had a usable quote at the horizons: no picture")
        return dg.MaterializeResult(metadata=metadata)
    path = plots.calibration_curve(curves, scores, pictures_dir(warehouse) / "calibration_curve.png")
    context.log.info(f"calibration curve over {len(forecasts)} forecasts written to {path}")
    return dg.MaterializeResult(metadata={**metadata, **picture_metadata(path, "calibration curve")})


defs = dg.Definitions(assets=[quantile_fan, calibration_curve])
