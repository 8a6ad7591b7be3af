"""Errors raised by the audit log."""

from __future__ import annotations


class AuditLogError(Exception):
    """Base class of every audit-log error."""


class AuditLogDamagedError(AuditLogError):
    """The log on disk is damaged in a way that appending would hide; run `verify` and investigate."""


class AuditLogFatalError(AuditLogError):
    """A write or fsync failed; the log refuses further appends (an fsync error is never retried)."""


class AuditLogClosedError(AuditLogError):
    """The log was closed."""
