"""The pictures as files: valid PNGs of a sensible size, refusals on nothing to draw, thinning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt
from PIL import Image

from kalshi_assets.reports import plots


def _panel(ticker: str, n: int = 500, unit: str | None = "% m/m") -> plots.FanPanel:
    ts = pd.date_range("2026-09-01", periods=n, freq="h")
    centre = np.linspace(0.2, 0.35, n)
    spread = np.linspace(0.2, 0.05, n)
    frame = pd.DataFrame({"snapshot_ts": ts, "mean": centre, "median": centre})
    for name, z in (("q05", -1.64), ("q10", -1.28), ("q25", -0.67), ("q75", 0.67), ("q90", 1.28), ("q95", 1.64)):
        frame[name] = centre + z * spread
    return plots.FanPanel(ticker, "CPI", "CPI 26SEP", frame, ts[-1], 0.3, unit)


def test_the_fan_is_a_wide_png_with_one_panel_per_event(tmp_path: Path) -> None:
    one = plots.quantile_fan([_panel("A")], tmp_path / "one.png")
    four = plots.quantile_fan([_panel(t) for t in "ABCD"], tmp_path / "sub" / "four.png")
    with Image.open(one) as a, Image.open(four) as b:
        assert a.format == b.format == "PNG"
        assert a.size[0] >= 1600 and b.size[0] >= 1600  # wide enough to read five panels
        assert b.size[1] > 1.5 * a.size[1]  # two rows of panels
    assert four.stat().st_size < 400_000  # small enough to embed in metadata
    assert not list(tmp_path.rglob("*.partial"))


def test_the_fan_has_units_one_legend_outside_and_dates_that_do_not_overlap() -> None:
    panels = [_panel("A", unit="% m/m"), _panel("B", n=2000, unit="jobs, m/m change"), _panel("C", unit=None)]
    fig = plots.fan_figure(panels)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_ylabel() for ax in axes] == ["% m/m", "jobs, m/m change", "released value"]
    assert all(ax.get_legend() is None for ax in axes) and len(fig.legends) == 1
    legend_box = fig.legends[0].get_window_extent(renderer)
    for ax in axes:
        assert not legend_box.overlaps(ax.get_window_extent(renderer)), "the legend covers a panel"
        labels = [t for t in ax.get_xticklabels() if t.get_text()]
        assert len(labels) >= 2
        boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
        assert all(left.x1 < right.x0 for left, right in zip(boxes, boxes[1:], strict=False)), "dates overlap"
        assert all("e+" not in t.get_text() for t in ax.get_yticklabels())  # no scientific notation
    plt.close(fig)


def test_the_calibration_curve_is_a_png(tmp_path: Path) -> None:
    curves = pd.DataFrame({
        "horizon_hours": [24, 24, 1, 1], "bin": [1, 8, 1, 8], "bin_lower": [0.1, 0.8, 0.1, 0.8],
        "bin_upper": [0.2, 0.9, 0.2, 0.9], "n_contracts": [10, 12, 9, 13], "mean_forecast": [0.15, 0.85, 0.14, 0.86],
        "observed_frequency": [0.1, 0.9, 0.11, 0.92],
    })
    scores = pd.DataFrame({"horizon_hours": [1, 24], "n_contracts": [22, 22], "brier": [0.05, 0.06],
                           "log_loss": [0.2, 0.3], "ece": [0.02, 0.03]})
    path = plots.calibration_curve(curves, scores, tmp_path / "calibration.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 300


def test_the_calibration_count_axis_has_several_labelled_ticks(tmp_path: Path, monkeypatch) -> None:
    """Bin counts within one decade (9..13) still get more than one labelled tick."""
    curves = pd.DataFrame({
        "horizon_hours": [24, 24], "bin": [1, 8], "bin_lower": [0.1, 0.8], "bin_upper": [0.2, 0.9],
        "n_contracts": [9, 13], "mean_forecast": [0.15, 0.85], "observed_frequency": [0.1, 0.9],
    })
    drawn: list = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: drawn.append(fig) or Path(path))
    plots.calibration_curve(curves, pd.DataFrame(), tmp_path / "c.png")
    (fig,) = drawn
    fig.canvas.draw()
    counts = fig.axes[1]
    low, high = counts.get_ylim()
    labelled = [t.get_text() for t in counts.get_yticklabels() if t.get_text() and low <= t.get_position()[1] <= high]
    assert len(labelled) >= 2, labelled
    plt.close(fig)


def test_nothing_to_draw_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no events"):
        plots.quantile_fan([], tmp_path / "x.png")
    with pytest.raises(ValueError, match="no calibration bins"):
        plots.calibration_curve(pd.DataFrame(columns=["horizon_hours"]), pd.DataFrame(), tmp_path / "y.png")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("rows", "limit"), [(10, 240), (1000, 240), (241, 240), (5, 2)])
def test_thinning_keeps_the_ends_and_at_most_the_limit(rows: int, limit: int) -> None:
    frame = pd.DataFrame({"i": range(rows)})
    thinned = plots.thin(frame, limit)
    assert len(thinned) == min(rows, limit)
    assert thinned["i"].iloc[0] == 0 and thinned["i"].iloc[-1] == rows - 1
    assert thinned["i"].is_monotonic_increasing
