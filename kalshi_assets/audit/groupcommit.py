"""Group commit for the "batch" fsync policy: many appends, one write, one sync.

`WriteCombiner` (below) gathers the appends of many threads into one write. The batch it wrote
joins the *open group* and waits. The first waiter that finds no
sync under way becomes the leader: it closes the open group (a new one opens at once), syncs every
segment the group wrote to, lets the log advance its checkpoint, marks the group durable and wakes
exactly that group's members. Appenders keep writing into the new open group while the leader
syncs, so when the sync ends the next group is ready; the finishing leader hands leadership to one
of its waiters (one wake-up), and the disk is never idle while records wait.

Every member of a group wrote its records before the group closed, and the group closed before
its sync began, so an appender returns only when a sync that began after its write has finished.
Groups form among the threads of one process; each process runs its own (they share the chain,
not the syncs: an fdatasync makes every byte of a file durable, whoever wrote it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kalshi_assets.audit.errors import AuditLogFatalError
from kalshi_assets.audit.segments import SegmentHandle

#: Syncs a closed group: (segments written, last seq, last hash). Raising makes the log unusable.
SyncGroup = Callable[[list[SegmentHandle], int, str], None]


class _Group:
    __slots__ = ("done", "handles", "last_hash", "last_seq", "wakeup")

    def __init__(self, lock: threading.Lock) -> None:
        self.wakeup = threading.Condition(lock)
        self.handles: dict[int, SegmentHandle] = {}
        self.last_seq = 0
        self.last_hash = ""
        self.done = False


class GroupCommit:
    """The batch policy's syncs for one AuditLog in one process."""

    def __init__(self, sync_group: SyncGroup) -> None:
        self._lock = threading.Lock()
        self._sync_group = sync_group
        self._open = _Group(self._lock)
        self._syncing = False
        self._fatal: BaseException | None = None
        self.last_sync_seconds = 0.0

    def join(self, handle: SegmentHandle, last_seq: int, last_hash: str) -> _Group:
        """Register records just written; the caller holds the log's write lock (so seqs only grow)."""
        with self._lock:
            group = self._open
            if id(handle) not in group.handles:
                handle.pin()  # the leader syncs it even if a rotation retires it meanwhile
                group.handles[id(handle)] = handle
            group.last_seq, group.last_hash = last_seq, last_hash
            return group

    def wait(self, group: _Group) -> None:
        """Return once `group` is durable, leading its sync if no sync is under way."""
        with self._lock:
            while not group.done:
                if self._fatal is not None:
                    raise AuditLogFatalError(f"audit log is unusable after: {self._fatal}") from self._fatal
                if self._syncing or group is not self._open:
                    group.wakeup.wait()
                else:
                    self._lead()

    def _lead(self) -> None:
        # Called with the lock held; releases it for the sync.
        group = self._open
        self._open = _Group(self._lock)
        self._syncing = True
        handles = list(group.handles.values())
        self._lock.release()
        error: BaseException | None = None
        began = time.monotonic()
        try:
            self._sync_group(handles, group.last_seq, group.last_hash)
            self.last_sync_seconds = time.monotonic() - began
        except BaseException as exc:  # noqa: BLE001 - any failure makes the log unusable
            error = exc
        finally:
            for handle in handles:
                handle.unpin()
            self._lock.acquire()
            self._syncing = False
            if error is None:
                group.done = True
                group.wakeup.notify_all()
                if self._open.handles:
                    self._open.wakeup.notify()  # the next group's leader
            else:
                self._fatal = error
                group.wakeup.notify_all()
                self._open.wakeup.notify_all()


_MAX_GATHER_SECONDS = 0.002


class _Ticket:
    __slots__ = ("done", "error", "prepared", "queued", "records", "thread", "wakeup")

    def __init__(self, prepared: list[Any], lock: threading.Lock) -> None:
        self.thread = threading.get_ident()
        self.prepared = prepared
        self.records: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self.queued = True  # until a drainer takes it into a batch
        self.done = False
        self.wakeup = threading.Condition(lock)  # its appender's own: a wake-up goes to whom it concerns


class WriteCombiner:
    """The batch policy's writes: appends queued by many threads are written together.

    An appender queues its entries; the first appender that finds no one draining the queue takes
    everything queued (its own entries included), writes it with one lock acquisition and one
    `write` (through `write`, which assigns consecutive seqs in queue order, so each appender's
    entries stay contiguous), joins the group commit, and lets the next appender drain the queue
    while it waits for the sync. Once the sync covers the batch it hands each appender its records.
    Per record this costs one queue entry and one wake-up instead of a lock, an flock, a stat and a
    write each, which is what lets many writer threads keep up with the disk. Each appender waits
    on its own condition: a finished batch wakes its own appenders, a finished write wakes the one
    appender at the head of the queue to drain it next, and no one else (with 16 writer threads,
    waking every waiter each time cost more than the records' own work).

    Like PostgreSQL's commit_delay with commit_siblings: when fewer appends are queued than threads
    appended in the last two batches, the drainer waits for the others (those just released by the
    previous sync) for at most half a sync's duration, capped at 2 ms, so one sync carries them all
    instead of two syncs carrying half each. A single writer never waits.
    """

    def __init__(self, write: WriteBatch, commit: GroupCommit) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Ticket] = []
        self._draining = False
        self._gather = threading.Condition(self._lock)  # a drainer waits here for appenders on their way
        self._gathering = False
        self._recent_threads: tuple[set[int], set[int]] = (set(), set())
        self._write = write
        self._commit = commit

    def append(self, prepared: list[Any]) -> list[dict[str, Any]]:
        ticket = _Ticket(prepared, self._lock)
        with self._lock:
            self._queue.append(ticket)
            if self._gathering:
                self._gather.notify()
            while not ticket.done:
                if self._draining or not ticket.queued:
                    ticket.wakeup.wait()
                else:
                    self._drain()
        if ticket.error is not None:
            raise ticket.error
        return ticket.records

    def _gather_siblings(self) -> None:
        # Called with the lock held and `_draining` set.
        expected = len(self._recent_threads[0] | self._recent_threads[1])
        if len(self._queue) >= expected or not self._commit.last_sync_seconds:
            return
        deadline = time.monotonic() + min(_MAX_GATHER_SECONDS, self._commit.last_sync_seconds / 2)
        self._gathering = True
        while len(self._queue) < expected and (remaining := deadline - time.monotonic()) > 0:
            self._gather.wait(remaining)
        self._gathering = False

    def _drain(self) -> None:
        # Called with the lock held; releases it while writing and syncing.
        self._draining = True
        self._gather_siblings()
        batch, self._queue = self._queue, []
        for ticket in batch:
            ticket.queued = False
        self._recent_threads = (self._recent_threads[1], {ticket.thread for ticket in batch})
        self._lock.release()
        records: list[dict[str, Any]] = []
        error: BaseException | None = None
        try:
            try:
                records, group = self._write([entry for ticket in batch for entry in ticket.prepared])
            finally:
                with self._lock:
                    self._draining = False
                    if self._queue:
                        self._queue[0].wakeup.notify()  # it writes the next batch while this one syncs
            self._commit.wait(group)
        except BaseException as exc:  # noqa: BLE001 - handed to every appender of the batch
            error = exc
        finally:
            self._lock.acquire()
            offset = 0
            for ticket in batch:
                count = len(ticket.prepared)
                ticket.records, ticket.error, ticket.done = records[offset : offset + count], error, True
                ticket.wakeup.notify()
                offset += count


#: Writes a batch of prepared entries and joins the group commit: (records, group to wait for).
WriteBatch = Callable[[list[Any]], tuple[list[dict[str, Any]], _Group]]
