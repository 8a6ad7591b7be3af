"""Group commit for the "batch" fsync policy: many appends, one sync.

An appender writes its records, joins the *open group* and waits. The first waiter that finds no
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
from collections.abc import Callable

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
        try:
            self._sync_group(handles, group.last_seq, group.last_hash)
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
