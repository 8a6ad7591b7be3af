"""The wire conventions of the demo API: Kalshi's error bodies, cursors, pages and query parameters."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

API_PREFIX = "/trade-api/v2"


class ApiError(Exception):
    """An error answer: status plus Kalshi's `{"error": {"code", "message", "service"}}` body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "service": "demo-exchange"}}


# --- pagination ----------------------------------------------------------------------------------


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded.encode()))["o"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(400, "invalid_parameters", "invalid cursor") from None
    if not isinstance(offset, int) or offset < 0:
        raise ApiError(400, "invalid_parameters", "invalid cursor")
    return offset


def page(items: list[dict], limit: int, cursor: str | None) -> tuple[list[dict], str]:
    """A slice of `items` and the cursor of the next slice ("" at the end)."""
    offset = decode_cursor(cursor) if cursor else 0
    chunk = items[offset : offset + limit]
    following = offset + limit
    return chunk, encode_cursor(following) if following < len(items) else ""


# --- query helpers -----------------------------------------------------------------------------


class Query:
    """Typed access to query parameters; bad values answer 400 like the API."""

    def __init__(self, raw: str) -> None:
        self._values = parse_qs(raw, keep_blank_values=True)

    def text(
        self, name: str, *, required: bool = False, choices: tuple[str, ...] | None = None
    ) -> str | None:
        values = self._values.get(name)
        if not values:
            if required:
                raise ApiError(400, "missing_parameters", f"missing required parameter {name!r}")
            return None
        value = values[-1]
        if choices is not None and value not in choices:
            raise ApiError(400, "invalid_parameters", f"{name} must be one of {', '.join(choices)}")
        return value

    def integer(
        self,
        name: str,
        *,
        required: bool = False,
        default: int | None = None,
        lo: int | None = None,
        hi: int | None = None,
    ) -> int | None:
        value = self.text(name, required=required)
        if value is None or value == "":
            if required:
                raise ApiError(400, "missing_parameters", f"missing required parameter {name!r}")
            return default
        try:
            number = int(value)
        except ValueError:
            raise ApiError(400, "invalid_parameters", f"{name} must be an integer, got {value!r}") from None
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise ApiError(400, "invalid_parameters", f"{name} must be within [{lo}, {hi}], got {number}")
        return number

    def integers(self, name: str) -> list[int]:
        out = []
        for raw in self._values.get(name, []):
            for part in raw.split(","):
                try:
                    out.append(int(part))
                except ValueError:
                    raise ApiError(
                        400, "invalid_parameters", f"{name} holds a non-integer {part!r}"
                    ) from None
        return out

    def boolean(self, name: str) -> bool:
        value = self.text(name)
        if value is None or value == "":
            return False
        if value.lower() not in ("true", "false"):
            raise ApiError(400, "invalid_parameters", f"{name} must be true or false")
        return value.lower() == "true"

    def cursor(self) -> str | None:
        values = self._values.get("cursor")
        if values is None:
            return None
        if values[-1] == "":
            # Kalshi is reported to reject an empty cursor: a client must omit it on the first page.
            raise ApiError(400, "invalid_parameters", "cursor must not be empty; omit it for the first page")
        return values[-1]


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def fixed(value: Decimal, places: str = "0.0001") -> str:
    return str(value.quantize(Decimal(places)))
