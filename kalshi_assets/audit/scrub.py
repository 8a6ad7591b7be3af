"""Scrub secrets from a payload and reduce it to JSON-native values before it is written.

Redacted: values under keys that name key material, passphrases, passwords, signatures, tokens,
cookies or Authorization-like headers (matched on the key with case and punctuation removed, so
`KALSHI-ACCESS-SIGNATURE`, `private_key_pem` and `Authorization` all match); strings that hold a
PEM private key or an `Authorization` header value (`Bearer ...`, `Basic ...`); the values of
such names in URL query strings; and raw bytes (they may be key material, and are not JSON).
Key identifiers (`api_key_id`, `key_id`, `KALSHI-ACCESS-KEY`) are kept: they say which key acted
and are not secret.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import math
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

REDACTED = "[REDACTED]"

_SENSITIVE_KEY_PARTS = (
    "authorization",
    "signature",
    "passphrase",
    "password",
    "passwd",
    "secret",
    "privatekey",
    "token",
    "cookie",
    "credential",
    "apikey",
    "hmackey",
    "signingkey",
)
_SENSITIVE_KEYS_EXACT = frozenset({"key", "pem", "sig", "privkey", "pkey", "auth", "pass", "pwd"})
_KEY_IDENTIFIERS = frozenset({"apikeyid", "keyid", "kalshiaccesskey", "accesskeyid"})

_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
_PEM_PRIVATE = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_AUTH_VALUE = re.compile(r"^\s*(bearer|basic|digest|token|hmac|negotiate)\s+\S+", re.IGNORECASE)
_HEADER_LINE = re.compile(
    r"^\s*(proxy-)?(authorization|cookie|set-cookie|x-api-key|kalshi-access-signature)\s*:", re.IGNORECASE
)
# A string with none of these cannot match any pattern above (each needs whitespace, ':' or '='),
# so one search clears most strings instead of four.
_MAY_HOLD_SECRET = re.compile(r"[\s:=]")
_QUERY_SECRET = re.compile(
    r"([?&;][^=&#\s]*?(?:signature|token|password|passphrase|secret|api[_-]?key)(?![_-]?id)[^=&#\s]*=)[^&#\s]*",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=4096)  # payload keys repeat from record to record
def is_sensitive_key(key: str) -> bool:
    """True if a mapping key names secret material (case and punctuation ignored)."""
    normalized = re.sub(r"[^a-z0-9]", "", key.lower())
    if normalized in _KEY_IDENTIFIERS:
        return False
    if normalized in _SENSITIVE_KEYS_EXACT:
        return True
    return any(part in normalized for part in _SENSITIVE_KEY_PARTS)


def scrub_text(text: str) -> str:
    """Redact a whole string holding key material or a credential, or secret query parameters in it."""
    if not _MAY_HOLD_SECRET.search(text):
        return text
    if _PEM_PRIVATE.search(text) or _AUTH_VALUE.match(text) or _HEADER_LINE.match(text):
        return REDACTED
    if "=" in text:
        return _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def scrub_payload(payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """A JSON-native copy of `payload` with secrets redacted; raises TypeError on unloggable values."""
    return scrub_payload_noting_floats(payload)[0]


def scrub_payload_noting_floats(payload: Mapping[str, Any] | None) -> tuple[dict[str, Any], bool]:
    """`scrub_payload`, and whether the copy holds a float (which only the standard encoder prints
    canonically; kalshi_assets.audit.encoding.canonical_payload_bytes)."""
    if payload is None:
        return {}, False
    if type(payload) is not dict and not isinstance(payload, Mapping):
        raise TypeError(f"payload must be a mapping, got {type(payload).__name__}")
    floats: list[bool] = []
    return _scrub_mapping(payload, "payload", floats), bool(floats)


# Verdicts of `is_sensitive_key` by key: a dict lookup costs half an lru_cache call, and payload
# keys repeat from record to record. Emptied when full, so a payload keyed by ids cannot grow it.
_KEY_VERDICTS: dict[str, bool] = {}
_MAX_KEY_VERDICTS = 4096


def _scrub_mapping(mapping: Mapping[Any, Any], path: str, floats: list[bool]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    may_hold_secret = _MAY_HOLD_SECRET.search
    verdicts = _KEY_VERDICTS
    for raw_key, value in mapping.items():
        if type(raw_key) is str:
            key = raw_key
        else:
            key = raw_key.value if isinstance(raw_key, enum.Enum) else raw_key
            if not isinstance(key, str | int | float | bool) or key is None:
                raise TypeError(f"{path}: key {raw_key!r} is not a string")
            key = str(key)
        sensitive = verdicts.get(key)
        if sensitive is None:
            if len(verdicts) >= _MAX_KEY_VERDICTS:
                verdicts.clear()
            sensitive = verdicts[key] = is_sensitive_key(key)
        if sensitive:
            out[key] = REDACTED
            continue
        # The common JSON-native types first, without building the path (used only in errors).
        kind = type(value)
        if kind is str:
            out[key] = value if may_hold_secret(value) is None else scrub_text(value)
        elif kind is int or kind is bool or value is None:
            out[key] = value
        elif kind is dict:
            out[key] = _scrub_mapping(value, f"{path}.{key}", floats)
        else:
            out[key] = _scrub_value(value, f"{path}.{key}", floats)
    return out


def _scrub_value(value: Any, path: str, floats: list[bool]) -> Any:
    if value is None or isinstance(value, bool | int):
        return int(value) if isinstance(value, enum.IntEnum) else value
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, float):
        # Non-finite floats are not JSON; keep them readable rather than refuse the event.
        if not math.isfinite(value):
            return repr(value)
        floats.append(True)
        return value
    if isinstance(value, Mapping):
        return _scrub_mapping(value, path, floats)
    if isinstance(value, list | tuple):
        if (
            len(value) == 2
            and isinstance(value[0], str)
            and _NAME.fullmatch(value[0])
            and is_sensitive_key(value[0])
            and not isinstance(value[1], Mapping | list | tuple)
        ):
            return [value[0], REDACTED]  # a (name, value) header pair
        return [_scrub_value(item, f"{path}[{i}]", floats) for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        items = [_scrub_value(item, f"{path}[]", floats) for item in value]
        return sorted(items, key=repr)
    if isinstance(value, bytes | bytearray | memoryview):
        return REDACTED
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        floats.append(True)
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return _scrub_value(value.value, path, floats)
    if isinstance(value, uuid.UUID | PurePath):
        return str(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and type(value).__module__ == "numpy":
        return _scrub_value(item(), path, floats)
    raise TypeError(f"{path}: cannot write a {type(value).__name__} to the audit log")
