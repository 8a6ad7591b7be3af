"""The test servers of tests/servers.py: unprivileged, password-protected, gone afterwards; and a missing
binary skips locally but fails under CI=true."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests import servers
from tests.servers import PostgresServer, RedisServer

pytestmark = pytest.mark.slow


def psql(server: PostgresServer, env: dict[str, str], sql: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return subprocess.run([str(server.bin_dir / "psql"), "-h", server.host, "-p", str(server.port), "-U", server.user,
                           "-d", "postgres", "-w", "-tAc", sql], env={**clean, **env}, capture_output=True,
                          text=True, timeout=30)


def test_postgres_runs_unprivileged_and_wants_the_password(postgres_server: PostgresServer) -> None:
    owner = int(open(f"/proc/{postgres_server.process.pid}/status").read().split("Uid:")[1].split()[0])
    assert owner != 0 and owner == postgres_server.run_as.uid
    refused = psql(postgres_server, {}, "SELECT 1")
    assert refused.returncode != 0 and "password" in refused.stderr
    accepted = psql(postgres_server, postgres_server.env, "SELECT current_user, version()")
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.startswith(f"{postgres_server.user}|PostgreSQL {servers.POSTGRES_MAJOR}.")
    assert postgres_server.password not in repr(postgres_server)


def test_redis_wants_its_password(redis_server: RedisServer) -> None:
    assert redis_server.command("PING") == b"+PONG\r\n"
    assert servers._redis_exchange(redis_server.host, redis_server.port, None, ("PING",)).startswith(b"-NOAUTH")
    assert redis_server.command("INFO", "server").split(b"redis_version:")[1].startswith(b"7.")
    assert redis_server.password not in repr(redis_server)


def test_a_stopped_postgres_leaves_no_process_and_no_files() -> None:
    bin_dir = servers.postgres_bin_dir()
    servers.require(bin_dir is not None, "PostgreSQL")
    server = servers.start_postgres(bin_dir)
    servers.stop_postgres(server)
    assert server.process.poll() is not None
    assert not server.directory.exists()


def test_a_missing_binary_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="install_services.sh"):
        servers.require(False, "redis-server")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the distributed tests"):
        servers.require(False, "redis-server")
    servers.require(True, "redis-server")  # present: nothing happens
