"""The run tags that make one run materialize a range of partitions (a single-run backfill).

Dagster's `materialize` takes one `partition_key`; a range travels as these two run tags, the strings
Dagster documents for ranged runs (github.com/dagster-io/dagster/discussions/11653). Dagster exports no
public constant for them (they live in `dagster._core.storage.tags`), so the strings are written here
once; any ranged test run fails if they ever stop meaning a range.
"""

ASSET_PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
ASSET_PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def partition_range_tags(start: str, end: str) -> dict[str, str]:
    """Tags for a run over the partitions from `start` to `end`, both included."""
    return {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}
