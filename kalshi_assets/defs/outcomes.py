"""Outcomes: first prints (written once), revisions (append-only vintages), the latest view, and labels.

Sources: the macro resource (the demo's vintages, or FRED/ALFRED) and Kalshi's own settlements
(`result`, `expiration_value`, `settlement_ts` on kalshi_markets). The vintage source is read first, so
a first print from the statistical agency wins over Kalshi's copy of it; a later source that disagrees
with a stored first print is recorded in outcomes_first_print_reports and a check warns.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field

from kalshi_assets.analytics import outcomes as calc
from kalshi_assets.defs import keys
from kalshi_assets.defs.metadata import WRITER_POOL, markdown_table, table_metadata
from kalshi_assets.defs.resources import MacroResource, WarehouseResource
from kalshi_assets.macro.alfred import FredError
from kalshi_assets.macro.sources import (
    SourceError,
    VintageSource,
    event_refs,
    vintage_frame,
    vintages_known_at,
)
from kalshi_assets.times import naive_utc_timestamp, utc_now
from kalshi_assets.warehouse import outcomes as store

GROUP = "outcomes"


# --- helpers ---------------------------------------------------------------------------------------


def _source_vintages(
    context: dg.AssetExecutionContext, macro: MacroResource, releases: pd.DataFrame
) -> tuple[VintageSource, pd.DataFrame]:
    source = macro.get_source()
    try:
        records = source.vintages(event_refs(releases))
    except (SourceError, FredError) as error:  # neither message carries a key
        raise dg.Failure(f"the {source.name} outcome source failed: {error}") from error
    now = source.now()
    known = vintages_known_at(records, now)
    if len(known) < len(records):
        context.log.warning(
            f"{len(records) - len(known)} vintages dated after the source's now ({now}) were left out"
        )
    return source, vintage_frame(known)


def _fingerprint_metadata(
    con: duckdb.DuckDBPyConnection,
    last_recorded: Callable[[duckdb.DuckDBPyConnection], datetime | None] = store.last_recorded_at,
    fingerprint: Callable[..., tuple[int, str]] = store.first_print_fingerprint,
) -> dict[str, Any]:
    """The rows recorded so far and their fingerprint: later checks compare the same rows against it."""
    recorded_through = last_recorded(con)
    rows, digest = fingerprint(con, recorded_through)
    return {
        "fingerprint": dg.MetadataValue.text(digest),
        "fingerprint_rows": dg.MetadataValue.int(rows),
        "recorded_through": dg.MetadataValue.text(
            "" if recorded_through is None else recorded_through.isoformat()
        ),
    }


# --- assets ------------------------------------------------------------------------------------------


@dg.asset(group_name=GROUP, deps=[keys.KALSHI_EVENTS, keys.KALSHI_MARKETS], pool=WRITER_POOL, kinds={"duckdb"})
def outcomes_first_print(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, macro: MacroResource
) -> dg.MaterializeResult:
    """One row per event: the first printed value, when it was released, and its source. Written once
    (insert if absent) and never changed; a later source that disagrees is recorded, not applied."""
    with warehouse.connect() as con:
        releases = store.read_event_releases(con)
        markets = store.read_settled_markets(con)
    source, vintages = _source_vintages(context, macro, releases)
    candidates, settlement_conflicts = calc.first_print_candidates(vintages, markets, releases)
    if len(settlement_conflicts):
        context.log.warning(
            f"{len(settlement_conflicts)} events whose settled markets disagree on the expiration value were "
            f"not used: {settlement_conflicts['event_ticker'].tolist()[:10]}"
        )
    now = utc_now()
    with warehouse.connect() as con:
        inserted = store.insert_first_prints(con, candidates, recorded_at=now)
        store.upsert_first_print_reports(con, candidates, seen_at=now)
        conflicts = store.read_conflicts(con)
        if len(conflicts):
            context.log.warning(
                f"{len(conflicts)} first-print reports disagree with the stored first print (stored values kept)"
            )
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                "outcomes_first_print",
                inserted,
                order_by="release_time",
                source=dg.MetadataValue.text(source.name),
                candidates_by_source=dg.MetadataValue.json(candidates["source"].value_counts().to_dict()),
                disagreements=dg.MetadataValue.int(len(conflicts)),
                settlement_conflicts=dg.MetadataValue.int(len(settlement_conflicts)),
                **_fingerprint_metadata(con),
            )
        )


@dg.asset(group_name=GROUP, deps=[keys.KALSHI_EVENTS], pool=WRITER_POOL, kinds={"duckdb"})
def outcomes_revisions(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, macro: MacroResource
) -> dg.MaterializeResult:
    """Every vintage of every event (event, vintage time, value, source), appended; a replay adds nothing.
    `outcomes_latest` (a view) is each event's last vintage."""
    with warehouse.connect() as con:
        releases = store.read_event_releases(con)
    source, vintages = _source_vintages(context, macro, releases)
    now = utc_now()
    with warehouse.connect() as con:
        appended = store.append_revisions(con, vintages, recorded_at=now)
        stored = store.read_revisions(con)
        latest = store.read_latest(con)
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                "outcomes_revisions",
                appended,
                order_by="vintage_time",
                **_fingerprint_metadata(con, store.last_revision_recorded_at, store.revision_fingerprint),
                source=dg.MetadataValue.text(source.name),
                vintages_from_source=dg.MetadataValue.int(len(vintages)),
                events=dg.MetadataValue.int(int(stored["event_ticker"].nunique()) if len(stored) else 0),
                events_revised=dg.MetadataValue.int(calc.events_revised(stored)),
                latest_preview=dg.MetadataValue.md(
                    markdown_table(latest.sort_values("vintage_time").tail(5))
                ),
            )
        )


@dg.asset(group_name=GROUP, deps=[keys.OUTCOMES_REVISIONS], kinds={"duckdb"})
def outcomes_latest(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Each event's newest vintage: a view over outcomes_revisions (ordered by vintage time, then vintage
    number), so it can never drift from the revisions. Materializing it reports what it shows."""
    with warehouse.connect(read_only=True) as con:
        latest = store.read_latest(con)
        revised = int((latest["vintage"] > 1).sum()) if len(latest) else 0
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                "outcomes_latest",
                0,
                order_by="vintage_time",
                events=dg.MetadataValue.int(len(latest)),
                events_past_first_vintage=dg.MetadataValue.int(revised),
            )
        )


class EventLabelsConfig(dg.Config):
    as_of: str | None = Field(
        default=None,
        description="Knowledge time T (ISO-8601 UTC): labels use only vintages known at T. Default: the "
        "outcome source's now (the demo's end, or the present for ALFRED).",
    )


@dg.asset(
    group_name=GROUP,
    # distribution_snapshots: event_labels reads it when its table exists.
    deps=[keys.OUTCOMES_FIRST_PRINT, keys.OUTCOMES_REVISIONS, keys.DISTRIBUTION_SNAPSHOTS],
    pool=WRITER_POOL,
    kinds={"duckdb"},
)
def event_labels(
    context: dg.AssetExecutionContext,
    config: EventLabelsConfig,
    warehouse: WarehouseResource,
    macro: MacroResource,
) -> dg.MaterializeResult:
    """Per event and label_mode (first_print | latest): the realized value, when it became known, and
    the surprise against the market-implied distribution just before the release (NULL without one)."""
    as_of = naive_utc_timestamp(config.as_of) if config.as_of else pd.Timestamp(macro.get_source().now())
    with warehouse.connect() as con:
        first_prints = store.read_first_prints(con)
        revisions = store.read_revisions(con)
        snapshots = store.read_implied_snapshots(con)
    implied = calc.implied_before_release(snapshots, first_prints[["event_ticker", "release_time"]])
    labels = calc.event_labels(first_prints, revisions, implied, as_of)
    differing = calc.events_differing_between_modes(labels)
    context.log.info(
        f"event_labels as of {as_of}: {len(labels)} labels, {differing} events differ between modes"
    )
    with warehouse.connect() as con:
        written = store.replace_event_labels(con, labels)
        return dg.MaterializeResult(
            metadata=table_metadata(
                con,
                "event_labels",
                written,
                order_by="label_known_at",
                as_of=dg.MetadataValue.text(as_of.isoformat()),
                events=dg.MetadataValue.int(int(labels["event_ticker"].nunique())),
                events_differing_between_modes=dg.MetadataValue.int(int(differing)),
                labels_with_surprise=dg.MetadataValue.int(int(labels["surprise"].notna().sum())),
            )
        )


# --- checks ------------------------------------------------------------------------------------------


def _previous_fingerprints(
    context: dg.AssetCheckExecutionContext, key: dg.AssetKey, limit: int = 25
) -> list[tuple[str, int, str]]:
    """(recorded_through, rows, fingerprint) of the latest materializations of a sealed asset."""
    records = context.instance.fetch_materializations(key, limit=limit).records
    out = []
    for record in records:
        materialization = record.asset_materialization
        metadata = materialization.metadata if materialization else {}
        if {"fingerprint", "fingerprint_rows", "recorded_through"} <= set(metadata):
            out.append(
                (
                    metadata["recorded_through"].value,
                    metadata["fingerprint_rows"].value,
                    metadata["fingerprint"].value,
                )
            )
    return out


@dg.asset_check(
    asset=outcomes_first_print,
    blocking=True,
    description="First prints are never changed: every row still hashes to what was stored, and the rows "
    "recorded by each earlier materialization are exactly as they were then.",
)
def first_print_unchanged(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    return _sealed_rows_unchanged(
        context, warehouse, keys.OUTCOMES_FIRST_PRINT, store.first_print_rows_altered, store.first_print_fingerprint
    )


def _sealed_rows_unchanged(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    key: dg.AssetKey,
    rows_altered: Callable[[duckdb.DuckDBPyConnection], pd.DataFrame],
    fingerprint: Callable[..., tuple[int, str]],
) -> dg.AssetCheckResult:
    """A sealed table's check: no row hashes differently from its insert, and the rows each earlier
    materialization recorded still fingerprint as they did then."""
    with warehouse.connect() as con:
        altered = rows_altered(con)
        history = _previous_fingerprints(context, key)
        mismatched = _changed_since(con, history, fingerprint)
    return dg.AssetCheckResult(
        passed=altered.empty and not mismatched,
        metadata={
            "rows_altered": len(altered),
            "materializations_compared": len(history),
            "materializations_changed": len(mismatched),
            "altered_preview": dg.MetadataValue.md(markdown_table(altered)),
        },
    )


def _changed_since(
    con: duckdb.DuckDBPyConnection, history: list[tuple[str, int, str]], fingerprint: Callable[..., tuple[int, str]]
) -> list[str]:
    """The earlier materializations whose rows no longer fingerprint as they did then."""
    mismatched = []
    for recorded_through, rows, digest in history:
        through = pd.Timestamp(recorded_through).to_pydatetime() if recorded_through else None
        now_rows, now_digest = fingerprint(con, through) if through else (0, digest)
        if (now_rows, now_digest) != (rows, digest):
            mismatched.append(recorded_through)
    return mismatched


@dg.asset_check(
    asset=outcomes_revisions,
    blocking=True,
    description="Past vintages are never changed: every revision still hashes to what was stored at insert, "
    "and the vintages recorded by each earlier materialization are exactly as they were then.",
)
def revisions_unchanged(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _sealed_rows_unchanged(
        context, warehouse, keys.OUTCOMES_REVISIONS, store.revision_rows_altered, store.revision_fingerprint
    )


@dg.asset_check(
    asset=outcomes_first_print,
    description="Sources agree with the stored first prints (a disagreement keeps the stored value and warns).",
)
def first_print_sources_agree(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        conflicts = store.read_conflicts(con)
    return dg.AssetCheckResult(
        passed=conflicts.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"disagreements": len(conflicts), "preview": dg.MetadataValue.md(markdown_table(conflicts))},
    )


@dg.asset_check(
    asset=outcomes_revisions,
    additional_deps=[keys.OUTCOMES_FIRST_PRINT],
    description="Each stored first print equals its event's earliest vintage, where both exist.",
)
def first_print_is_earliest_vintage(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        first_prints = store.read_first_prints(con)
        revisions = store.read_revisions(con)
    mismatched = (
        calc.first_print_vs_earliest_vintage(first_prints, revisions)
        if len(first_prints) and len(revisions)
        else pd.DataFrame()
    )
    compared = len(set(first_prints["event_ticker"]) & set(revisions["event_ticker"]))
    return dg.AssetCheckResult(
        passed=mismatched.empty,
        metadata={
            "events_compared": compared,
            "mismatches": len(mismatched),
            "preview": dg.MetadataValue.md(markdown_table(mismatched)),
        },
    )


@dg.asset_check(
    asset=outcomes_revisions,
    description="No vintage is dated before its event's release (Kalshi's release time, else the first print's).",
)
def no_vintage_before_release(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        releases = store.read_event_releases(con)[["event_ticker", "release_time"]]
        first_prints = store.read_first_prints(con)[["event_ticker", "release_time"]]
        revisions = store.read_revisions(con)
    all_releases = calc.release_times(releases, first_prints)
    early = calc.vintages_before_release(revisions, all_releases) if len(revisions) else pd.DataFrame()
    return dg.AssetCheckResult(
        passed=early.empty,
        metadata={
            "vintages_before_release": len(early),
            "preview": dg.MetadataValue.md(markdown_table(early)),
        },
    )


@dg.asset_check(
    asset=event_labels,
    description="Every label was known by its as-of time, and first_print labels equal the stored first prints.",
)
def labels_known_and_consistent(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        labels = store.read_event_labels(con)
        first_prints = store.read_first_prints(con)
    problems = calc.label_problems(labels, first_prints)
    return dg.AssetCheckResult(passed=not any(problems.values()), metadata=problems)


defs = dg.Definitions(
    assets=[outcomes_first_print, outcomes_revisions, outcomes_latest, event_labels],
    asset_checks=[
        first_print_unchanged,
        revisions_unchanged,
        first_print_sources_agree,
        first_print_is_earliest_vintage,
        no_vintage_before_release,
        labels_known_and_consistent,
    ],
)
