"""Secrets never reach the audit log's files."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from kalshi_assets.audit import REDACTED, AuditLog, scrub_payload
from kalshi_assets.audit.scrub import is_sensitive_key, scrub_text

PEM = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n"


class Side(enum.Enum):
    YES = "yes"


def test_key_material_passphrases_signatures_and_auth_headers_are_redacted() -> None:
    payload = {
        "headers": {
            "KALSHI-ACCESS-KEY": "3f1c9f0e-key-id",
            "KALSHI-ACCESS-SIGNATURE": "c2lnbmF0dXJlLXNlY3JldA==",
            "KALSHI-ACCESS-TIMESTAMP": "1763700000000",
            "Authorization": "Bearer abc.def.ghi",
            "Proxy-Authorization": "Basic dXNlcjpwYXNz",
            "Cookie": "session=s3cret",
            "Content-Type": "application/json",
        },
        "header_pairs": [["Authorization", "Bearer zzz"], ["Accept", "json"]],
        "raw_header_lines": ["Authorization: Bearer qqq", "Accept: */*"],
        "config": {"private_key_pem": PEM, "passphrase": "hunter2", "api_key_id": "key-id-7", "password": "pw"},
        "note": PEM,
        "bearer": "Bearer standalone-token-value",
        "url": "https://h/x?ticker=T&token=abc123&signature=zz&api_key_id=keep",
        "blob": b"\x00\x01 raw key bytes",
        "nested": [{"client_secret": "cs"}, {"hmac_key": "hk"}],
    }
    clean = scrub_payload(payload)
    headers = clean["headers"]
    assert headers["KALSHI-ACCESS-KEY"] == "3f1c9f0e-key-id"  # a key id says who acted; not secret
    assert headers["KALSHI-ACCESS-TIMESTAMP"] == "1763700000000"
    assert headers["Content-Type"] == "application/json"
    for name in ("KALSHI-ACCESS-SIGNATURE", "Authorization", "Proxy-Authorization", "Cookie"):
        assert headers[name] == REDACTED
    assert clean["header_pairs"] == [["Authorization", REDACTED], ["Accept", "json"]]
    assert clean["raw_header_lines"] == [REDACTED, "Accept: */*"]
    assert clean["config"] == {
        "private_key_pem": REDACTED, "passphrase": REDACTED, "api_key_id": "key-id-7", "password": REDACTED
    }
    assert clean["note"] == REDACTED and clean["bearer"] == REDACTED and clean["blob"] == REDACTED
    assert clean["url"] == f"https://h/x?ticker=T&token={REDACTED}&signature={REDACTED}&api_key_id=keep"
    assert clean["nested"] == [{"client_secret": REDACTED}, {"hmac_key": REDACTED}]
    assert payload["headers"]["Authorization"] == "Bearer abc.def.ghi"  # the caller's dict is untouched


def test_secrets_are_not_in_the_files(tmp_path: Path) -> None:
    secrets = ["hunter2", "c2lnbmF0dXJlLXNlY3JldA==", "abc.def.ghi", "MIIFHDBOBgkqhkiG9w0BBQ0wQTAp"]
    with AuditLog(tmp_path / "audit", max_segment_bytes=2048) as log:
        for _ in range(20):
            log.log_api_call(
                "u",
                method="POST",
                path="/portfolio/orders",
                headers={"KALSHI-ACCESS-SIGNATURE": secrets[1], "Authorization": f"Bearer {secrets[2]}"},
                params={"passphrase": secrets[0]},
                details={"key": PEM},
            )
    files = [p for p in (tmp_path / "audit").rglob("*") if p.is_file() and p.name != "checkpoint.key"]
    import gzip

    for path in files:
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        for secret in secrets:
            assert secret.encode() not in data, (secret, path.name)


def test_values_are_reduced_to_json() -> None:
    clean = scrub_payload(
        {
            "when": dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            "day": dt.date(2026, 11, 1),
            "price": Decimal("0.4200"),
            "side": Side.YES,
            "qty": np.int64(3),
            "p": np.float64(0.25),
            "nan": float("nan"),
            "tags": ("a", "b"),
            1: "int key",
        }
    )
    assert clean == {
        "when": "2026-11-21T11:00:00Z",
        "day": "2026-11-01",
        "price": "0.4200",
        "side": "yes",
        "qty": 3,
        "p": 0.25,
        "nan": "nan",
        "tags": ["a", "b"],
        "1": "int key",
    }
    with pytest.raises(TypeError, match=r"payload\.x"):
        scrub_payload({"x": object()})


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("Authorization", True), ("x-api-key", True), ("apiKey", True), ("PRIVATE_KEY", True),
        ("refresh_token", True), ("passphrase", True), ("sig", True), ("api_key_id", False),
        ("key_id", False), ("ticker", False), ("KALSHI-ACCESS-KEY", False),
    ],
)
def test_sensitive_key_names(key: str, sensitive: bool) -> None:
    assert is_sensitive_key(key) is sensitive


def test_plain_text_is_kept() -> None:
    assert scrub_text("a=1&b=2") == "a=1&b=2"
    assert scrub_text("ORDER filled at 42c") == "ORDER filled at 42c"
