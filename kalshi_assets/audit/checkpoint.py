"""The HMAC-signed checkpoint: the last durable (seq, hash), plus the first record's hash as an anchor.

The hash chain alone proves that records were not edited *in place*; it cannot tell that the
tail was cut off, or that the whole log was rewritten and re-chained. The checkpoint can: it is
signed with a key the log's writer holds, so a verifier finds a tail shorter than the checkpoint
("truncated"), or a record whose hash differs from the signed one ("checkpoint_mismatch").

The key is `KALSHI_AUDIT_HMAC_KEY` when set (at least 16 characters), else a random key in
`<dir>/checkpoint.key` created 0600. A key stored apart from the log (a secrets manager, another
user's file) is stronger: whoever can rewrite the directory can also read a key file inside it.

File layout: two fixed 512-byte slots, written alternately with `pwrite`, so a torn slot write
leaves the other slot intact. The slot with the highest generation that verifies wins. Writers
serialize on an `flock` of the checkpoint file and never move it backwards.

A commit writes the checkpoint after the records it names are synced, without syncing the
checkpoint itself (`flush` and `close` do): after a power cut it may lag the log, which is normal,
but it never names a record that is not durable. With a signing key (kalshi_assets.audit.anchor)
each slot also carries `kid` and an Ed25519 `sig` over every field but `mac` and `sig`; the HMAC
`mac` covers every other field, `sig` included.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kalshi_assets.audit.anchor import Signer, signature_problem
from kalshi_assets.audit.encoding import canonical_json, encode_sorted_keys, utc_timestamp
from kalshi_assets.audit.errors import AuditLogDamagedError

KEY_ENV = "KALSHI_AUDIT_HMAC_KEY"
KEY_FILE_NAME = "checkpoint.key"
CHECKPOINT_FILE_NAME = "checkpoint"
MIN_ENV_KEY_LENGTH = 16

_SLOT_SIZE = 512
_SLOTS = 2
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    first_seq: int
    first_hash: str
    generation: int
    ts: str
    fields: dict[str, Any] = field(default_factory=dict, compare=False)  # as stored, without `mac`


CheckpointState = Literal["missing", "valid", "invalid"]


@dataclass(frozen=True)
class CheckpointRead:
    state: CheckpointState
    checkpoint: Checkpoint | None
    slot: int | None = None
    bad_slots: tuple[int, ...] = ()  # written but not verifying: a torn slot write, or tampering


def load_key(directory: Path, *, create: bool, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The HMAC key: from the environment, else the key file (created 0600 when `create`)."""
    return find_key(directory, create=create, environ=environ)[0]


def find_key(
    directory: Path, *, create: bool = False, environ: Mapping[str, str] | None = None
) -> tuple[bytes | None, Literal["env", "file", "none"]]:
    """The HMAC key and where it came from: `KALSHI_AUDIT_HMAC_KEY`, the key file in the directory, or none."""
    env = os.environ if environ is None else environ
    from_env = env.get(KEY_ENV)
    if from_env:
        if len(from_env) < MIN_ENV_KEY_LENGTH:
            raise ValueError(f"{KEY_ENV} must be at least {MIN_ENV_KEY_LENGTH} characters long")
        return from_env.encode("utf-8"), "env"
    return _key_file(directory, create=create), ("file" if (directory / KEY_FILE_NAME).exists() else "none")


def _key_file(directory: Path, *, create: bool) -> bytes | None:
    key_path = directory / KEY_FILE_NAME
    try:
        return _read_key_file(key_path)
    except FileNotFoundError:
        if not create:
            return None
    # Write a temporary file and hard-link it into place: the key appears whole or not at all,
    # and of two processes racing to create it exactly one wins (the other reads the winner's).
    tmp = directory / f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode("ascii") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, key_path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    _fsync_dir(directory)
    return _read_key_file(key_path)


def _read_key_file(path: Path) -> bytes:
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise AuditLogDamagedError(f"{path} does not hold a hex key") from None
    if len(key) < 16:
        raise AuditLogDamagedError(f"{path} holds a key shorter than 16 bytes")
    return key


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mac(key: bytes, fields: Mapping[str, object]) -> str:
    return hmac.digest(key, canonical_json(fields).encode("utf-8"), "sha256").hex()


def _canonical_fields(fields: Mapping[str, object]) -> bytes:
    """`canonical_json(fields)` as bytes, by msgspec: the same text, since a checkpoint's fields are
    integers and ASCII strings only (msgspec may differ from the standard encoder on floats)."""
    return encode_sorted_keys(fields)


def _decode_slot(
    raw: bytes, key: bytes | None, public_keys: Mapping[str, Ed25519PublicKey] | None = None
) -> Checkpoint | None:
    """The checkpoint in one slot, or None if the slot is blank or does not verify.

    With `public_keys` the slot must carry an Ed25519 signature by one of them (its HMAC is not
    checked: the HMAC key may be one planted in the directory); otherwise its HMAC must verify.
    """
    text = raw.rstrip(b" \n\x00")
    if not text:
        return None
    try:
        fields = json.loads(text)
        mac = fields.pop("mac")
        if fields.get("v") != _FORMAT_VERSION:
            return None
        if public_keys is not None:
            if signature_problem(fields, public_keys) is not None:
                return None
        elif key is None or not hmac.compare_digest(mac, _mac(key, fields)):
            return None
        return _checkpoint(fields)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _checkpoint(fields: dict[str, Any]) -> Checkpoint:
    return Checkpoint(
        seq=int(fields["seq"]),
        hash=str(fields["hash"]),
        first_seq=int(fields["first_seq"]),
        first_hash=str(fields["first_hash"]),
        generation=int(fields["gen"]),
        ts=str(fields["ts"]),
        fields=fields,
    )


def read_checkpoint_bytes(
    raw: bytes, key: bytes | None, public_keys: Mapping[str, Ed25519PublicKey] | None = None
) -> CheckpointRead:
    """Interpret the checkpoint file's bytes (no key nor public key: present but unchecked -> invalid)."""
    if not raw.strip(b" \n\x00"):
        return CheckpointRead("missing", None)
    if key is None and public_keys is None:
        return CheckpointRead("invalid", None)
    best: Checkpoint | None = None
    best_slot: int | None = None
    bad: list[int] = []
    for slot in range(_SLOTS):
        raw_slot = raw[slot * _SLOT_SIZE : (slot + 1) * _SLOT_SIZE]
        found = _decode_slot(raw_slot, key, public_keys)
        if found is None and raw_slot.strip(b" \n\x00"):
            bad.append(slot)
        if found is not None and (best is None or found.generation > best.generation):
            best, best_slot = found, slot
    if best is None:
        return CheckpointRead("invalid", None, None, tuple(bad))
    return CheckpointRead("valid", best, best_slot, tuple(bad))


def read_checkpoint(directory: Path, key: bytes | None) -> CheckpointRead:
    try:
        raw = (directory / CHECKPOINT_FILE_NAME).read_bytes()
    except FileNotFoundError:
        return CheckpointRead("missing", None)
    return read_checkpoint_bytes(raw, key)


class CheckpointWriter:
    """Advances the checkpoint of one directory; safe across threads and processes."""

    def __init__(self, directory: Path, key: bytes, signer: Signer | None = None) -> None:
        self._directory = directory
        self._key = key
        self._keyed_mac = hmac.new(key, digestmod=hashlib.sha256)  # keyed once, copied per slot
        self._signer = signer
        self._lock = threading.Lock()
        self._cached_raw: bytes | None = None
        self._cached: CheckpointRead | None = CheckpointRead("missing", None)  # None: `_written`, not yet decoded
        self._written: tuple[dict[str, Any], int] | None = None  # (fields, slot) this writer wrote last
        path = directory / CHECKPOINT_FILE_NAME
        existed = path.exists()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
        if not existed:
            _fsync_dir(directory)

    def read(self) -> CheckpointRead:
        return self._decode(os.pread(self._fd, _SLOT_SIZE * _SLOTS, 0))

    def _decode(self, raw: bytes) -> CheckpointRead:
        if raw != self._cached_raw:  # checking signatures costs more than comparing 1 KiB
            self._cached = read_checkpoint_bytes(raw, self._key)
            self._cached_raw = raw
            self._written = None
        elif self._cached is None:
            assert self._written is not None
            fields, slot = self._written
            self._cached = CheckpointRead("valid", _checkpoint(fields), slot)
        return self._cached

    def _latest(self) -> tuple[int, int, str | None, int | None]:
        """(seq, generation, first record's hash or None, slot) of the checkpoint on disk (seq -1: none).

        When the file holds exactly what this writer wrote last, nothing is decoded or checked again."""
        raw = os.pread(self._fd, _SLOT_SIZE * _SLOTS, 0)
        if raw == self._cached_raw and self._written is not None:
            fields, slot = self._written
            return fields["seq"], fields["gen"], fields["first_hash"], slot
        current = self._decode(raw)
        if current.state == "invalid":
            raise AuditLogDamagedError(
                f"the audit checkpoint does not verify (tampered, or a different {KEY_ENV}); refusing to overwrite it"
            )
        existing = current.checkpoint
        if existing is None:
            return -1, 0, None, current.slot
        return existing.seq, existing.generation, existing.first_hash, current.slot

    def advance(
        self, seq: int, record_hash: str, first_hash: Callable[[], str], *, sync: bool
    ) -> dict[str, Any] | None:
        """Record (seq, hash) as durable unless the checkpoint already names a later record.

        Returns the fields written (without `mac`: what an anchor publishes), or None if the
        checkpoint already named seq or later. `first_hash` is called only until a checkpoint names
        a record, to anchor the chain's start. Raises AuditLogDamagedError if the existing
        checkpoint does not verify: overwriting it would erase the evidence of whatever changed it.
        """
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                last_seq, generation, anchor, slot = self._latest()
                if last_seq >= seq:
                    if sync:
                        os.fdatasync(self._fd)
                    return None
                # The anchor is taken once, by the first checkpoint that names a real record.
                fields = self._fields(generation + 1, seq, record_hash, anchor if last_seq > 0 else first_hash())
                self._write_slot(slot, fields)
                if sync:
                    os.fdatasync(self._fd)
                return fields
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def resign(self) -> None:
        """Sign the current checkpoint again into both slots (after adopting a log or rotating keys),
        so no slot is left signed by the old key or not at all."""
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                current = self.read()
                existing = current.checkpoint
                if existing is None:
                    return
                slot, generation = current.slot, existing.generation
                for _ in range(_SLOTS):
                    generation += 1
                    fields = self._fields(generation, existing.seq, existing.hash, existing.first_hash)
                    slot = self._write_slot(slot, fields)
                os.fdatasync(self._fd)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _write_slot(self, current_slot: int | None, fields: dict[str, Any]) -> int:
        """Write `fields` into the slot other than `current_slot`; returns the slot written."""
        slot = 0 if current_slot is None else 1 - current_slot
        slot_bytes = self._encode_slot(fields)
        os.pwrite(self._fd, slot_bytes, slot * _SLOT_SIZE)
        raw = (self._cached_raw or b"").ljust(_SLOT_SIZE * _SLOTS, b"\x00")
        offset = slot * _SLOT_SIZE
        self._cached_raw = raw[:offset] + slot_bytes + raw[offset + _SLOT_SIZE :]
        self._cached, self._written = None, (fields, slot)  # decoded only if `read` is asked for it
        return slot

    def _fields(self, generation: int, seq: int, record_hash: str, first_hash: str) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "v": _FORMAT_VERSION,
            "gen": generation,
            "seq": seq,
            "hash": record_hash,
            "first_seq": 1,
            "first_hash": first_hash,
            "ts": utc_timestamp(),
        }
        if self._signer is not None:
            fields["kid"] = self._signer.key_id
            fields["sig"] = self._signer.sign(_canonical_fields(fields).decode("ascii"))
        return fields

    def _encode_slot(self, fields: dict[str, Any]) -> bytes:
        # `fields` is already canonical JSON once `mac` is set aside; readers do not care where `mac` sits.
        body = _canonical_fields(fields)
        keyed = self._keyed_mac.copy()
        keyed.update(body)
        mac = keyed.hexdigest().encode("ascii")
        encoded = b'%b,"mac":"%b"}' % (body[:-1], mac)
        if len(encoded) >= _SLOT_SIZE:
            raise ValueError("checkpoint slot overflow")
        return encoded.ljust(_SLOT_SIZE - 1, b" ") + b"\n"

    def sync(self) -> None:
        os.fdatasync(self._fd)

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
