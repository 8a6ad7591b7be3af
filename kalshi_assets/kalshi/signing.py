"""Kalshi API-key request signing.

Per Kalshi's API-key documentation (docs/ARCHITECTURE.md section 4.7): the message is `timestamp_ms + METHOD + path`, where the path starts at
`/trade-api/v2` and carries no query string; the signature is RSA-PSS with SHA-256, MGF1(SHA-256) and
a salt as long as the digest (32 bytes), base64 encoded.

Two backends produce signatures: in-process with `cryptography` (the normal path) and, for users who
must sign with the `openssl` binary, `OpenSSLSigner`, which hands the key and passphrase to the child
through pipes, so neither ever appears in a command line, an environment or a file (it needs `/dev/fd`:
Linux, macOS, BSD).
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path
from typing import Literal, Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kalshi_assets.kalshi.errors import KalshiKeyError, KalshiSigningError

logger = logging.getLogger(__name__)

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"

SignerBackend = Literal["cryptography", "openssl"]


def _pss_padding() -> padding.PSS:
    # DIGEST_LENGTH (32 bytes for SHA-256), not MAX_LENGTH: Kalshi verifies with the digest-length salt.
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def signing_message(timestamp_ms: int | str, method: str, path: str) -> bytes:
    """The bytes Kalshi expects to be signed: `timestamp + METHOD + path` without the query string."""
    path_only = path.split("?", 1)[0]
    if not path_only.startswith("/"):
        raise ValueError(f"the signed path must be absolute (start with '/'), got {path!r}")
    return f"{timestamp_ms}{method.upper()}{path_only}".encode()


def check_key_file_mode(path: Path) -> None:
    """Refuse a private key file that group or others may access (the OpenSSH rule)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KalshiKeyError(f"private key file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise KalshiKeyError(f"cannot stat private key file {str(path)!r}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise KalshiKeyError(f"private key path {str(path)!r} is not a regular file")
    if os.name == "posix" and mode & 0o077:
        raise KalshiKeyError(
            f"private key file {str(path)!r} has permissions {stat.S_IMODE(mode):04o}, which let group or "
            f"others read it; it is refused. Run: chmod 600 {str(path)!r}"
        )


def read_private_key_file(path: str | os.PathLike[str]) -> bytes:
    """The PEM bytes of a private key file, after checking its permissions."""
    key_path = Path(path).expanduser()
    check_key_file_mode(key_path)
    try:
        return key_path.read_bytes()
    except OSError as exc:
        raise KalshiKeyError(f"cannot read private key file {str(key_path)!r}: {exc.strerror}") from None


def _passphrase_bytes(passphrase: str | bytes | None) -> bytes | None:
    if passphrase is None or passphrase == "" or passphrase == b"":
        return None
    return passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)


def load_private_key(pem: bytes | str, passphrase: str | bytes | None = None) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM text; encrypted keys need their passphrase."""
    pem_bytes = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(pem_bytes, password=_passphrase_bytes(passphrase))
    except TypeError as exc:
        # cryptography raises TypeError both for "encrypted but no password" and the reverse.
        raise KalshiKeyError(f"private key passphrase mismatch: {exc}") from None
    except ValueError:
        raise KalshiKeyError(
            "private key could not be loaded: not a PEM private key, or the passphrase is wrong"
        ) from None
    except UnsupportedAlgorithm as exc:
        raise KalshiKeyError(f"private key uses an unsupported algorithm: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KalshiKeyError(f"Kalshi keys are RSA keys; got a {type(key).__name__}")
    return key


def load_public_key(pem: bytes | str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM text (the server side of signature checks)."""
    pem_bytes = pem.encode() if isinstance(pem, str) else pem
    key = serialization.load_pem_public_key(pem_bytes)
    if not isinstance(key, rsa.RSAPublicKey):
        raise KalshiKeyError(f"expected an RSA public key, got a {type(key).__name__}")
    return key


def verify_signature(public_key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    """True if `signature_b64` is a valid Kalshi signature of `message` under `public_key`."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (ValueError, TypeError):
        return False
    try:
        public_key.verify(signature, message, _pss_padding(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


class RequestSigner(Protocol):
    """Produces the base64 KALSHI-ACCESS-SIGNATURE of a message."""

    def sign(self, message: bytes) -> str: ...


class CryptographySigner:
    """Signs in process with `cryptography` (the default and fast path)."""

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self._private_key = private_key

    def sign(self, message: bytes) -> str:
        signature = self._private_key.sign(message, _pss_padding(), hashes.SHA256())
        return base64.b64encode(signature).decode("ascii")

    def __repr__(self) -> str:
        return "CryptographySigner(<RSA key hidden>)"


# A pipe holds at least this much on Linux before a writer blocks; keys are far smaller (an RSA-4096
# PEM is about 3.3 kB).
_PIPE_SAFE_BYTES = 60_000

# The only variables an openssl child sees: where to find its binary, libraries, configuration and
# locale. Everything else (KALSHI_PRIVATE_KEY_PASSPHRASE, FRED_API_KEY, ...) stays in this process.
_CHILD_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH",
                      "OPENSSL_CONF", "OPENSSL_MODULES", "OPENSSL_ENGINES", "SYSTEMROOT")


def child_environment() -> dict[str, str]:
    """The environment of an openssl child: an allowlist, so no project secret is inherited."""
    return {name: os.environ[name] for name in _CHILD_ENVIRONMENT if name in os.environ}


class OpenSSLSigner:
    """Signs by running `openssl dgst`, for users who must sign with the `openssl` binary.

    Secrets reach the child through inherited pipes only: the passphrase as `-passin fd:N`, the key
    as `/dev/fd/N`, the message on stdin; nothing is written to disk, nothing is on the command line,
    and the child's environment is an allowlist (`child_environment`) without the project's secrets.
    `start_new_session` detaches the child from any terminal so it can never prompt for a passphrase.
    """

    def __init__(
        self,
        private_key_pem: bytes | str,
        passphrase: str | bytes | None = None,
        *,
        openssl_binary: str = "openssl",
        timeout_s: float = 15.0,
    ) -> None:
        resolved = shutil.which(openssl_binary)
        if resolved is None:
            raise KalshiSigningError(f"the openssl binary {openssl_binary!r} was not found on PATH")
        self._openssl = resolved
        self._pem = private_key_pem.encode() if isinstance(private_key_pem, str) else bytes(private_key_pem)
        if b"PRIVATE KEY-----" not in self._pem:
            raise KalshiKeyError("the OpenSSL signer needs a PEM private key")
        self._passphrase = _passphrase_bytes(passphrase)
        if self._passphrase is not None and (b"\n" in self._passphrase or b"\r" in self._passphrase):
            raise KalshiKeyError("a passphrase containing a line break cannot be passed to openssl")
        if b"ENCRYPTED" in self._pem and self._passphrase is None:
            raise KalshiKeyError("the private key is encrypted; a passphrase is required")
        if not _dev_fd_available():
            raise KalshiSigningError(
                "the openssl signer passes the key through /dev/fd (Linux, macOS, BSD), which this system "
                "lacks; use the cryptography backend"
            )
        if len(self._pem) >= _PIPE_SAFE_BYTES:
            raise KalshiKeyError(f"a {len(self._pem)}-byte key file is too large to pass to openssl through a pipe")
        self._timeout_s = timeout_s
        logger.warning(
            "Kalshi requests are signed with the openssl binary (%s): one process per request, "
            "much slower than the in-process cryptography backend; use it only where required.",
            self._openssl,
        )

    def sign(self, message: bytes) -> str:
        passphrase_fd = _pipe_holding((self._passphrase or b"") + b"\n")
        key_fd: int | None = None
        try:
            key_fd = _pipe_holding(self._pem)
            command = [
                self._openssl, "dgst", "-sha256",
                "-sign", f"/dev/fd/{key_fd}", "-keyform", "PEM",
                "-passin", f"fd:{passphrase_fd}",
                "-sigopt", "rsa_padding_mode:pss",
                "-sigopt", "rsa_pss_saltlen:digest",
                "-sigopt", "rsa_mgf1_md:sha256",
            ]  # fmt: skip
            try:
                completed = subprocess.run(  # noqa: S603 - fixed argv, no shell, no secrets in it
                    command,
                    input=message,
                    capture_output=True,
                    pass_fds=(passphrase_fd, key_fd),
                    env=child_environment(),
                    timeout=self._timeout_s,
                    start_new_session=True,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise KalshiSigningError(f"openssl did not sign within {self._timeout_s}s") from None
        finally:
            os.close(passphrase_fd)
            if key_fd is not None:
                os.close(key_fd)
        if completed.returncode != 0 or not completed.stdout:
            # openssl's stderr names the failing step (bad decrypt, unsupported key); it holds no secret.
            reason = completed.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
            raise KalshiSigningError(
                f"openssl failed to sign (exit {completed.returncode}): {reason[0] if reason else 'no output'}"
            )
        return base64.b64encode(completed.stdout).decode("ascii")

    def __repr__(self) -> str:
        return f"OpenSSLSigner({self._openssl!r}, <key hidden>)"


def _dev_fd_available() -> bool:
    return os.name == "posix" and os.path.isdir("/dev/fd")


def _pipe_holding(data: bytes) -> int:
    """The read end of a pipe that already holds `data` and whose write end is closed."""
    read_fd, write_fd = os.pipe()
    try:
        view = memoryview(data)
        while view:
            written = os.write(write_fd, view)
            view = view[written:]
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return read_fd


def make_signer(
    *,
    private_key_path: str | os.PathLike[str] | None = None,
    private_key_pem: bytes | str | None = None,
    passphrase: str | bytes | None = None,
    backend: SignerBackend = "cryptography",
) -> RequestSigner:
    """A signer from a key file or PEM text (exactly one of the two)."""
    if (private_key_path is None) == (private_key_pem is None):
        raise KalshiKeyError("give exactly one of private_key_path and private_key_pem")
    pem = read_private_key_file(private_key_path) if private_key_path is not None else private_key_pem
    assert pem is not None
    if backend == "cryptography":
        return CryptographySigner(load_private_key(pem, passphrase))
    if backend == "openssl":
        return OpenSSLSigner(pem, passphrase)
    raise ValueError(f"unknown signer backend {backend!r}; use 'cryptography' or 'openssl'")


def now_ms() -> int:
    """Wall-clock Unix time in milliseconds (Kalshi rejects stale timestamps, so never monotonic)."""
    return time.time_ns() // 1_000_000


def auth_headers(
    api_key_id: str, signer: RequestSigner, method: str, signed_path: str, timestamp_ms: int | None = None
) -> dict[str, str]:
    """The three KALSHI-ACCESS-* headers for one request."""
    if timestamp_ms is None:
        timestamp_ms = now_ms()
    signature = signer.sign(signing_message(timestamp_ms, method, signed_path))
    return {HEADER_KEY: api_key_id, HEADER_TIMESTAMP: str(timestamp_ms), HEADER_SIGNATURE: signature}
