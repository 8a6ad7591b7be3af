"""The picture assets on the demo warehouse: PNG files, metadata the UI shows, the calibration tables."""

from __future__ import annotations

import base64
from pathlib import Path

import dagster as dg
import pytest

from kalshi_assets.definitions import defs
from kalshi_assets.defs import pictures
from kalshi_assets.defs.resources import WarehouseResource
from kalshi_assets.warehouse import db
from tests.partition_range import partition_range_tags

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _defs_on(path: Path, *selection: str) -> dg.Definitions:
    """The project's definitions against a private warehouse, with one job over `selection`."""
    return dg.Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        resources={**defs.resources, "warehouse": WarehouseResource(path=str(path))},
        jobs=[dg.define_asset_job("under_test", selection=list(selection))],
        executor=dg.in_process_executor,
    )


def _run(path: Path, *selection: str, tags: dict | None = None) -> dg.ExecuteInProcessResult:
    job = _defs_on(path, *selection).resolve_job_def("under_test")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), tags=tags or {})
    assert result.success
    return result


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _check_picture(metadata: dict, caption: str) -> bytes:
    path = Path(metadata["picture_path"])
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and metadata["picture_bytes"] == len(data)
    prefix = f"![{caption}](data:image/png;base64,"
    assert metadata["picture"].startswith(prefix) and metadata["picture"].endswith(")")
    assert base64.b64decode(metadata["picture"][len(prefix):-1]) == data  # the UI shows the file's bytes
    return data


@pytest.fixture(scope="module")
def pictured(tmp_path_factory: pytest.TempPathFactory, ingested_warehouse: Path) -> tuple[Path, dict, dict]:
    """Outcomes and three weeks of snapshots on the ingested demo warehouse, then both pictures."""
    path = tmp_path_factory.mktemp("pictures") / "warehouse.duckdb"
    path.write_bytes(ingested_warehouse.read_bytes())
    _run(path, "kalshi_forecast_percentiles", "distribution_snapshots",
         tags=partition_range_tags("2026-10-10", "2026-10-31"))
    result = _run(path, "outcomes_first_print", "outcomes_revisions", "quantile_fan", "calibration_curve")
    return path, _metadata(result, "quantile_fan"), _metadata(result, "calibration_curve")


def test_the_quantile_fan_is_a_png_beside_the_warehouse_and_shown_in_the_ui(pictured) -> None:
    path, fan, _ = pictured
    assert Path(fan["picture_path"]) == path.parent / "pictures" / "quantile_fan.png"
    _check_picture(fan, "quantile fan")
    assert fan["events"] >= 2 and fan["snapshots_drawn"] > 100
    with db.connection(path, read_only=True) as con:
        drawn = con.execute(
            "SELECT count(DISTINCT event_ticker) FROM distribution_snapshots s "
            "JOIN outcomes_first_print f USING (event_ticker)"
        ).fetchone()[0]
    assert fan["events"] <= drawn


def test_the_calibration_curve_writes_its_bins_scores_and_picture(pictured) -> None:
    path, _, calibration = pictured
    _check_picture(calibration, "calibration curve")
    with db.connection(path, read_only=True) as con:
        bins = con.execute("SELECT * FROM calibration_bins ORDER BY horizon_hours, bin").df()
        scores = con.execute("SELECT * FROM calibration_scores ORDER BY horizon_hours").df()
    assert calibration["dagster/row_count"] == len(bins) > 0
    assert set(scores["horizon_hours"]) == {1, 24, 168}
    assert bins["mean_forecast"].between(bins["bin_lower"], bins["bin_upper"]).all()
    assert bins["observed_frequency"].between(0, 1).all() and scores["brier"].between(0, 1).all()
    for horizon, group in bins.groupby("horizon_hours"):
        score = scores.set_index("horizon_hours").loc[horizon]
        assert group["n_contracts"].sum() == score["n_contracts"]
        # ECE from the stored bins equals the stored score.
        total = group["n_contracts"].sum()
        ece = (group["n_contracts"] / total * (group["observed_frequency"] - group["mean_forecast"]).abs()).sum()
        assert ece == pytest.approx(score["ece"])
    assert "agrees with Kalshi's result" in calibration["outcome_checks"]


def test_a_second_run_rebuilds_the_same_calibration(pictured, tmp_path: Path) -> None:
    path, _, _ = pictured
    copy = tmp_path / "again.duckdb"
    copy.write_bytes(path.read_bytes())

    def stored(p: Path):
        with db.connection(p, read_only=True) as con:
            return con.execute("SELECT * EXCLUDE (computed_at) FROM calibration_bins ORDER BY ALL").fetchall()

    before = stored(copy)
    _run(copy, "calibration_curve")
    assert stored(copy) == before


def test_without_snapshots_the_fan_reports_and_draws_nothing(ingested_warehouse: Path, tmp_path: Path) -> None:
    path = tmp_path / "bare.duckdb"
    path.write_bytes(ingested_warehouse.read_bytes())
    metadata = _metadata(_run(path, "quantile_fan"), "quantile_fan")
    assert metadata == {"events": 0}
    assert not (tmp_path / "pictures" / "quantile_fan.png").exists()


def test_the_pictures_follow_distributions_and_outcomes() -> None:
    graph = defs.resolve_asset_graph()
    fan = {k.to_user_string() for k in graph.get(dg.AssetKey("quantile_fan")).parent_keys}
    calibration = {k.to_user_string() for k in graph.get(dg.AssetKey("calibration_curve")).parent_keys}
    assert fan == {"distribution_snapshots", "outcomes_first_print"}
    assert calibration == {"kalshi_markets", "kalshi_quotes", "outcomes_first_print"}
    assert pictures.pictures_dir(WarehouseResource(path="/data/w.duckdb")) == Path("/data/pictures")
