"""Issue 14 item 7 (audit part): a full disk gives one clear line naming the path, and loses nothing."""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path

import pytest

import kalshi_assets.audit.segments as segments_module
from kalshi_assets.audit import AuditLog, AuditLogFatalError, AuditLogStorageError, verify_log


def _no_space(*_args, **_kwargs) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_rotation_and_reopen_on_a_full_disk_name_the_path_and_lose_nothing(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    acknowledged = []
    log = AuditLog(log_dir, fsync="batch", max_segment_bytes=4096)
    monkeypatch.setattr(segments_module.shutil, "copyfileobj", _no_space)  # the disk fills up
    with pytest.raises(AuditLogFatalError) as failed:
        for i in range(100):
            acknowledged.append(log.append("ORDER", "u", {"i": i, "pad": "x" * 200}))
    message = str(failed.value)
    assert "\n" not in message and ".gz.tmp" in message and "No space left on device" in message
    assert not list(log_dir.glob("*.gz.tmp"))  # the partial copy holds no space
    assert list(log_dir.glob("*.closing"))  # the records are still there, uncompressed
    log.close()
    with pytest.raises(AuditLogStorageError) as reopened:  # the disk is still full
        AuditLog(log_dir, max_segment_bytes=4096)
    error = reopened.value
    assert isinstance(error, OSError) and error.errno == errno.ENOSPC
    assert str(error).startswith("audit log: cannot open the audit log in ") and "\n" not in str(error)
    assert ".gz.tmp" in str(error) and "free space and retry" in str(error)
    monkeypatch.undo()  # space is freed
    with AuditLog(log_dir, max_segment_bytes=4096) as log:
        assert any("compressed" in action for action in log.recovery_actions)
        log.append("ORDER", "u", {"after": True})
    report = verify_log(log_dir)
    assert report.ok, report.problems
    assert report.total_entries == len(acknowledged) + 1


@pytest.fixture
def tiny_filesystem(tmp_path: Path):
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def test_a_really_full_disk_gives_one_line_naming_the_path(tiny_filesystem: Path) -> None:
    log_dir = tiny_filesystem / "audit"
    log = AuditLog(log_dir, max_segment_bytes=64 * 1024)
    acknowledged = 0
    with pytest.raises(AuditLogFatalError) as failed:
        while True:
            log.append("ORDER", "u", {"pad": "x" * 500})
            acknowledged += 1
    assert str(log_dir) in str(failed.value) and "No space left on device" in str(failed.value)
    log.close()
    with pytest.raises(AuditLogStorageError) as reopened:
        AuditLog(log_dir, max_segment_bytes=64 * 1024)
    assert str(log_dir) in str(reopened.value) and "\n" not in str(reopened.value)
    report = verify_log(log_dir)
    assert report.ok and report.total_entries == acknowledged
