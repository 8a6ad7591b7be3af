"""Issue 14 item 2: a writer of the log's directory cannot forge it once an anchor lives outside it.

Each forgery the adversarial pass found (a planted key file, a rewrite re-signed with the key file,
a rollback to an older checkpoint) makes `audit verify --strict` exit 1 naming the problem when an
anchor is configured; without one, verify says "unanchored" and `--strict` exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kalshi_assets.audit import GENESIS_HASH, AuditLog, AuditLogDamagedError, canonical_json, verify_log
from kalshi_assets.audit.checkpoint import CHECKPOINT_FILE_NAME, KEY_FILE_NAME, CheckpointWriter
from kalshi_assets.audit.encoding import encode_record
from kalshi_assets.cli.audit import add_verify_arguments, run_verify

REPO = Path(__file__).resolve().parents[2]
SEGMENT = "segment-000000000001.jsonl"


@pytest.fixture(autouse=True)
def _no_anchor_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KALSHI_AUDIT_SIGNING_KEY", "KALSHI_AUDIT_PUBLIC_KEY", "KALSHI_AUDIT_ANCHOR"):
        monkeypatch.delenv(name, raising=False)


def _keypair(directory: Path, name: str = "audit") -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private, public = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    private.chmod(0o600)
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return _keypair(tmp_path / "keys")


@pytest.fixture
def anchor_file(tmp_path: Path) -> Path:
    (tmp_path / "siem").mkdir()
    return tmp_path / "siem" / "audit-checkpoints.jsonl"


def _verify_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    add_verify_arguments(parser)
    code = run_verify(parser.parse_args(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _write(log_dir: Path, count: int, **kwargs) -> list[dict]:
    with AuditLog(log_dir, fsync="batch", **kwargs) as log:
        return [log.append("ORDER", "trader", {"i": i, "ticker": "KXCPI-26DEC"}) for i in range(count)]


def _rewrite_records(log_dir: Path, change) -> tuple[int, str]:
    """Edit records and re-chain every hash, as a forger would; returns the new (last seq, last hash)."""
    segment = log_dir / SEGMENT
    forged, prev, seq = [], GENESIS_HASH, 0
    for line in segment.read_bytes().splitlines():
        record = json.loads(line)
        change(record)
        out, prev = encode_record(
            record["seq"], record["ts"], record["event_type"], record["user_id"], canonical_json(record["payload"]), prev
        )
        forged.append(out)
        seq = record["seq"]
    segment.write_bytes(b"".join(forged))
    return seq, prev


def _resign_checkpoint(log_dir: Path, key: bytes, seq: int, digest: str) -> None:
    """Write a fresh checkpoint signed (HMAC) with `key`, as a forger holding a key file would."""
    (log_dir / CHECKPOINT_FILE_NAME).unlink()
    first = json.loads((log_dir / SEGMENT).read_bytes().splitlines()[0])["hash"]
    writer = CheckpointWriter(log_dir, key)
    writer.advance(seq, digest, lambda: first, sync=True)
    writer.close()


def _change_record_3(record: dict) -> None:
    if record["seq"] == 3:
        record["payload"]["ticker"] = "FORGED"


def test_verify_without_an_anchor_says_unanchored_and_strict_exits_one(
    make_log, log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_log(5)
    code, out = _verify_cli([str(log_dir)], capsys)
    assert code == 0
    first_line = out.splitlines()[0]
    assert first_line.startswith("OK: 5 entries") and "unanchored" in first_line
    assert "found inside the log directory" in first_line
    code, out = _verify_cli(["--strict", str(log_dir)], capsys)
    assert code == 1 and "STRICT: no anchor outside the log directory" in out
    report = verify_log(log_dir)
    assert report.ok and not report.anchored


def test_signed_and_published_log_verifies_strictly_naming_its_anchors(
    log_dir: Path, keys: tuple[Path, Path], anchor_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = keys
    _write(log_dir, 12, signing_key=private, anchor=anchor_file)
    published = [json.loads(line) for line in anchor_file.read_text().splitlines()]
    assert published and published[-1]["seq"] == 12 and "sig" in published[-1]
    assert published[-1]["log"] == str(log_dir)
    code, out = _verify_cli(["--strict", "--public-key", str(public), "--anchor-file", str(anchor_file), str(log_dir)], capsys)
    assert code == 0, out
    kid = published[-1]["kid"]
    assert out.startswith("OK: 12 entries") and f"ed25519 key {kid}" in out and str(anchor_file) in out


def test_planted_key_file_and_forged_rewrite_fail_strict_verify(
    log_dir: Path, keys: tuple[Path, Path], anchor_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 14 forgery 1: unlink the key file, plant one, rewrite a record, re-sign."""
    private, public = keys
    _write(log_dir, 6, signing_key=private, anchor=anchor_file)
    (log_dir / KEY_FILE_NAME).unlink()
    planted = os.urandom(32)
    (log_dir / KEY_FILE_NAME).write_text(planted.hex())
    seq, digest = _rewrite_records(log_dir, _change_record_3)
    _resign_checkpoint(log_dir, planted, seq, digest)
    # What the issue saw: the directory alone vouches for the forgery, and verify now says so.
    unanchored = verify_log(log_dir)
    assert unanchored.ok and not unanchored.anchored and unanchored.anchor.startswith("unanchored")
    code, out = _verify_cli(["--strict", str(log_dir)], capsys)
    assert code == 1 and "unanchored" in out
    # With the signature anchor: the checkpoint carries no signature by the given key.
    code, out = _verify_cli(["--strict", "--public-key", str(public), str(log_dir)], capsys)
    assert code == 1
    assert "PROBLEM log: checkpoint_invalid: the checkpoint cannot be trusted: no slot carries a valid Ed25519" in out
    # With the published checkpoints: record 1 (first_hash) and record 6 differ from what was published.
    code, out = _verify_cli(["--strict", "--anchor-file", str(anchor_file), str(log_dir)], capsys)
    assert code == 1
    assert "PROBLEM seq 6: anchor_mismatch: differs from the checkpoint published in" in out
    # And a writer refuses to extend (and so launder) the forgery.
    with pytest.raises(AuditLogDamagedError, match="cannot be trusted"):
        AuditLog(log_dir, signing_key=private)


def test_rewrite_re_signed_with_the_directory_key_fails_strict_verify(
    log_dir: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Forgery 2: rewrite and re-sign with the key file the writer left in the directory."""
    private, public = keys
    _write(log_dir, 6, signing_key=private)
    key = bytes.fromhex((log_dir / KEY_FILE_NAME).read_text().strip())
    seq, digest = _rewrite_records(log_dir, _change_record_3)
    _resign_checkpoint(log_dir, key, seq, digest)
    assert verify_log(log_dir).ok  # HMAC from the directory: internally consistent
    code, out = _verify_cli(["--strict", "--public-key", str(public), str(log_dir)], capsys)
    assert code == 1 and "checkpoint_invalid" in out and "re-signed with another key, or replaced" in out
    # Keeping the genuine signed checkpoint instead leaves a record that differs from it.
    second = log_dir.parent / "second"
    _write(second, 6, signing_key=private)
    _rewrite_records(second, _change_record_3)
    code, out = _verify_cli(["--strict", "--public-key", str(public), str(second)], capsys)
    assert code == 1 and "PROBLEM seq 6: checkpoint_mismatch: differs from the signed checkpoint" in out


def test_checkpoint_rollback_is_caught_by_the_published_sequence(
    log_dir: Path, keys: tuple[Path, Path], anchor_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Forgery 3: cut 100 records and restore an older, genuinely signed checkpoint."""
    private, public = keys
    saved = log_dir.parent / "saved-checkpoint"
    with AuditLog(log_dir, signing_key=private, anchor=anchor_file) as log:
        for i in range(50):
            log.append("ORDER", "trader", {"i": i})
        log.flush()
        shutil.copyfile(log_dir / CHECKPOINT_FILE_NAME, saved)
        cut_at = (log_dir / SEGMENT).stat().st_size
        for i in range(50, 150):
            log.append("ORDER", "trader", {"i": i})
    with open(log_dir / SEGMENT, "r+b") as segment:
        segment.truncate(cut_at)
    shutil.copyfile(saved, log_dir / CHECKPOINT_FILE_NAME)
    # The signature alone cannot tell: the restored checkpoint is genuine and the log matches it.
    assert verify_log(log_dir, public_keys=None, key=None).ok
    code, out = _verify_cli(["--public-key", str(public), str(log_dir)], capsys)
    assert code == 0
    # The published sequence can.
    code, out = _verify_cli(["--strict", "--public-key", str(public), "--anchor-file", str(anchor_file), str(log_dir)], capsys)
    assert code == 1
    assert f"PROBLEM seq 51: rollback: {anchor_file} published seq 150 but the log ends at seq 50" in out
    assert "note: the checkpoint names seq 50, behind seq 150 published" in out
    with pytest.raises(AuditLogDamagedError, match="rolled back"):
        AuditLog(log_dir, signing_key=private, anchor=anchor_file)


def test_env_hmac_key_missing_in_the_verifier_never_falls_back_silently(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KALSHI_AUDIT_HMAC_KEY", "a-key-kept-outside-the-log-dir")
    _write(log_dir, 5)
    assert not (log_dir / KEY_FILE_NAME).exists()
    planted = os.urandom(32)
    (log_dir / KEY_FILE_NAME).write_text(planted.hex())
    seq, digest = _rewrite_records(log_dir, _change_record_3)
    _resign_checkpoint(log_dir, planted, seq, digest)
    with_env = verify_log(log_dir)
    assert with_env.anchored and "KALSHI_AUDIT_HMAC_KEY" in with_env.anchor
    assert [p.kind for p in with_env.problems] == ["checkpoint_invalid"]
    monkeypatch.delenv("KALSHI_AUDIT_HMAC_KEY")
    code, out = _verify_cli([str(log_dir)], capsys)
    assert code == 0 and "unanchored" in out.splitlines()[0]  # the planted key is named for what it is
    code, out = _verify_cli(["--strict", str(log_dir)], capsys)
    assert code == 1


def test_keys_and_anchor_inside_the_directory_are_refused(
    log_dir: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = keys
    _write(log_dir, 2)
    inside_private, inside_public = _keypair(log_dir, "planted")
    with pytest.raises(ValueError, match="inside the log directory"):
        AuditLog(log_dir, signing_key=inside_private)
    with pytest.raises(ValueError, match="inside the log directory"):
        AuditLog(log_dir, anchor=log_dir / "anchor.jsonl")
    code, out = _verify_cli(["--public-key", str(inside_public), str(log_dir)], capsys)
    assert code == 2 and "inside the log directory" in out
    code, out = _verify_cli(["--anchor-file", str(log_dir / "anchor.jsonl"), str(log_dir)], capsys)
    assert code == 2 and "inside the log directory" in out


def test_key_rotation_accepts_the_old_key_then_signs_with_the_new(
    log_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_private, old_public = _keypair(tmp_path / "keys", "old")
    new_private, new_public = _keypair(tmp_path / "keys", "new")
    _write(log_dir, 3, signing_key=old_private)
    with pytest.raises(AuditLogDamagedError, match="not by a given public key"):
        AuditLog(log_dir, signing_key=new_private)  # the new key alone does not vouch for the old checkpoint
    with AuditLog(log_dir, signing_key=new_private, trusted_public_keys=[old_public]) as log:
        log.append("ORDER", "trader", {"rotated": True})
        assert any("re-signed the checkpoint at seq 3" in action for action in log.recovery_actions)
    # Opening re-signed both checkpoint slots, so the new public key alone now vouches for the log.
    code, out = _verify_cli(["--strict", "--public-key", str(new_public), str(log_dir)], capsys)
    assert code == 0, out
    code, out = _verify_cli(["--strict", "--public-key", str(old_public), str(log_dir)], capsys)
    assert code == 1 and "checkpoint_invalid" in out


def test_an_unsigned_log_is_adopted_only_when_asked(log_dir: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    _write(log_dir, 3)
    with pytest.raises(AuditLogDamagedError, match="carries no Ed25519 signature"):
        AuditLog(log_dir, signing_key=private)
    with AuditLog(log_dir, signing_key=private, adopt_unsigned_checkpoint=True) as log:
        assert any("adopted the unsigned checkpoint at seq 3" in a for a in log.recovery_actions)
        log.append("ORDER", "trader", {})
    from kalshi_assets.audit.anchor import load_public_keys

    report = verify_log(log_dir, public_keys=load_public_keys([public]))
    assert report.ok and report.anchored, report.problems


def test_checkpoints_published_to_stdout_for_a_siem_verify_the_log(
    log_dir: Path, keys: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = keys
    script = (
        "import sys; from kalshi_assets.audit import AuditLog\n"
        "with AuditLog(sys.argv[1], signing_key=sys.argv[2], anchor='stdout') as log:\n"
        "    [log.append('ORDER', 'trader', {'i': i}) for i in range(20)]\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(log_dir), str(private)], capture_output=True, text=True, cwd=REPO, check=True
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines and lines[-1]["seq"] == 20 and all("sig" in line for line in lines)
    export = tmp_path / "siem-export.jsonl"
    export.write_text(done.stdout)
    code, out = _verify_cli(["--strict", "--public-key", str(public), "--anchor-file", str(export), str(log_dir)], capsys)
    assert code == 0, out
    # A line the signing key did not sign is named.
    forged = dict(lines[-1], seq=21)
    export.write_text(done.stdout + json.dumps(forged) + "\n")
    code, out = _verify_cli(["--strict", "--public-key", str(public), "--anchor-file", str(export), str(log_dir)], capsys)
    assert code == 1 and "anchor_invalid" in out and "does not verify" in out


def test_publication_is_rate_limited_and_completed_at_close(log_dir: Path, anchor_file: Path) -> None:
    log = AuditLog(log_dir, fsync="batch", anchor=anchor_file, anchor_interval=3600)
    for i in range(10):
        log.append("ORDER", "trader", {"i": i})
    assert [json.loads(line)["seq"] for line in anchor_file.read_text().splitlines()] == [1]
    log.close()
    assert [json.loads(line)["seq"] for line in anchor_file.read_text().splitlines()] == [1, 10]
    report = verify_log(log_dir, anchor_file=anchor_file)
    assert report.ok and report.anchored and report.anchored_seq == 10


def test_a_checkpoint_lagging_the_published_one_after_a_crash_is_not_a_rollback(
    log_dir: Path, keys: tuple[Path, Path], anchor_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A power cut may lose the checkpoint's last (unsynced) writes but never the records it named."""
    private, public = keys
    saved = log_dir.parent / "older-checkpoint"
    with AuditLog(log_dir, signing_key=private, anchor=anchor_file) as log:
        for i in range(10):
            log.append("ORDER", "trader", {"i": i})
        log.flush()
        shutil.copyfile(log_dir / CHECKPOINT_FILE_NAME, saved)
        for i in range(10, 20):
            log.append("ORDER", "trader", {"i": i})
    shutil.copyfile(saved, log_dir / CHECKPOINT_FILE_NAME)  # the records stay: only the checkpoint lags
    code, out = _verify_cli(["--strict", "--public-key", str(public), "--anchor-file", str(anchor_file), str(log_dir)], capsys)
    assert code == 0, out
    with AuditLog(log_dir, signing_key=private, anchor=anchor_file) as log:
        assert log.append("ORDER", "trader", {"after": True})["seq"] == 21
