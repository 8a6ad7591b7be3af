"""Fixtures for the audit log tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kalshi_assets.audit import AuditLog


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests use the key file inside each tmp log directory unless they set the key themselves.
    monkeypatch.delenv("KALSHI_AUDIT_HMAC_KEY", raising=False)
    for name in ("KALSHI_AUDIT_SIGNING_KEY", "KALSHI_AUDIT_PUBLIC_KEY", "KALSHI_AUDIT_ANCHOR"):
        monkeypatch.delenv(name, raising=False)  # and no anchors unless a test configures them


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "audit"


@pytest.fixture
def make_log(log_dir: Path) -> Callable[..., list[dict]]:
    """Write `count` ORDER records (user u1 for even i, u2 for odd) and close the log."""

    def make(count: int = 10, **kwargs) -> list[dict]:
        with AuditLog(log_dir, **kwargs) as log:
            return [
                log.append("ORDER", "u1" if i % 2 == 0 else "u2", {"i": i, "ticker": "KXCPI-26DEC", "note": "é"})
                for i in range(count)
            ]

    return make
