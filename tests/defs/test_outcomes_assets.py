"""The outcomes assets on the demo warehouse: figures, an appended revision, disagreements, tampering."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from kalshi_assets.defs import outcomes
from kalshi_assets.defs.resources import ExtraVintage, MacroResource, WarehouseResource
from kalshi_assets.demo.exchange import DemoExchange
from kalshi_assets.warehouse import db

ASSETS = [
    outcomes.outcomes_first_print,
    outcomes.outcomes_revisions,
    outcomes.outcomes_latest,
    outcomes.event_labels,
]


def materialize(
    path: Path,
    instance: dg.DagsterInstance,
    macro: MacroResource | None = None,
    run_config: dict | None = None,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*ASSETS, *outcomes.defs.asset_checks],
        resources={"warehouse": WarehouseResource(path=str(path)), "macro": macro or MacroResource()},
        instance=instance,
        run_config=run_config,
        raise_on_error=False,
    )


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def query(path: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    with db.connection(path) as con:
        return con.execute(sql, params or []).df()


def first_print_bytes(path: Path) -> bytes:
    return (
        query(path, "SELECT * FROM outcomes_first_print ORDER BY event_ticker").to_csv(index=False).encode()
    )


def events_latest_differs(path: Path) -> set[str]:
    frame = query(
        path,
        "SELECT f.event_ticker FROM outcomes_first_print f JOIN outcomes_latest l USING (event_ticker) "
        "WHERE abs(f.value - l.value) > 1e-9",
    )
    return set(frame["event_ticker"])


def events_labels_differ(path: Path) -> set[str]:
    frame = query(
        path,
        "SELECT a.event_ticker FROM event_labels a JOIN event_labels b USING (event_ticker) "
        "WHERE a.label_mode = 'first_print' AND b.label_mode = 'latest' "
        "AND abs(a.realized_value - b.realized_value) > 1e-9",
    )
    return set(frame["event_ticker"])


@pytest.fixture(scope="module")
def demo_vintages() -> list[dict]:
    return DemoExchange(seed=7, scale=1).vintages()


@pytest.fixture()
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


@pytest.fixture(scope="module")
def baseline(ingested_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    """The ingested demo warehouse with the outcomes materialized once: (path, result). Read only."""
    path = tmp_path_factory.mktemp("outcomes") / "warehouse.duckdb"
    shutil.copyfile(ingested_warehouse, path)
    return path, materialize(path, dg.DagsterInstance.ephemeral())


@pytest.fixture()
def outcomes_copy(baseline, tmp_path: Path) -> Path:
    """A private, writable copy of the baseline (outcomes already materialized)."""
    target = tmp_path / "warehouse.duckdb"
    shutil.copyfile(baseline[0], target)
    return target


def test_demo_figures_match_the_revisions_the_demo_published(baseline, demo_vintages: list[dict]) -> None:
    warehouse_copy, result = baseline
    assert result.success
    assert all(e.passed for e in checks(result).values()), {n: e.metadata for n, e in checks(result).items()}
    latest_meta = result.asset_materializations_for_node("outcomes_latest")[0].metadata
    assert latest_meta["events_past_first_vintage"].value == len(
        {v["event_ticker"] for v in demo_vintages if v["vintage"] > 1}
    )

    published_events = {v["event_ticker"] for v in demo_vintages}
    revised_by_demo = {v["event_ticker"] for v in demo_vintages if v["vintage"] > 1}
    assert len(revised_by_demo) > 0
    first_prints = query(warehouse_copy, "SELECT event_ticker, value, source FROM outcomes_first_print")
    assert set(first_prints["event_ticker"]) == published_events
    assert set(first_prints["source"]) == {"demo"}  # the vintage source wins over Kalshi's copy
    demo_first = {v["event_ticker"]: v["value"] for v in demo_vintages if v["vintage"] == 1}
    assert all(
        abs(demo_first[e] - x) < 1e-9
        for e, x in zip(first_prints["event_ticker"], first_prints["value"], strict=True)
    )
    assert query(warehouse_copy, "SELECT count(*) AS n FROM outcomes_revisions")["n"][0] == len(demo_vintages)

    assert events_latest_differs(warehouse_copy) == revised_by_demo
    assert events_labels_differ(warehouse_copy) == revised_by_demo
    modes = Counter(query(warehouse_copy, "SELECT label_mode FROM event_labels")["label_mode"])
    assert modes == {"first_print": len(published_events), "latest": len(published_events)}
    # Kalshi's settlements agree with the demo's first prints: recorded as reports, no disagreement.
    reports = query(
        warehouse_copy, "SELECT source, count(*) AS n FROM outcomes_first_print_reports GROUP BY 1"
    )
    assert dict(zip(reports["source"], reports["n"], strict=True)) == {
        "demo": len(published_events),
        "kalshi": len(published_events),
    }
    assert query(warehouse_copy, "SELECT count(*) AS n FROM outcomes_first_print_conflicts")["n"][0] == 0
    # No distribution snapshots in this warehouse: the surprise columns are empty.
    assert query(warehouse_copy, "SELECT count(surprise) AS n FROM event_labels")["n"][0] == 0


def test_appended_revision_moves_latest_and_leaves_first_print_untouched(
    warehouse_copy: Path, instance: dg.DagsterInstance, demo_vintages: list[dict]
) -> None:
    assert materialize(warehouse_copy, instance).success
    before = first_print_bytes(warehouse_copy)
    revisions_before = query(warehouse_copy, "SELECT count(*) AS n FROM outcomes_revisions")["n"][0]
    differ_before = events_latest_differs(warehouse_copy)

    cpi = max((v for v in demo_vintages if v["series_ticker"] == "KXCPI"), key=lambda v: v["vintage_time"])
    revised_value = round(cpi["value"] + 0.1, 4)
    macro = MacroResource(
        extra_vintages=[
            ExtraVintage(
                event_ticker=cpi["event_ticker"], vintage_time="2026-10-31T12:30:00Z", value=revised_value
            )
        ]
    )
    result = materialize(warehouse_copy, instance, macro)
    assert result.success
    evaluations = checks(result)
    assert all(e.passed for e in evaluations.values())
    assert evaluations["first_print_unchanged"].metadata["materializations_compared"].value == 2

    assert first_print_bytes(warehouse_copy) == before  # byte for byte
    assert (
        query(warehouse_copy, "SELECT count(*) AS n FROM outcomes_revisions")["n"][0] == revisions_before + 1
    )
    latest = query(
        warehouse_copy,
        "SELECT value, vintage FROM outcomes_latest WHERE event_ticker = ?",
        [cpi["event_ticker"]],
    )
    assert latest.values.tolist() == [[revised_value, 2]]
    assert events_latest_differs(warehouse_copy) == differ_before | {cpi["event_ticker"]}
    assert events_labels_differ(warehouse_copy) == differ_before | {cpi["event_ticker"]}

    # Replaying the same source adds nothing and still leaves the first prints alone.
    assert materialize(warehouse_copy, instance, macro).success
    assert (
        query(warehouse_copy, "SELECT count(*) AS n FROM outcomes_revisions")["n"][0] == revisions_before + 1
    )
    assert first_print_bytes(warehouse_copy) == before


def test_labels_as_of_an_earlier_time_ignore_later_vintages(
    warehouse_copy: Path, instance: dg.DagsterInstance, demo_vintages: list[dict]
) -> None:
    revision = min((v for v in demo_vintages if v["vintage"] == 2), key=lambda v: v["vintage_time"])
    as_of = (pd.Timestamp(revision["vintage_time"]) - pd.Timedelta(seconds=1)).isoformat()
    result = materialize(
        warehouse_copy, instance, run_config={"ops": {"event_labels": {"config": {"as_of": as_of}}}}
    )
    assert result.success
    labels = query(
        warehouse_copy, "SELECT * FROM event_labels WHERE event_ticker = ?", [revision["event_ticker"]]
    )
    assert labels["realized_value"].nunique() == 1  # the revision was not known yet
    known_at_as_of = {
        v["event_ticker"] for v in demo_vintages if pd.Timestamp(v["vintage_time"]) <= pd.Timestamp(as_of)
    }
    assert (
        set(query(warehouse_copy, "SELECT event_ticker FROM event_labels")["event_ticker"]) == known_at_as_of
    )


def test_a_disagreeing_later_source_is_recorded_and_warned(
    outcomes_copy: Path, instance: dg.DagsterInstance
) -> None:
    event, stored = query(
        outcomes_copy,
        "SELECT event_ticker, value FROM outcomes_first_print WHERE "
        "event_ticker LIKE 'KXU3-%' ORDER BY release_time DESC LIMIT 1",
    ).iloc[0]
    before = first_print_bytes(outcomes_copy)
    with db.connection(outcomes_copy) as con:  # Kalshi amends its settlement value for that event
        con.execute(
            "UPDATE kalshi_markets SET expiration_value_num = ? WHERE event_ticker = ?", [stored + 0.2, event]
        )
    result = materialize(outcomes_copy, instance)
    assert result.success  # a warning, not a failure
    agree = checks(result)["first_print_sources_agree"]
    assert not agree.passed and agree.severity == dg.AssetCheckSeverity.WARN
    assert checks(result)["first_print_unchanged"].passed
    conflicts = query(outcomes_copy, "SELECT * FROM outcomes_first_print_conflicts")
    assert conflicts[["event_ticker", "source"]].values.tolist() == [[event, "kalshi"]]
    assert (
        conflicts["stored_value"][0] == stored and abs(conflicts["reported_value"][0] - (stored + 0.2)) < 1e-9
    )
    assert first_print_bytes(outcomes_copy) == before


def test_a_tampered_first_print_fails_the_blocking_check(
    outcomes_copy: Path, instance: dg.DagsterInstance
) -> None:
    with db.connection(outcomes_copy) as con:
        event = con.execute("SELECT min(event_ticker) FROM outcomes_first_print").fetchone()[0]
        con.execute("UPDATE outcomes_first_print SET value = value + 1 WHERE event_ticker = ?", [event])
    result = materialize(outcomes_copy, instance)
    unchanged = checks(result)["first_print_unchanged"]
    assert not unchanged.passed and unchanged.metadata["rows_altered"].value == 1
    assert not result.success  # blocking: event_labels did not run on a changed first print


def test_an_updated_past_revision_fails_the_blocking_check(
    outcomes_copy: Path, instance: dg.DagsterInstance
) -> None:
    with db.connection(outcomes_copy) as con:
        event, vintage_time = con.execute(
            "SELECT event_ticker, vintage_time FROM outcomes_revisions WHERE vintage = 1 "
            "ORDER BY vintage_time LIMIT 1"
        ).fetchone()
        con.execute(
            "UPDATE outcomes_revisions SET value = value + 0.1 WHERE event_ticker = ? AND vintage_time = ?",
            [event, vintage_time],
        )
    result = materialize(outcomes_copy, instance)
    sealed = checks(result)["revisions_unchanged"]
    assert not sealed.passed and sealed.metadata["rows_altered"].value == 1
    assert event in sealed.metadata["altered_preview"].value
    assert not result.success  # blocking: event_labels did not run on a changed vintage
    assert "event_labels" not in {
        e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
    }


def test_a_resealed_revision_change_is_caught_by_the_earlier_fingerprint(
    outcomes_copy: Path, instance: dg.DagsterInstance
) -> None:
    """Rewriting the hash with the value hides the row from the hash check, not from the fingerprint the
    previous materialization recorded."""
    first = materialize(outcomes_copy, instance)
    assert first.success and checks(first)["revisions_unchanged"].passed
    with db.connection(outcomes_copy) as con:
        con.execute(
            "UPDATE outcomes_revisions SET value = value + 0.1, "
            "row_hash = revision_hash(event_ticker, vintage_time, source, vintage, value + 0.1) "
            "WHERE event_ticker = (SELECT min(event_ticker) FROM outcomes_revisions)"
        )
    sealed = checks(materialize(outcomes_copy, instance))["revisions_unchanged"]
    assert sealed.metadata["rows_altered"].value == 0
    assert not sealed.passed and sealed.metadata["materializations_changed"].value >= 1


def test_surprise_uses_the_last_distribution_before_release(
    warehouse_copy: Path, instance: dg.DagsterInstance
) -> None:
    with db.connection(warehouse_copy) as con:
        event, release = con.execute(
            "SELECT event_ticker, release_time FROM event_release WHERE event_ticker LIKE 'KXCPI-%' "
            "AND release_time < ? ORDER BY release_time DESC LIMIT 1",
            [pd.Timestamp("2026-11-01").to_pydatetime()],
        ).fetchone()
        # Only the columns event_labels reads (the distributions stage writes the full table).
        con.execute("DROP TABLE IF EXISTS distribution_snapshots")
        con.execute(
            "CREATE TABLE distribution_snapshots (event_ticker VARCHAR, snapshot_ts TIMESTAMP, "
            "status VARCHAR, mean DOUBLE, std DOUBLE)"
        )
        con.execute(
            "INSERT INTO distribution_snapshots (event_ticker, snapshot_ts, status, mean, std) VALUES "
            "(?, ?, 'ok', 0.1, 0.2), (?, ?, 'ok', 9.0, 9.0)",
            [event, release - pd.Timedelta(hours=2), event, release + pd.Timedelta(hours=1)],
        )
    assert materialize(warehouse_copy, instance).success
    labels = query(warehouse_copy, "SELECT * FROM event_labels WHERE surprise IS NOT NULL")
    assert set(labels["event_ticker"]) == {event}
    row = labels[labels["label_mode"] == "first_print"].iloc[0]
    assert abs(row["surprise"] - (row["realized_value"] - 0.1)) < 1e-9
    assert abs(row["surprise_z"] - row["surprise"] / 0.2) < 1e-9
