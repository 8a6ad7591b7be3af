"""A snapshot's implied distribution does not depend on where it sits in a batch: the asset computes a run's
window in chunks, so the same snapshot lands at different positions depending on where its run started.
Before, quantiles came from a search over one global key (2*segment + cdf) and the cdf from a global cumsum:
both lost precision as the batch grew, and a 60-day run and six 10-day runs gave different medians."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kalshi_assets.analytics.distribution import implied_distribution, implied_distributions
from kalshi_assets.analytics.snapshot_schema import QUANTILE_COLUMNS
from tests.analytics.distribution_ladders import RUNG_DEFAULTS

STRIKES = np.array([2.0, 2.1, 2.2, 2.3, 2.4, 2.5])


def _ladders(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Survival prices of `n` greater-than ladders; some land a quantile level exactly on a bin edge."""
    ladders = [np.array([0.95, 0.9, 0.5, 0.25, 0.1, 0.05]), np.array([0.99, 0.75, 0.5, 0.5, 0.05, 0.01])]
    while len(ladders) < n:
        ladders.append(np.sort(rng.uniform(0.01, 0.99, len(STRIKES)))[::-1].round(2))
    return ladders


def _rungs(mids: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"strike_type": "greater", "floor_strike": STRIKES, "cap_strike": np.nan,
                         "yes_bid": mids, "yes_ask": mids, **RUNG_DEFAULTS})


def test_a_snapshot_is_the_same_alone_and_at_any_position_of_a_large_batch() -> None:
    ladders = _ladders(np.random.default_rng(3), 12)
    alone = [implied_distribution(_rungs(mids)) for mids in ladders]
    order = np.tile(np.arange(len(ladders)), 2_500)  # 30,000 snapshots: segment offsets in the tens of thousands
    mids = np.stack(ladders)[order].ravel()
    rungs = pd.DataFrame({"strike_type": "greater", "floor_strike": np.tile(STRIKES, len(order)),
                          "cap_strike": np.nan, "yes_bid": mids, "yes_ask": mids, **RUNG_DEFAULTS,
                          "snapshot_id": np.repeat(np.arange(len(order)), len(STRIKES))})
    batch = implied_distributions(rungs, pd.DataFrame({"value_grid": np.full(len(order), np.nan)}), key_columns=())
    columns = [*QUANTILE_COLUMNS, "mean", "std"]
    assert len(batch.snapshots) == len(order) and batch.snapshots["status"].eq("ok").all()
    for position in (0, 1, len(order) // 2, len(order) - 2, len(order) - 1):
        expected = alone[order[position]].snapshots.iloc[0][columns].to_numpy(dtype=float)
        got = batch.snapshots.iloc[position][columns].to_numpy(dtype=float)
        np.testing.assert_array_equal(got, expected, err_msg=f"snapshot at position {position}")
    by_ladder = batch.snapshots[columns].groupby(order).nunique()
    assert (by_ladder == 1).all().all(), "a ladder's rows differ by their position in the batch"
