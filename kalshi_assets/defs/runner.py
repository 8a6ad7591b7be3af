"""Materialize the whole graph in order, the way `make demo` does: the main job of the project.

Three runs, because a partition range and unpartitioned assets do not mix in one run: first the
unpartitioned assets that partitioned ones read (series, events, markets), then every partitioned
asset over the range (single-run backfill), then everything downstream.
"""

import os
from collections.abc import Callable
from datetime import date, timedelta

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from kalshi_assets.defs.ingest import daily_partitions


def plan_stages(defs: dg.Definitions) -> list[tuple[str, list[dg.AssetKey]]]:
    """(stage name, asset keys) in execution order."""
    graph = defs.resolve_asset_graph()
    keys = [key for key in graph.get_all_asset_keys() if graph.get(key).is_materializable]
    partitioned = {key for key in keys if graph.get(key).partitions_def is not None}
    upstream_of_partitioned: set[dg.AssetKey] = set()
    for key in partitioned:
        upstream_of_partitioned |= _ancestors(graph, key)
    first = sorted((k for k in keys if k in upstream_of_partitioned and k not in partitioned), key=str)
    rest = sorted((k for k in keys if k not in partitioned and k not in first), key=str)
    return [("upstream", first), ("partitioned", sorted(partitioned, key=str)), ("downstream", rest)]


def _ancestors(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen: set[dg.AssetKey] = set()
    stack = list(graph.get(key).parent_keys)
    while stack:
        parent = stack.pop()
        if parent not in seen:
            seen.add(parent)
            stack.extend(graph.get(parent).parent_keys)
    return seen


def last_complete_day(source_now: date) -> str:
    """The last daily partition that the source has fully seen."""
    last = daily_partitions.get_last_partition_key()
    cap = (source_now - timedelta(days=1)).isoformat()
    return min(last, cap) if last else cap


def materialize_all(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    start: str | None = None,
    end: str | None = None,
    log: Callable[[str], None] = print,
) -> list[dg.ExecuteInProcessResult]:
    """Run the whole graph; raises on the first failed run (blocking checks included)."""
    market_data = defs.resources["market_data"]
    start = start or daily_partitions.get_first_partition_key()
    end = end or last_complete_day(market_data.get_source().now().date())
    results = []
    for name, keys in plan_stages(defs):
        if not keys:
            continue
        job = dg.define_asset_job(f"__demo_{name}", selection=dg.AssetSelection.assets(*keys))
        job_def = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(job.name)
        tags = {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end} if name == "partitioned" else {}
        log(f"[{name}] {', '.join(k.to_user_string() for k in keys)}" + (f"  ({start}..{end})" if tags else ""))
        result = job_def.execute_in_process(instance=instance, tags=tags, raise_on_error=True)
        results.append(result)
    return results


def instance_for_cli() -> dg.DagsterInstance:
    """The instance under $DAGSTER_HOME when set (so the UI shows the runs), else an ephemeral one."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()
