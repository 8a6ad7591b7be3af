"""Research: purged event features, walk-forward folds and combinatorial purged CV splits, their
out-of-sample trades, promotion decisions, and the implied distributions scored as forecasts and against
Kalshi's own percentiles (docs/METHODS.md sections 3-6).

Each asset reads its inputs from the warehouse, calls analytics and rebuilds its tables whole. Purge
windows come from the `settings` resource, so a run can override them in the launchpad; the blocking
checks re-prove the contracts from the stored rows.
"""

import dagster as dg

from kalshi_assets.defs.research import backtests, features, folds, promotion, scoring

defs = dg.Definitions.merge(features.defs, folds.defs, backtests.defs, promotion.defs, scoring.defs)
