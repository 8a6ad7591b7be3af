"""Typed errors of the Kalshi client.

Every error that comes from an HTTP answer carries the status and Kalshi's error code, so callers
branch on types (or `.status`/`.code`) instead of parsing messages.
"""

from __future__ import annotations

from typing import Any


class KalshiError(Exception):
    """Base class of every error raised by the Kalshi client."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        method: str | None = None,
        path: str | None = None,
        details: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.method = method
        self.path = path
        self.details = details

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        status = f"HTTP {self.status}" if self.status is not None else "no HTTP status"
        code = f", code {self.code!r}" if self.code else ""
        return f"{where}{self.message} ({status}{code})"


class KalshiKeyError(KalshiError):
    """A private key cannot be used: missing, unreadable, wrong passphrase or unsafe file mode."""


class KalshiSigningError(KalshiError):
    """Producing a request signature failed (for example the `openssl` backend exited non-zero)."""


class KalshiBadRequest(KalshiError):
    """400: the request is malformed. Not retried, not a circuit-breaker failure."""


class KalshiAuthError(KalshiError):
    """401/403: missing, bad or stale signature, or a key without permission."""


class KalshiNotFound(KalshiError):
    """404: the series, event, market or order does not exist."""


class KalshiConflict(KalshiError):
    """409: the resource exists already or cannot be changed."""


class KalshiDuplicateOrder(KalshiConflict):
    """409 on order creation: an order with this `client_order_id` already exists.

    `after_lost_answer` is true when the 409 answered a retry that followed an attempt whose answer
    was lost (5xx, dropped connection): the earlier attempt most likely placed the order.
    """

    def __init__(
        self,
        message: str,
        *,
        client_order_id: str | None = None,
        after_lost_answer: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.client_order_id = client_order_id
        self.after_lost_answer = after_lost_answer


class KalshiRateLimited(KalshiError):
    """429: a rate-limit bucket is empty. `retry_after` holds the server's hint in seconds, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class KalshiServerError(KalshiError):
    """5xx: the exchange failed; retried for reads."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class KalshiClientHTTPError(KalshiError):
    """Any other 4xx answer without a more specific class."""


class KalshiConnectionError(KalshiError):
    """The request did not get an HTTP answer: refused, reset, dropped or timed out."""


class KalshiResponseError(KalshiError):
    """A 2xx answer whose body is not the expected JSON (for example truncated in transit)."""


class CircuitOpenError(KalshiError):
    """The circuit breaker for an API is open: the call was not attempted (fail fast), or its retries
    stopped because other calls opened it. `last_failure` (also the `__cause__`) is the failure that
    opened it, or this call's own last one."""

    def __init__(self, breaker_name: str, retry_in_s: float, *, last_failure: BaseException | None = None) -> None:
        last = f"; last failure: {last_failure}" if last_failure is not None else ""
        super().__init__(
            f"circuit breaker {breaker_name!r} is open{last}; next probe allowed in {max(retry_in_s, 0.0):.1f}s",
            code="circuit_open",
        )
        self.breaker_name = breaker_name
        self.retry_in_s = retry_in_s
        self.last_failure = last_failure


_STATUS_CLASSES: dict[int, type[KalshiError]] = {
    400: KalshiBadRequest,
    401: KalshiAuthError,
    403: KalshiAuthError,
    404: KalshiNotFound,
    409: KalshiConflict,
    429: KalshiRateLimited,
}


def error_class_for_status(status: int) -> type[KalshiError]:
    """The error class that represents an HTTP error status."""
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status >= 500:
        return KalshiServerError
    return KalshiClientHTTPError


def parse_error_body(body: Any) -> tuple[str | None, str | None, str | None]:
    """(code, message, details) from any error body shape Kalshi sends.

    Seen on the wire: `{"error": {"code", "message", "details", "service"}}`, the 429 answer
    `{"error": "too many requests"}`, and the flat `ErrorResponse` of the OpenAPI document.
    """
    if not isinstance(body, dict):
        return None, None, None
    inner = body.get("error", body)
    if isinstance(inner, str):
        return None, inner, None
    if not isinstance(inner, dict):
        return None, None, None

    def text(key: str) -> str | None:
        value = inner.get(key)
        return str(value) if value not in (None, "") else None

    return text("code"), text("message"), text("details")
