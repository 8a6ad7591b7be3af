"""Errors raised by the audit log."""

from __future__ import annotations

import errno
import os


class AuditLogError(Exception):
    """Base class of every audit-log error."""


class AuditLogDamagedError(AuditLogError):
    """The log on disk is damaged in a way that appending would hide; run `verify` and investigate."""


class AuditLogFatalError(AuditLogError):
    """A write or fsync failed; the log refuses further appends (an fsync error is never retried)."""


class AuditLogClosedError(AuditLogError):
    """The log was closed."""


class AuditLogStorageError(AuditLogError, OSError):
    """The file system refused an operation on the log (a full disk, a read-only mount, permissions).

    Its message is one line naming the path and the cause; `errno` and `filename` are those of the
    underlying OSError, which is its `__cause__`. Nothing stored was changed by the failed operation.
    """

    def __init__(self, message: str, cause: OSError, path: str | None = None) -> None:
        super().__init__(cause.errno, message, path or cause.filename)
        self.message = message

    def __str__(self) -> str:
        return self.message


def storage_error(action: str, path: object, cause: OSError) -> AuditLogStorageError:
    """A one-line error naming what failed, where, and why (with a hint for a full disk)."""
    reason = os.strerror(cause.errno) if cause.errno else str(cause)
    hint = "; free space and retry (nothing acknowledged was lost)" if cause.errno == errno.ENOSPC else ""
    where = cause.filename if cause.filename else path
    return AuditLogStorageError(f"audit log: cannot {action} {where}: {reason}{hint}", cause, str(where))
