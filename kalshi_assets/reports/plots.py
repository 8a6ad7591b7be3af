"""The two pictures: a quantile fan of an event's implied distribution over time, and a calibration curve.

Drawn with matplotlib's Agg backend (no display needed) into PNG files; each function returns the path.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pandas as pd
from PIL import Image  # matplotlib's own dependency

from kalshi_assets.reports.formatting import display_number

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# (lower, upper, opacity): the outer band first so the inner ones paint over it.
FAN_BANDS: tuple[tuple[str, str, float], ...] = (("q05", "q95", 0.18), ("q10", "q90", 0.28), ("q25", "q75", 0.45))
DPI = 100
FAN_PANEL_SIZE = (5.6, 3.9)  # inches per panel: three panels across make the picture >= 1600 px wide
FAN_MIN_WIDTH_IN = 16.8
PALETTE_COLORS = 64  # a paletted PNG is a third of the RGBA one and looks the same for these charts
MAX_FAN_POINTS = 240  # per panel: enough for the eye, and keeps the PNG (embedded in metadata) small


@dataclass(frozen=True)
class FanPanel:
    """One event: its snapshots (snapshot_ts, q05..q95, median, mean), release time and first print.
    `unit` labels the y-axis (reports/units.py: the series' value unit)."""

    event_ticker: str
    event_type: str
    title: str | None
    snapshots: pd.DataFrame
    release_time: pd.Timestamp | None
    first_print: float | None
    unit: str | None = None


def _pyplot() -> ModuleType:
    """matplotlib.pyplot, drawing to files (the Agg backend, never a window), imported by the first picture:
    the processes that load the code location without drawing (the webserver, the daemon, a CLI command)
    skip its half second."""
    import matplotlib

    matplotlib.use("Agg")  # before pyplot is imported
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    # An uncompressed intermediate PNG: it is decoded at once and compressed once, after quantizing.
    fig.savefig(buffer, dpi=DPI, format="png", bbox_inches="tight", pad_inches=0.15, facecolor="white",
                pil_kwargs={"compress_level": 0})
    _pyplot().close(fig)
    buffer.seek(0)
    image = Image.open(buffer).convert("RGB").quantize(PALETTE_COLORS, method=Image.Quantize.MEDIANCUT)
    # Write beside, then rename: a reader (the UI, a README build) never sees half a PNG.
    partial = path.with_suffix(".png.partial")
    image.save(partial, format="PNG", optimize=True)
    os.replace(partial, path)
    return path


def _fan_panel(ax: Axes, panel: FanPanel) -> None:
    from matplotlib import dates as mdates
    from matplotlib import ticker

    frame = thin(panel.snapshots.sort_values("snapshot_ts"), MAX_FAN_POINTS)
    x = pd.to_datetime(frame["snapshot_ts"])
    for low, high, alpha in FAN_BANDS:
        ax.fill_between(x, frame[low].astype(float), frame[high].astype(float), color="tab:blue", alpha=alpha,
                        linewidth=0, label=f"{int(low[1:])}-{int(high[1:])}% band")
    ax.plot(x, frame["median"].astype(float), color="tab:blue", linewidth=1.4, label="median")
    if panel.first_print is not None:
        ax.axhline(panel.first_print, color="tab:red", linestyle="--", linewidth=1.2, label="first print")
        ax.annotate(f"first print {display_number(panel.first_print)}", xy=(0.01, panel.first_print), xycoords=("axes fraction", "data"),
                    xytext=(0, 3), textcoords="offset points", color="tab:red", fontsize=8)
    if panel.release_time is not None:
        ax.axvline(pd.Timestamp(panel.release_time), color="0.3", linestyle=":", linewidth=1, label="release")
    ax.set_title(f"{panel.event_type}: {panel.event_ticker}", fontsize=10)
    ax.set_ylabel(panel.unit or "released value", fontsize=9)
    if len(x) > 1 and x.max() - x.min() >= pd.Timedelta(hours=2):  # a handful of dates, never crowded
        locator = mdates.AutoDateLocator(minticks=2, maxticks=6)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.tick_params(axis="both", labelsize=8)
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: display_number(v)))
    ax.grid(alpha=0.3)


def fan_figure(panels: Sequence[FanPanel]) -> Figure:
    """The quantile fan as a matplotlib figure (quantile_fan saves it)."""
    if not panels:
        raise ValueError("no events to draw")
    columns = min(len(panels), 3)
    rows = (len(panels) + columns - 1) // columns
    width = max(FAN_PANEL_SIZE[0] * columns, FAN_MIN_WIDTH_IN)
    fig, axes = _pyplot().subplots(rows, columns, figsize=(width, FAN_PANEL_SIZE[1] * rows), squeeze=False,
                                   layout="constrained")
    for ax, panel in zip(axes.flat, panels, strict=False):
        _fan_panel(ax, panel)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.suptitle("Market-implied distribution over time (quantile fan) against the first print; times UTC",
                 fontsize=12)
    return fig


def quantile_fan(panels: Sequence[FanPanel], path: str | os.PathLike[str]) -> Path:
    """One panel per event: the 5-95, 10-90 and 25-75% bands and the median of the implied distribution
    over time (UTC), with the first print as a horizontal line and the release as a vertical one. The
    y-axis of each panel carries its event's unit; one legend, below the panels, serves them all."""
    return _save(fan_figure(panels), path)


def calibration_curve(curves: pd.DataFrame, scores: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Observed frequency against mean implied probability per bin, one line per horizon, with the
    diagonal of perfect calibration; below, how many contracts each bin holds."""
    if curves.empty:
        raise ValueError("no calibration bins to draw")
    from matplotlib import ticker

    fig, (top, bottom) = _pyplot().subplots(2, 1, figsize=(6.2, 7.0), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    top.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=1, label="perfect calibration")
    by_horizon = scores.set_index("horizon_hours") if not scores.empty else None
    horizons = sorted(curves["horizon_hours"].unique(), reverse=True)
    width = 0.8 / (10 * max(len(horizons), 1))
    for i, horizon in enumerate(horizons):
        group = curves[curves["horizon_hours"] == horizon].sort_values("bin")
        label = f"{_horizon_text(int(horizon))} before release"
        if by_horizon is not None and horizon in by_horizon.index:
            s = by_horizon.loc[horizon]
            label += f" (n={int(s['n_contracts'])}, Brier {s['brier']:.3f}, ECE {s['ece']:.3f})"
        top.plot(group["mean_forecast"], group["observed_frequency"], marker="o", linewidth=1.4, label=label)
        centres = (group["bin_lower"] + group["bin_upper"]) / 2 + (i - (len(horizons) - 1) / 2) * width
        bottom.bar(centres, group["n_contracts"], width=width, label=_horizon_text(int(horizon)))
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("observed frequency of YES")
    top.set_title("Calibration of market-implied contract probabilities", fontsize=11)
    top.grid(alpha=0.3)
    top.legend(fontsize=7, loc="lower right")
    bottom.set_xlabel("implied probability (mid of the book, docs/METHODS.md section 1)")
    bottom.set_ylabel("contracts per bin")
    # A linear count axis from 0 with a handful of whole-number ticks reads at any range of counts.
    bottom.set_ylim(bottom=0)
    bottom.yaxis.set_major_locator(ticker.MaxNLocator(nbins=4, integer=True, min_n_ticks=3))
    bottom.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def thin(frame: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """At most `max_points` evenly spaced rows, the first and the last included."""
    if len(frame) <= max_points:
        return frame
    positions = sorted({round(i * (len(frame) - 1) / (max_points - 1)) for i in range(max_points)})
    return frame.iloc[positions]


def _horizon_text(hours: int) -> str:
    if hours % 24 == 0 and hours >= 24:
        days = hours // 24
        return f"{days} day" + ("s" if days > 1 else "")
    return f"{hours} hour" + ("s" if hours != 1 else "")
