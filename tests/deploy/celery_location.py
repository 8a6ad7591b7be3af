"""A throwaway code location for tests/deploy (not the project's definitions): one daily-partitioned asset
that backfills as runs of RUN_SIZE partitions, executed step by step on Celery workers.

Each step records which process ran it, and can be held on a file (so that a test can kill its worker).
"""

import os
import time
from pathlib import Path

import dagster as dg
from dagster_celery import celery_executor

RUN_SIZE = 2
DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-03-02")

# Broker and result backend from the environment (the names Celery itself reads, so the workers started by
# `dagster-celery worker start` agree): the URL holds Redis's password, which must stay out of
# run config, argv and logs (Celery masks it when it prints the URL).
executor = celery_executor.configured(
    {"broker": {"env": "CELERY_BROKER_URL"}, "backend": {"env": "CELERY_RESULT_BACKEND"}}
)


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=RUN_SIZE))
def lake_rows(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    # A test holds a run at this point by creating hold-<first partition> in GROUNDWORK_DIR.
    folder = Path(os.environ["GROUNDWORK_DIR"])
    first = context.partition_key_range.start
    (folder / f"started-{first}").write_text(str(os.getpid()))
    # With the run tag groundwork/rendezvous=N, a step waits until N steps have begun: each worker runs one
    # task at a time, so N steps begun together must be on N different workers.
    wanted = int(context.run.tags.get("groundwork/rendezvous", "0"))
    (folder / f"rendezvous-{first}").touch()
    deadline = time.monotonic() + 60
    while len(list(folder.glob("rendezvous-*"))) < wanted and time.monotonic() < deadline:
        time.sleep(0.2)
    deadline = time.monotonic() + 120
    while (folder / f"hold-{first}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(float(os.environ.get("GROUNDWORK_STEP_SECONDS", "0")))
    return dg.MaterializeResult(
        metadata={"pid": os.getpid(), "partitions": len(context.partition_keys)}
    )


defs = dg.Definitions(assets=[lake_rows], executor=executor)
