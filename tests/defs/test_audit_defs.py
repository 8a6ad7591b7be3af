"""The audit log's Dagster parts: the resource, the health asset and its blocking check."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from kalshi_assets.audit import AuditLog
from kalshi_assets.defs.audit import audit_chain_intact, audit_log_health, defs
from kalshi_assets.defs.resources import AuditLogResource


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KALSHI_AUDIT_HMAC_KEY", raising=False)


def _run(directory: Path, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [audit_log_health, audit_chain_intact],
        resources={"audit_log": AuditLogResource(directory=str(directory))},
        raise_on_error=raise_on_error,
    )


def test_definitions_expose_the_asset_and_check() -> None:
    assert list(defs.assets) == [audit_log_health] and list(defs.asset_checks) == [audit_chain_intact]
    assert audit_log_health.group_names_by_key[dg.AssetKey("audit_log_health")] == "trading"
    assert "audit_log" in audit_log_health.required_resource_keys
    assert audit_chain_intact.check_specs and next(iter(audit_chain_intact.check_specs)).blocking


def test_health_asset_and_check_pass_on_an_intact_log(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    resource = AuditLogResource(directory=str(directory), fsync="batch")
    log = resource.get_log()
    assert resource.get_log() is log  # one log per process: one group commit
    for i in range(7):
        log.log_order("trader", client_order_id=f"c{i}", ticker="T", side="yes", action="buy", count=1,
                      status="submitted")
    result = _run(directory)
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["verify_status"].value == "ok"
    assert metadata["total_entries"].value == 7
    assert metadata["last_seq"].value == 7
    assert metadata["problem_count"].value == 0
    check = result.get_asset_check_evaluations()[0]
    assert check.passed and check.check_name == "audit_chain_intact"


def test_check_fails_and_names_the_problem_on_a_damaged_log(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    with AuditLog(directory) as log:
        for i in range(5):
            log.append("ORDER", "u", {"i": i})
    segment = directory / "segment-000000000001.jsonl"
    lines = segment.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"i":1', b'"i":8')
    segment.write_bytes(b"".join(lines))
    result = _run(directory, raise_on_error=False)
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["verify_status"].value == "damaged"
    assert metadata["first_bad_seq"].value == 2
    assert "seq 2: hash_mismatch" in metadata["problems"].value
    check = result.get_asset_check_evaluations()[0]
    assert not check.passed
    assert check.metadata["first_bad_seq"].value == 2


def test_check_reports_a_truncated_log_that_refuses_appends(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    with AuditLog(directory) as log:
        for i in range(5):
            log.append("ORDER", "u", {"i": i})
    segment = directory / "segment-000000000001.jsonl"
    segment.write_bytes(b"".join(segment.read_bytes().splitlines(keepends=True)[:3]))
    result = _run(directory, raise_on_error=False)
    check = result.get_asset_check_evaluations()[0]
    assert not check.passed and check.metadata["first_bad_seq"].value == 4


def test_resource_directory_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KALSHI_AUDIT_DIR", str(tmp_path / "from-env"))
    assert AuditLogResource().directory == str(tmp_path / "from-env")
    monkeypatch.delenv("KALSHI_AUDIT_DIR")
    monkeypatch.setenv("KALSHI_WAREHOUSE", str(tmp_path / "wh" / "warehouse.duckdb"))
    assert AuditLogResource().directory == str(tmp_path / "wh" / "audit")


def _signing_key(directory: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    directory.mkdir(parents=True)
    key = Ed25519PrivateKey.generate()
    private, public = directory / "signing.pem", directory / "signing.pub.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def test_check_is_strict_with_an_anchor_and_catches_a_rollback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KALSHI_AUDIT_SIGNING_KEY", "KALSHI_AUDIT_PUBLIC_KEY", "KALSHI_AUDIT_ANCHOR"):
        monkeypatch.delenv(name, raising=False)
    directory, anchor = tmp_path / "audit", tmp_path / "siem" / "checkpoints.jsonl"
    anchor.parent.mkdir()
    private, public = _signing_key(tmp_path / "keys")
    resource = AuditLogResource(directory=str(directory), signing_key_path=str(private), anchor=str(anchor))
    assert resource.anchored and not AuditLogResource(directory=str(directory)).anchored
    with AuditLog(directory, signing_key=private, anchor=anchor) as log:
        for i in range(5):
            log.append("ORDER", "u", {"i": i})
    result = dg.materialize([audit_log_health, audit_chain_intact], resources={"audit_log": resource})
    check = result.get_asset_check_evaluations()[0]
    assert check.passed and check.metadata["strict"].value is True
    assert "ed25519 key" in check.metadata["anchor"].value and str(anchor) in check.metadata["anchor"].value
    # Cut the last two records: the signed checkpoint would have to be rolled back too, and the
    # published sequence still names seq 5.
    segment = directory / "segment-000000000001.jsonl"
    segment.write_bytes(b"".join(segment.read_bytes().splitlines(keepends=True)[:3]))
    verifier = AuditLogResource(directory=str(directory), public_key_path=str(public), anchor=str(anchor))
    result = dg.materialize([audit_log_health, audit_chain_intact], resources={"audit_log": verifier}, raise_on_error=False)
    check = result.get_asset_check_evaluations()[0]
    assert not check.passed and "rollback" in check.metadata["problems"].value


def test_check_without_an_anchor_passes_and_says_unanchored(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    with AuditLog(directory) as log:
        log.append("ORDER", "u", {})
    result = _run(directory)
    check = result.get_asset_check_evaluations()[0]
    assert check.passed and check.metadata["strict"].value is False
    assert check.metadata["anchor"].value.startswith("unanchored")
