"""Real PostgreSQL and Redis servers for the distributed tests, started on loopback in temporary directories.

A pytest plugin (tests/conftest.py lists it in `pytest_plugins`): the session fixtures `postgres_server` and
`redis_server` start Debian's `postgres` and `redis-server` on free ports and stop them at the end of the
session, also when a test fails. Both servers are children of the test process that die with it
(PR_SET_PDEATHSIG), so a killed pytest leaves nothing running.

`initdb` and `postgres` refuse to run as root, and CI runs as root: then the server runs as an unprivileged
account (Debian's `postgres` user, or `kalshi-pg`, created when missing) and its directory is made under
/tmp and given to that account (pytest's own temp root is private to root).

Passwords never reach argv: initdb reads the superuser's from a file, clients read it from PGPASSWORD or a
PGPASSFILE, Redis reads `requirepass` from its config file.

When the binaries are missing the fixtures skip, naming scripts/install_services.sh; under CI=true they
fail instead, so CI can never pass by skipping the distributed tests.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

INSTALL_HINT = "run `bash scripts/install_services.sh` (apt-get install postgresql redis-server)"
POSTGRES_MAJOR = "15"
POSTGRES_ROOT = Path("/usr/lib/postgresql")
UNPRIVILEGED_ACCOUNTS = ("postgres", "kalshi-pg")
PR_SET_PDEATHSIG = 1


def require(condition: bool, what: str) -> None:
    """Skip the test when a server binary is missing; fail instead under CI=true."""
    if condition:
        return
    message = f"{what} is not installed; {INSTALL_HINT}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the distributed tests, but {message}", pytrace=False)
    pytest.skip(message)


def postgres_bin_dir(root: Path = POSTGRES_ROOT, major: str = POSTGRES_MAJOR) -> Path | None:
    """Debian keeps the server programs off PATH, under /usr/lib/postgresql/<major>/bin."""
    wanted = root / major / "bin"
    if (wanted / "initdb").is_file():
        return wanted
    return None


def redis_server_path() -> Path | None:
    found = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None)
    return Path(found) if found else None


def free_port() -> int:
    """A port free right now on loopback (a server that then loses the race is started again)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent(stop_signal: int) -> Callable[[], None]:
    """A preexec_fn (it runs after the uid switch, which would otherwise clear the parent-death signal)."""
    def arrange() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, stop_signal)
    return arrange


@dataclass(frozen=True)
class RunAs:
    """Who runs the server: the current user, or (when we are root) an unprivileged account."""

    uid: int
    gid: int
    name: str

    @property
    def popen_kwargs(self) -> dict:
        if os.geteuid() != 0:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def unprivileged_account() -> RunAs:
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name)
    for name in UNPRIVILEGED_ACCOUNTS:
        try:
            entry = pwd.getpwnam(name)
            return RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name)
        except KeyError:
            continue
    name = UNPRIVILEGED_ACCOUNTS[-1]
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
    entry = pwd.getpwnam(name)
    return RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name)


def _owned_temp_dir(prefix: str, owner: RunAs) -> Path:
    """A fresh 0700 directory under the system temp dir, owned by `owner` (reachable when we dropped root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        os.chown(path, owner.uid, owner.gid)
    return path


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} while starting:\n{log.read_text()[-3000:]}")
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready in {timeout_s:.0f}s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen, stop_signal: int, grace_s: float = 20) -> None:
    if process.poll() is not None:
        return
    process.send_signal(stop_signal)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@dataclass
class PostgresServer:
    """A running PostgreSQL server. `dsn` is a libpq keyword string without the password; the password
    reaches clients through `env` (PGPASSWORD) or `passfile` (PGPASSFILE), never argv."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    directory: Path
    bin_dir: Path
    process: subprocess.Popen = field(repr=False)
    run_as: RunAs
    started_in_s: float
    passfile: Path = field(repr=False)

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for a client process: libpq reads the password from PGPASSFILE."""
        return {"PGPASSFILE": str(self.passfile)}

    def create_database(self, name: str) -> str:
        """Create database `name` (with createdb: no SQL text here) and return its libpq keyword string."""
        env = {**os.environ, **self.env}
        subprocess.run([str(self.bin_dir / "createdb"), "-h", self.host, "-p", str(self.port), "-U", self.user,
                        name], check=True, capture_output=True, text=True, env=env, timeout=30)
        return self.dsn(name)


def start_postgres(bin_dir: Path, superuser: str = "kalshi", attempts: int = 3) -> PostgresServer:
    """initdb a fresh cluster in a temp dir (as an unprivileged account when root) and start it on loopback."""
    started = time.monotonic()
    run_as = unprivileged_account()
    directory = _owned_temp_dir("kalshi-pg-", run_as)
    password = secrets.token_urlsafe(24)
    try:
        pwfile = directory / "pwfile"
        pwfile.write_text(password + "\n")
        _chown(pwfile, run_as)
        pwfile.chmod(0o600)
        data = directory / "data"
        log = directory / "initdb.log"
        with log.open("w") as out:
            done = subprocess.run(
                [str(bin_dir / "initdb"), "-D", str(data), "-U", superuser, "--pwfile", str(pwfile),
                 "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"],
                stdout=out, stderr=subprocess.STDOUT, cwd=directory, timeout=120, **run_as.popen_kwargs)
        pwfile.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"initdb exited {done.returncode}:\n{log.read_text()[-3000:]}")
        passfile = directory / "pgpass"
        for attempt in range(attempts):
            port = free_port()
            # The passfile belongs to the test process (libpq insists on 0600 and reads it as that user).
            passfile.write_text(f"127.0.0.1:{port}:*:{superuser}:{password}\n")
            passfile.chmod(0o600)
            process, log = _launch_postgres(bin_dir, data, directory, port, run_as, attempt)
            try:
                _wait(lambda port=port: _pg_ready(bin_dir, port), 60, "postgres", process, log)
            except RuntimeError:
                _stop(process, signal.SIGINT)
                if attempt == attempts - 1 or "could not bind" not in log.read_text():
                    raise
                continue
            return PostgresServer(host="127.0.0.1", port=port, user=superuser, password=password,
                                  directory=directory, bin_dir=bin_dir, process=process, run_as=run_as,
                                  started_in_s=time.monotonic() - started, passfile=passfile)
        raise AssertionError("unreachable")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _chown(path: Path, owner: RunAs) -> None:
    if os.geteuid() == 0:
        os.chown(path, owner.uid, owner.gid)


def _launch_postgres(bin_dir: Path, data: Path, directory: Path, port: int, run_as: RunAs,
                     attempt: int) -> tuple[subprocess.Popen, Path]:
    # The postmaster itself (not pg_ctl, which would detach it) so that it is our child and dies with us.
    # Durability settings are off: a test cluster is thrown away.
    log = directory / f"postgres-{attempt}.log"
    command = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(directory),
               "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
               "-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB"]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=directory,
                                   preexec_fn=_die_with_parent(signal.SIGINT), **run_as.popen_kwargs)
    return process, log


def _pg_ready(bin_dir: Path, port: int) -> bool:
    done = subprocess.run([str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
                          capture_output=True, timeout=10)
    return done.returncode == 0


def stop_postgres(server: PostgresServer) -> None:
    try:
        _stop(server.process, signal.SIGINT)  # "fast" shutdown: roll back open transactions, then exit
    finally:
        shutil.rmtree(server.directory, ignore_errors=True)


@dataclass
class RedisServer:
    """A running Redis server that requires a password (given in its config file, never argv)."""

    host: str
    port: int
    password: str = field(repr=False)
    directory: Path
    process: subprocess.Popen = field(repr=False)
    started_in_s: float

    def url(self, db: int = 0) -> str:
        """The broker URL, password included: hand it to processes through the environment only."""
        return f"redis://:{self.password}@{self.host}:{self.port}/{db}"

    def command(self, *words: str) -> bytes:
        """Send one command (after AUTH) and return Redis's raw reply to it."""
        return _redis_exchange(self.host, self.port, self.password, words)


def _encode(words: tuple[str, ...]) -> bytes:
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        raw = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(parts)


def _redis_exchange(host: str, port: int, password: str | None, words: tuple[str, ...]) -> bytes:
    with socket.create_connection((host, port), timeout=5) as s:
        if password is not None:
            s.sendall(_encode(("AUTH", password)))
            reply = s.recv(4096)
            if not reply.startswith(b"+OK"):
                return reply
        s.sendall(_encode(words))
        return s.recv(65536)


def start_redis(server_path: Path, attempts: int = 3) -> RedisServer:
    started = time.monotonic()
    directory = Path(tempfile.mkdtemp(prefix="kalshi-redis-"))
    password = secrets.token_urlsafe(24)
    try:
        for attempt in range(attempts):
            port = free_port()
            config = directory / "redis.conf"
            config.write_text(
                f"bind 127.0.0.1\nport {port}\ndir {directory}\nrequirepass {password}\n"
                'save ""\nappendonly no\ndaemonize no\nprotected-mode yes\nlogfile ""\n')
            config.chmod(0o600)
            log = directory / f"redis-{attempt}.log"
            with log.open("w") as out:
                process = subprocess.Popen([str(server_path), str(config)], stdout=out, stderr=subprocess.STDOUT,
                                           cwd=directory, preexec_fn=_die_with_parent(signal.SIGTERM))

            def pong(port: int = port) -> bool:
                try:
                    return _redis_exchange("127.0.0.1", port, password, ("PING",)).startswith(b"+PONG")
                except OSError:
                    return False

            try:
                _wait(pong, 30, "redis-server", process, log)
            except RuntimeError:
                _stop(process, signal.SIGTERM)
                if attempt == attempts - 1 or "Address already in use" not in log.read_text():
                    raise
                continue
            return RedisServer(host="127.0.0.1", port=port, password=password, directory=directory,
                               process=process, started_in_s=time.monotonic() - started)
        raise AssertionError("unreachable")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def stop_redis(server: RedisServer) -> None:
    try:
        _stop(server.process, signal.SIGTERM)
    finally:
        shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL 15 server for the whole session; tests make their own databases in it (`create_database`)."""
    bin_dir = postgres_bin_dir()
    require(bin_dir is not None, f"PostgreSQL {POSTGRES_MAJOR} ({POSTGRES_ROOT / POSTGRES_MAJOR / 'bin'})")
    server = start_postgres(bin_dir)
    try:
        yield server
    finally:
        stop_postgres(server)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    path = redis_server_path()
    require(path is not None, "redis-server")
    server = start_redis(path)
    try:
        yield server
    finally:
        stop_redis(server)


@dataclass(frozen=True)
class LakeDatabase:
    """A DuckLake for the warehouse tests: its catalog is a database of the session's PostgreSQL server."""

    dsn: str  # libpq keywords, no password
    data_path: str
    env: dict[str, str] = field(repr=False)  # PGPASSFILE and KALSHI_LAKE_DATA for a process that opens it

    @property
    def target(self) -> str:
        """What KALSHI_WAREHOUSE (or a `path` argument) says to open this lake."""
        return "ducklake:postgres:" + self.dsn


@pytest.fixture(scope="session")
def lake_database(postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> LakeDatabase:
    """One lake for the session (its schema is applied once, ~5 s); tests clear the rows they wrote."""
    dsn = postgres_server.create_database(f"lake_{os.getpid()}")
    data_path = str(tmp_path_factory.mktemp("lake_data"))
    return LakeDatabase(dsn=dsn, data_path=data_path,
                        env={**postgres_server.env, "KALSHI_LAKE_DATA": data_path})


@pytest.fixture()
def lake(lake_database: LakeDatabase, monkeypatch: pytest.MonkeyPatch) -> LakeDatabase:
    """The session's lake, with this process's environment set to open it (PGPASSFILE, KALSHI_LAKE_DATA)."""
    for name, value in lake_database.env.items():
        monkeypatch.setenv(name, value)
    return lake_database
