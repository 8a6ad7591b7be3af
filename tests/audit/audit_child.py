"""A child process for the crash and concurrency tests (run as a script, not collected).

    python audit_child.py DIR WRITER_ID THREADS COUNT MAX_SEGMENT_BYTES

Appends COUNT records per thread (0 = forever) with payload sizes that vary from a few bytes to
several pages, and prints "seq hash" to stdout after each append returns (each line is written
with one os.write, so a kill never leaves half an acknowledgement).

With AUDIT_CHILD_TEAR=1 every record is written in two halves 20 ms apart, so a SIGKILL
often lands mid-record: the torn write a power cut or a kill during a multi-page write leaves.

With AUDIT_CHILD_BATCH=N (N > 1) each thread appends N records at a time with `append_many`
(COUNT then counts batches) and acknowledges each record of a batch once the call returns.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time

from kalshi_assets.audit import AuditLog
from kalshi_assets.audit import log as log_module


def _write_in_two_halves(self, handle, line: bytes) -> None:
    half = len(line) // 2
    os.write(handle.fd, line[:half])
    time.sleep(0.02)
    os.write(handle.fd, line[half:])


def main() -> None:
    if os.environ.get("AUDIT_CHILD_TEAR") == "1":
        log_module.AuditLog._write = _write_in_two_halves
    directory, writer_id = sys.argv[1], sys.argv[2]
    threads, count, max_segment_bytes = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    batch = int(os.environ.get("AUDIT_CHILD_BATCH", "1"))
    log = AuditLog(directory, fsync="batch", max_segment_bytes=max_segment_bytes)

    def run(thread_no: int) -> None:
        rng = random.Random(f"{writer_id}-{thread_no}-{os.getpid()}")
        i = 0
        while count == 0 or i < count:
            size = rng.choice([8, 64, 512, 4096, 40_000])
            if batch > 1:
                entries = [
                    ("ORDER", writer_id, {"thread": thread_no, "i": i, "j": j, "pad": "x" * (size // batch)})
                    for j in range(batch)
                ]
                records = log.append_many(entries)
            else:
                records = [log.append("ORDER", writer_id, {"thread": thread_no, "i": i, "pad": "x" * size})]
            os.write(1, "".join(f"{r['seq']} {r['hash']}\n" for r in records).encode())
            i += 1

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    log.close()


if __name__ == "__main__":
    main()
