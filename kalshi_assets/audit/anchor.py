"""Anchors outside the log's directory, so that a writer of the directory cannot forge the log.

Two anchors, used alone or together (docs/AUDIT.md says what each protects against):

- **A signature.** The writer signs every checkpoint with an Ed25519 private key that lives outside
  the directory (`KALSHI_AUDIT_SIGNING_KEY`: the path of a PEM file). A verifier is given the
  public key explicitly (`--public-key`, `KALSHI_AUDIT_PUBLIC_KEY`), never one found in the
  directory, so a planted key cannot re-sign a rewritten log. Like an RFC 6962 signed tree head.
- **Published checkpoints.** The writer also appends its signed checkpoints, as JSON lines, to a
  place outside the directory (`KALSHI_AUDIT_ANCHOR`: a file path, or `stdout` for a SIEM), at
  most one per `anchor_interval` seconds plus one at every flush and close. A verifier given that
  file checks every published checkpoint against the log, so a log cut back to an older signed
  checkpoint (a rollback) is caught. Like AWS CloudTrail's digest files.

A published line is the checkpoint's signed body plus `sig` (when a signing key is configured) and
an unsigned `log` field naming the directory for people reading the stream.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kalshi_assets.audit.encoding import canonical_json

SIGNING_KEY_ENV = "KALSHI_AUDIT_SIGNING_KEY"
SIGNING_KEY_PASSPHRASE_ENV = "KALSHI_AUDIT_SIGNING_KEY_PASSPHRASE"
PUBLIC_KEY_ENV = "KALSHI_AUDIT_PUBLIC_KEY"
ANCHOR_ENV = "KALSHI_AUDIT_ANCHOR"
STDOUT_ANCHOR = "stdout"
DEFAULT_ANCHOR_INTERVAL_SECONDS = 1.0

_UNSIGNED_FIELDS = ("mac", "sig", "log")  # fields a signature does not cover


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable name of a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _outside(path: Path, directory: Path | None, what: str) -> Path:
    """`path`, refusing one inside the log's directory: whoever can write there could replace it."""
    if directory is not None:
        resolved, root = path.resolve(), directory.resolve()
        if resolved == root or root in resolved.parents:
            raise ValueError(f"the audit {what} {path} is inside the log directory {directory}; keep it elsewhere")
    return path


def load_signing_key(
    path: str | os.PathLike[str], *, audit_directory: Path | None = None, passphrase: str | None = None
) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file at `path` (which must lie outside the log's directory)."""
    key_path = _outside(Path(path), audit_directory, "signing key")
    try:
        data = key_path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the audit signing key {key_path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(data, password=passphrase.encode() if passphrase else None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{key_path} is not a readable PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{key_path} holds a {type(key).__name__}; the audit log signs with Ed25519 keys")
    return key


def load_public_keys(
    paths: Iterable[str | os.PathLike[str]], *, audit_directory: Path | None = None
) -> dict[str, Ed25519PublicKey]:
    """Ed25519 public keys from PEM files outside the log's directory, by key id."""
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        key_path = _outside(Path(path), audit_directory, "public key")
        try:
            key = serialization.load_pem_public_key(key_path.read_bytes())
        except OSError as exc:
            raise ValueError(f"cannot read the audit public key {key_path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ValueError(f"{key_path} is not a readable PEM public key ({exc})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"{key_path} holds a {type(key).__name__}; the audit log uses Ed25519 keys")
        keys[key_id(key)] = key
    return keys


def public_key_paths_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """`KALSHI_AUDIT_PUBLIC_KEY`: one path, or several separated by the OS path separator (rotation)."""
    env = os.environ if environ is None else environ
    return [p for p in env.get(PUBLIC_KEY_ENV, "").split(os.pathsep) if p]


class Signer:
    """Signs checkpoint bodies with one Ed25519 private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    def sign(self, body: str) -> str:
        return self._private_key.sign(body.encode("utf-8")).hex()

    def __repr__(self) -> str:  # never the key itself
        return f"Signer(key_id={self.key_id!r})"


def signed_body(fields: Mapping[str, Any]) -> str:
    """The canonical text a signature covers: every field but `mac`, `sig` and `log`."""
    return canonical_json({k: v for k, v in fields.items() if k not in _UNSIGNED_FIELDS})


def signature_problem(fields: Mapping[str, Any], public_keys: Mapping[str, Ed25519PublicKey]) -> str | None:
    """None if `fields` carry a signature by one of `public_keys`, else why not."""
    sig, kid = fields.get("sig"), fields.get("kid")
    if not isinstance(sig, str) or not isinstance(kid, str):
        return "it carries no Ed25519 signature"
    key = public_keys.get(kid)
    if key is None:
        return f"it is signed by key {kid}, not by a given public key ({', '.join(sorted(public_keys))})"
    try:
        key.verify(bytes.fromhex(sig), signed_body(fields).encode("utf-8"))
    except (InvalidSignature, ValueError):
        return f"its signature by key {kid} does not verify"
    return None


class AnchorPublisher:
    """Appends published checkpoints to a file outside the log's directory, or writes them to stdout.

    `publish` writes at most once per `interval` seconds unless forced; a line is one `write` to a
    file opened O_APPEND, so lines of concurrent writers never interleave. Only checkpoints whose
    records are already durable are ever published, so a published line never runs ahead of the log.
    """

    def __init__(self, target: str | os.PathLike[str], directory: Path, interval: float) -> None:
        self.target = str(target)
        self.interval = float(interval)
        self._directory = str(directory)
        self._lock = threading.Lock()
        self._last_publish = float("-inf")
        self._pending: tuple[str, int] | None = None  # the newest checkpoint not yet published, its seq
        self._published_seq = -1
        if self.target == STDOUT_ANCHOR:
            self._fd = -1
        else:
            path = _outside(Path(self.target), directory, "anchor file")
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def publish(self, fields: Mapping[str, Any], *, force: bool = False) -> None:
        line = canonical_json({**fields, "log": self._directory}) + "\n"
        seq = int(fields["seq"])
        with self._lock:
            if seq <= self._published_seq:
                return
            now = time.monotonic()
            if not force and now - self._last_publish < self.interval:
                self._pending = (line, seq)
                return
            self._write(line)
            self._last_publish, self._published_seq, self._pending = now, seq, None

    def publish_pending(self) -> None:
        """Publish the newest checkpoint held back by the interval (at flush, close and exit)."""
        with self._lock:
            if self._pending is not None:
                line, seq = self._pending
                if seq > self._published_seq:
                    self._write(line)
                    self._last_publish, self._published_seq = time.monotonic(), seq
                self._pending = None
            if self._fd >= 0:
                os.fsync(self._fd)

    def _write(self, line: str) -> None:
        data = line.encode("utf-8")
        if self._fd >= 0:
            os.write(self._fd, data)
        else:
            sys.stdout.flush()
            os.write(sys.stdout.fileno(), data)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


@dataclass(frozen=True)
class AnchorEntry:
    """One published checkpoint."""

    seq: int
    hash: str
    first_hash: str
    fields: dict[str, Any]
    line: int


def read_anchor_entries(path: Path, *, tail_bytes: int | None = None) -> tuple[list[AnchorEntry], list[int]]:
    """Published checkpoints in `path` (all, or those in its last `tail_bytes`), and unreadable line numbers."""
    entries: list[AnchorEntry] = []
    bad: list[int] = []
    for number, raw in _anchor_lines(path, tail_bytes):
        try:
            fields = json.loads(raw)
            entry = AnchorEntry(int(fields["seq"]), str(fields["hash"]), str(fields["first_hash"]), fields, number)
        except (ValueError, KeyError, TypeError):
            bad.append(number)
            continue
        entries.append(entry)
    return entries, bad


def _anchor_lines(path: Path, tail_bytes: int | None) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as handle:
        if tail_bytes is not None:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - tail_bytes))
            if size > tail_bytes:
                handle.readline()  # skip the partial first line
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, raw


def latest_entry(entries: Sequence[AnchorEntry]) -> AnchorEntry | None:
    return max(entries, key=lambda e: e.seq, default=None)
