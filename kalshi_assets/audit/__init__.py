"""Tamper-evident, crash-safe, multi-process audit log (no dagster import).

    from kalshi_assets.audit import AuditLog, ORDER
    log = AuditLog("data/audit", fsync="batch")
    log.log_order("trader-1", client_order_id="c1", ticker="KXCPI-26DEC-T0.3", side="yes",
                  action="buy", count=5, status="submitted", price_cents=42)
    report = log.verify()          # report.ok, report.problems
    rows = log.query(event_type=ORDER, user_id="trader-1")
"""

from kalshi_assets.audit.anchor import ANCHOR_ENV, PUBLIC_KEY_ENV, SIGNING_KEY_ENV
from kalshi_assets.audit.checkpoint import KEY_ENV
from kalshi_assets.audit.encoding import GENESIS_HASH, canonical_json, record_hash
from kalshi_assets.audit.errors import (
    AuditLogClosedError,
    AuditLogDamagedError,
    AuditLogError,
    AuditLogFatalError,
    AuditLogStorageError,
)
from kalshi_assets.audit.events import (
    API_CALL,
    BREAKER_STATE,
    EVENT_TYPES,
    ORDER,
    RISK_VIOLATION,
    TRADE,
)
from kalshi_assets.audit.log import (
    AUDIT_DIR_ENV,
    FSYNC_POLICIES,
    AuditLog,
    FsyncPolicy,
    default_audit_directory,
)
from kalshi_assets.audit.query import query_log
from kalshi_assets.audit.scrub import REDACTED, scrub_payload
from kalshi_assets.audit.typed import api_call_entry
from kalshi_assets.audit.verify import Problem, VerifyReport, verify_configured, verify_log

__all__ = [
    "ANCHOR_ENV",
    "API_CALL",
    "AUDIT_DIR_ENV",
    "BREAKER_STATE",
    "EVENT_TYPES",
    "FSYNC_POLICIES",
    "GENESIS_HASH",
    "KEY_ENV",
    "ORDER",
    "PUBLIC_KEY_ENV",
    "REDACTED",
    "RISK_VIOLATION",
    "SIGNING_KEY_ENV",
    "TRADE",
    "AuditLog",
    "AuditLogClosedError",
    "AuditLogDamagedError",
    "AuditLogError",
    "AuditLogFatalError",
    "AuditLogStorageError",
    "FsyncPolicy",
    "Problem",
    "VerifyReport",
    "api_call_entry",
    "canonical_json",
    "default_audit_directory",
    "query_log",
    "record_hash",
    "scrub_payload",
    "verify_configured",
    "verify_log",
]
