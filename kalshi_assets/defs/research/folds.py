"""walkforward_folds and cpcv_splits: every event's role in every fold or split, and why."""

from datetime import timedelta
from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from kalshi_assets.analytics import cpcv
from kalshi_assets.analytics.purge import (
    PurgedWalkForward,
    events_without_label,
    labelled_samples,
    purged_by_event_type,
    role_table_violations,
    roles_per_fold,
    stale_purge_windows,
)
from kalshi_assets.defs import keys
from kalshi_assets.defs.metadata import WRITER_POOL, table_metadata
from kalshi_assets.defs.research.common import GROUP, md, problems_md, purge_windows
from kalshi_assets.defs.resources import SettingsResource, WarehouseResource
from kalshi_assets.times import utc_now
from kalshi_assets.warehouse import research as store

LabelMode = Literal["first_print", "latest"]
LABEL_MODE_DESCRIPTION = "Which label's known-at time ends an event's label interval."


class WalkforwardFoldsConfig(dg.Config):
    n_test_events: int = Field(default=12, description="Events per test block.")
    min_train_events: int = Field(default=24, description="Events released before the first test block.")
    mode: Literal["expanding", "rolling"] = "expanding"
    window_events: int | None = Field(default=None, description="Rolling mode: the latest N earlier events.")
    label_mode: LabelMode = Field(default="first_print", description=LABEL_MODE_DESCRIPTION)


@dg.asset(group_name=GROUP, deps=[keys.EVENT_FEATURES, keys.EVENT_LABELS], pool=WRITER_POOL, kinds={"duckdb"})
def walkforward_folds(
    context: dg.AssetExecutionContext,
    config: WalkforwardFoldsConfig,
    warehouse: WarehouseResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    """Walk-forward folds in release order, purged with the event types' windows, grouped by event: every
    event's role in every fold (train, test, purged, excluded) and why. No embargo: a walk-forward never
    trains on what follows its test block (docs/METHODS.md section 3)."""
    with warehouse.connect() as con:
        features = store.read_features(con)
        labels = store.read_labels(con, config.label_mode)
    samples = labelled_samples(features, labels)
    windows = purge_windows(settings, samples["event_type"])
    splitter = PurgedWalkForward(
        n_test_events=config.n_test_events,
        min_train_events=config.min_train_events,
        mode=config.mode,
        window=config.window_events,
        purge_windows=windows,
    )
    roles = splitter.roles(samples).assign(mode=config.mode, label_mode=config.label_mode, computed_at=utc_now())
    n_events = samples["event_ticker"].nunique()
    folds = int(roles["fold"].nunique())
    if folds == 0:
        context.log.warning(
            f"walkforward_folds: {n_events} events with features and labels; no fold needs more than "
            f"min_train_events={config.min_train_events}"
        )
    with warehouse.connect() as con:
        written = store.replace_tables(con, {store.FOLDS_TABLE: roles})[store.FOLDS_TABLE]
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                store.FOLDS_TABLE,
                written,
                order_by="fold",
                folds=dg.MetadataValue.int(folds),
                events=dg.MetadataValue.int(int(n_events)),
                events_without_label=dg.MetadataValue.int(events_without_label(features, samples)),
                purge_windows_days=dg.MetadataValue.json(windows),
                purged_by_event_type=dg.MetadataValue.json(purged_by_event_type(roles)),
                roles_per_fold=md(roles_per_fold(roles), max_rows=60),
            )
        )


@dg.asset_check(asset=walkforward_folds, blocking=True, description="No training event overlaps its test block.")
def folds_purged(warehouse: WarehouseResource, settings: SettingsResource) -> dg.AssetCheckResult:
    """Re-checks every fold from the stored rows: no train event's widened label interval overlaps a test
    event's, none is released after its test block, and each event's purge window is the current setting."""
    with warehouse.connect(read_only=True) as con:
        roles = store.read_folds(con)
    problems = role_table_violations(roles) + stale_purge_windows(roles, purge_windows(settings, roles["event_type"]))
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={
            "rows_checked": dg.MetadataValue.int(len(roles)),
            "violations": dg.MetadataValue.int(len(problems)),
            "examples": problems_md(problems),
        },
    )


class CpcvSplitsConfig(dg.Config):
    n_groups: int = Field(default=6, description="N: consecutive groups of events in release order.")
    n_test_groups: int = Field(default=2, description="k: test groups per split; C(N, k) splits.")
    embargo_days: float = Field(
        default=2.0, description="Training events starting this soon after a test group's widened end are dropped."
    )
    label_mode: LabelMode = Field(default="first_print", description=LABEL_MODE_DESCRIPTION)


@dg.asset(group_name=GROUP, deps=[keys.EVENT_FEATURES, keys.EVENT_LABELS], pool=WRITER_POOL, kinds={"duckdb"})
def cpcv_splits(
    context: dg.AssetExecutionContext,
    config: CpcvSplitsConfig,
    warehouse: WarehouseResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    """Combinatorial purged CV: C(N, k) splits of the events, purged on both sides of each test group with
    the event types' windows and embargoed after it; every event's role in every split, why, and the
    backtest path each test event feeds (docs/METHODS.md section 3)."""
    with warehouse.connect() as con:
        features = store.read_features(con)
        labels = store.read_labels(con, config.label_mode)
    samples = labelled_samples(features, labels)
    windows = purge_windows(settings, samples["event_type"])
    splitter = cpcv.CombinatorialPurgedCV(
        n_groups=config.n_groups,
        n_test_groups=config.n_test_groups,
        embargo=timedelta(days=config.embargo_days),
        purge_windows=windows,
    )
    n_events = samples["event_ticker"].nunique()
    if n_events < config.n_groups:  # like a walk-forward without folds: nothing to split yet
        context.log.warning(f"cpcv_splits: {n_events} events with features and labels cannot fill "
                            f"{config.n_groups} groups; no splits")
        roles = pd.DataFrame(columns=list(cpcv.SPLIT_COLUMNS))
    else:
        roles = splitter.roles(samples)
    roles = roles.assign(
        n_groups=config.n_groups, embargo_hours=config.embargo_days * 24, label_mode=config.label_mode,
        computed_at=utc_now(),
    )
    splits = int(roles["split"].nunique())
    context.log.info(f"cpcv_splits: {splits} splits, {splitter.n_paths} paths over {n_events} events")
    with warehouse.connect() as con:
        written = store.replace_tables(con, {store.SPLITS_TABLE: roles})[store.SPLITS_TABLE]
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                store.SPLITS_TABLE,
                written,
                order_by="split",
                splits=dg.MetadataValue.int(splits),
                paths=dg.MetadataValue.int(splitter.n_paths if splits else 0),
                events=dg.MetadataValue.int(int(n_events)),
                embargoed=dg.MetadataValue.int(int((roles["role"] == "embargoed").sum())),
                purge_windows_days=dg.MetadataValue.json(windows),
                roles_per_split=md(roles_per_fold(roles, cpcv.CPCV_ROLES, by="split"), max_rows=60),
            )
        )


@dg.asset_check(
    asset=cpcv_splits, blocking=True,
    description="No training event meets a test event or sits in an embargo; every event is tested once per path.",
)
def splits_purged_and_embargoed(warehouse: WarehouseResource, settings: SettingsResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        roles = store.read_splits(con)
    embargo = timedelta(hours=float(roles["embargo_hours"].max())) if len(roles) else timedelta(0)
    problems = cpcv.split_violations(roles, embargo) + stale_purge_windows(
        roles, purge_windows(settings, roles["event_type"])
    )
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={
            "rows_checked": dg.MetadataValue.int(len(roles)),
            "violations": dg.MetadataValue.int(len(problems)),
            "examples": problems_md(problems),
        },
    )


defs = dg.Definitions(
    assets=[walkforward_folds, cpcv_splits], asset_checks=[folds_purged, splits_purged_and_embargoed]
)
