"""The Dagster layer: resources, assets per stage, checks, automation (the only package that imports dagster).

Two parameters the stages use are marked beta in Dagster 1.13 and have no stable equivalent yet:
`backfill_policy` (single-run backfills of the daily partitions) and a partition mapping's
`allow_nonexistent_upstream_partitions`. Dagster is pinned (pyproject.toml) and the tests pin what they
do, so their BetaWarnings are silenced here, before any stage module is imported, and only theirs.
"""

import warnings

import dagster as dg

for _parameter in ("backfill_policy", "allow_nonexistent_upstream_partitions"):
    warnings.filterwarnings("ignore", message=f"Parameter `{_parameter}` ", category=dg.BetaWarning)
