"""Request signing: message format, PSS parameters, key loading rules and the OpenSSL backend."""

from __future__ import annotations

import base64
import logging
import os
import shutil
import threading
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from kalshi_assets.kalshi.errors import KalshiKeyError, KalshiSigningError
from kalshi_assets.kalshi.signing import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    CryptographySigner,
    OpenSSLSigner,
    auth_headers,
    load_private_key,
    make_signer,
    signing_message,
    verify_signature,
)

PASSPHRASE = "correct horse battery staple 7f3a9c"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def plain_pem(rsa_key: rsa.RSAPrivateKey) -> bytes:
    return rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def encrypted_pem(rsa_key: rsa.RSAPrivateKey) -> bytes:
    return rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    )


def _verify_strict(key: rsa.RSAPrivateKey, message: bytes, signature_b64: str, salt_length: int) -> None:
    key.public_key().verify(
        base64.b64decode(signature_b64),
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt_length),
        hashes.SHA256(),
    )


def test_message_is_timestamp_method_path_without_query() -> None:
    assert signing_message(1703123456789, "get", "/trade-api/v2/portfolio/orders?limit=5&cursor=x") == (
        b"1703123456789GET/trade-api/v2/portfolio/orders"
    )
    with pytest.raises(ValueError, match="absolute"):
        signing_message(1, "GET", "trade-api/v2/markets")


def test_signature_is_pss_sha256_with_digest_length_salt(rsa_key: rsa.RSAPrivateKey) -> None:
    signer = CryptographySigner(rsa_key)
    message = b"1703123456789GET/trade-api/v2/portfolio/balance"
    signature = signer.sign(message)
    _verify_strict(rsa_key, message, signature, salt_length=32)
    # A verifier expecting the maximal salt (222 bytes for RSA-2048, the common mistake) must reject
    # it: the salt is exactly the 32-byte digest length.
    with pytest.raises(InvalidSignature):
        _verify_strict(rsa_key, message, signature, salt_length=256 - 32 - 2)
    # PSS is randomized: two signatures differ and both verify.
    second = signer.sign(message)
    assert second != signature
    assert verify_signature(rsa_key.public_key(), message, second)
    assert not verify_signature(rsa_key.public_key(), message + b"x", second)
    assert not verify_signature(rsa_key.public_key(), message, "not base64!!")


def test_auth_headers_carry_key_millisecond_timestamp_and_signature(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = auth_headers("key-id-1", CryptographySigner(rsa_key), "GET", "/trade-api/v2/markets?limit=2")
    assert headers[HEADER_KEY] == "key-id-1"
    timestamp = headers[HEADER_TIMESTAMP]
    assert timestamp.isdigit() and len(timestamp) == 13  # milliseconds, not seconds
    message = f"{timestamp}GET/trade-api/v2/markets".encode()
    assert verify_signature(rsa_key.public_key(), message, headers[HEADER_SIGNATURE])


def test_key_file_readable_by_group_or_others_is_refused(tmp_path: Path, plain_pem: bytes) -> None:
    key_file = tmp_path / "kalshi.pem"
    key_file.write_bytes(plain_pem)
    for mode in (0o644, 0o640, 0o604, 0o660):
        key_file.chmod(mode)
        with pytest.raises(KalshiKeyError, match=r"group or others.*chmod 600"):
            make_signer(private_key_path=key_file)
    key_file.chmod(0o600)
    signer = make_signer(private_key_path=key_file)
    assert signer.sign(b"m")
    key_file.chmod(0o400)
    assert make_signer(private_key_path=str(key_file)).sign(b"m")


def test_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KalshiKeyError, match="does not exist"):
        make_signer(private_key_path=tmp_path / "absent.pem")


def test_encrypted_key_loads_only_with_its_passphrase(encrypted_pem: bytes, rsa_key: rsa.RSAPrivateKey) -> None:
    key = load_private_key(encrypted_pem, PASSPHRASE)
    assert key.private_numbers() == rsa_key.private_numbers()
    with pytest.raises(KalshiKeyError):
        load_private_key(encrypted_pem, None)
    with pytest.raises(KalshiKeyError, match="passphrase is wrong"):
        load_private_key(encrypted_pem, "wrong")
    with pytest.raises(KalshiKeyError):
        load_private_key(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")


def test_non_rsa_key_is_refused() -> None:
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KalshiKeyError, match="RSA"):
        load_private_key(ec_pem)


def test_exactly_one_key_source() -> None:
    with pytest.raises(KalshiKeyError, match="exactly one"):
        make_signer()
    with pytest.raises(KalshiKeyError, match="exactly one"):
        make_signer(private_key_path="x", private_key_pem=b"y")


def test_signer_repr_hides_the_key(rsa_key: rsa.RSAPrivateKey, plain_pem: bytes) -> None:
    assert "hidden" in repr(CryptographySigner(rsa_key))
    assert "BEGIN" not in repr(OpenSSLSigner(plain_pem))


# --- the OpenSSL backend -------------------------------------------------------------------------


def test_openssl_signer_produces_valid_kalshi_signatures(
    encrypted_pem: bytes, rsa_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="kalshi_assets.kalshi.signing"):
        signer = OpenSSLSigner(encrypted_pem, PASSPHRASE)
    assert any("openssl" in record.message for record in caplog.records), "using openssl must log a warning"
    message = b"1703123456789POST/trade-api/v2/portfolio/orders"
    _verify_strict(rsa_key, message, signer.sign(message), salt_length=32)


def _cmdlines() -> list[bytes]:
    lines = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as stream:
                    lines.append(stream.read())
            except OSError:
                continue  # the process ended while we looked
    return lines


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to watch command lines")
def test_openssl_passphrase_never_in_any_cmdline_and_no_key_file_ever_written(
    encrypted_pem: bytes,
    rsa_key: rsa.RSAPrivateKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    signer = OpenSSLSigner(encrypted_pem, PASSPHRASE)

    stop = threading.Event()
    seen_openssl = 0
    leaks: list[bytes] = []
    key_files_seen: set[str] = set()

    def watch() -> None:
        nonlocal seen_openssl
        while not stop.is_set():
            for line in _cmdlines():
                if b"openssl" in line and b"dgst" in line:
                    seen_openssl += 1
                if PASSPHRASE.encode() in line or b"PRIVATE KEY" in line:
                    leaks.append(line)
            key_files_seen.update(os.listdir(scratch))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        # At least 25 signatures, and more (up to 300) until the watcher has caught openssl running.
        for n in range(300):
            if n >= 25 and seen_openssl:
                break
            message = f"{n}GET/trade-api/v2/portfolio/balance".encode()
            _verify_strict(rsa_key, message, signer.sign(message), salt_length=32)
    finally:
        stop.set()
        watcher.join()
    assert seen_openssl > 0, "the watcher never caught an openssl process; the test proved nothing"
    assert leaks == []
    assert list(scratch.iterdir()) == [] and key_files_seen == set(), "the key must never be written to disk"


def test_openssl_failure_is_a_signing_error_and_leaves_no_file(
    encrypted_pem: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    signer = OpenSSLSigner(encrypted_pem, "not the passphrase")
    with pytest.raises(KalshiSigningError, match="openssl failed"):
        signer.sign(b"message")
    assert list(tmp_path.iterdir()) == []


def test_the_temp_file_key_transport_is_gone(encrypted_pem: bytes) -> None:
    """issue 14: a SIGKILL during signing left the plaintext key in /tmp with the temp-file transport.
    There is no such transport any more, and a key too large for a pipe is refused, not spilled to disk."""
    with pytest.raises(TypeError, match="key_transport"):
        OpenSSLSigner(encrypted_pem, PASSPHRASE, key_transport="tempfile")  # type: ignore[call-arg]
    huge = encrypted_pem.replace(b"-----END", b"X" * 70_000 + b"\n-----END")
    with pytest.raises(KalshiKeyError, match="too large"):
        OpenSSLSigner(huge, PASSPHRASE)


def test_the_openssl_child_inherits_no_project_secret(
    encrypted_pem: bytes, rsa_key: rsa.RSAPrivateKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 14: the openssl children inherited KALSHI_PRIVATE_KEY_PASSPHRASE. A wrapper named openssl
    records the environment it is given, then runs the real one."""
    real = shutil.which("openssl")
    assert real is not None
    seen = tmp_path / "child_environment"
    wrapper = tmp_path / "bin" / "openssl"
    wrapper.parent.mkdir()
    wrapper.write_text(f"#!/bin/sh\nenv > '{seen}'\nexec '{real}' \"$@\"\n")
    wrapper.chmod(0o700)
    secrets = {"KALSHI_PRIVATE_KEY_PASSPHRASE": PASSPHRASE, "KALSHI_PRIVATE_KEY_PEM": "pem-text",
               "KALSHI_API_KEY_ID": "key-id", "FRED_API_KEY": "fred-key", "KALSHI_AUDIT_HMAC_KEY": "hmac"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    signer = OpenSSLSigner(encrypted_pem, PASSPHRASE, openssl_binary=str(wrapper))
    _verify_strict(rsa_key, b"abc", signer.sign(b"abc"), salt_length=32)
    environment = seen.read_text()
    assert "PATH=" in environment, "the wrapper ran and recorded its environment"
    for name, value in secrets.items():
        assert name not in environment and value not in environment


def test_openssl_signer_refuses_encrypted_key_without_passphrase(encrypted_pem: bytes) -> None:
    with pytest.raises(KalshiKeyError, match="passphrase is required"):
        OpenSSLSigner(encrypted_pem, None)
    with pytest.raises(KalshiKeyError, match="line break"):
        OpenSSLSigner(encrypted_pem, "two\nlines")
    with pytest.raises(KalshiSigningError, match="not found"):
        OpenSSLSigner(encrypted_pem, PASSPHRASE, openssl_binary="definitely-not-openssl-xyz")


def test_make_signer_openssl_backend_from_file(tmp_path: Path, encrypted_pem: bytes, rsa_key) -> None:
    key_file = tmp_path / "k.pem"
    key_file.write_bytes(encrypted_pem)
    key_file.chmod(0o600)
    signer = make_signer(private_key_path=key_file, passphrase=PASSPHRASE, backend="openssl")
    assert isinstance(signer, OpenSSLSigner)
    _verify_strict(rsa_key, b"abc", signer.sign(b"abc"), salt_length=32)
    with pytest.raises(ValueError, match="unknown signer backend"):
        make_signer(private_key_path=key_file, passphrase=PASSPHRASE, backend="gpg")  # type: ignore[arg-type]
