"""A signed, rate-limited, retrying Kalshi Trade API v2 client.

A call passes its API's circuit breaker once (fail fast while open), then up to `retry.max_attempts`
attempts, each taking a read or write token, signing with a fresh millisecond timestamp, one HTTP
exchange over a pooled session, and classification of the answer into data or a typed error. Reads are
retried on 429, 5xx, dropped connections and mangled bodies; an order POST only with the
`client_order_id` it was first sent with.

One retry budget: the breaker counts calls, each after its whole retry budget, so a transient fault
that a retry absorbs never moves it, and a call only counts as a failure once every attempt failed.
Retries stop as soon as the breaker opens (other calls' failures); the `CircuitOpenError` then raised
carries the last underlying failure as its `__cause__` and names it in its message.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from kalshi_assets.kalshi.breaker import BreakerRegistry, BreakerState, CircuitBreaker, default_registry
from kalshi_assets.kalshi.endpoints import MarketDataEndpoints, encode_params, segment, unix_seconds
from kalshi_assets.kalshi.errors import (
    CircuitOpenError,
    KalshiAuthError,
    KalshiConflict,
    KalshiConnectionError,
    KalshiDuplicateOrder,
    KalshiError,
    KalshiKeyError,
    KalshiRateLimited,
    KalshiResponseError,
    KalshiServerError,
    error_class_for_status,
    parse_error_body,
)
from kalshi_assets.kalshi.portfolio import TIME_IN_FORCE, PortfolioEndpoints, dollars_string
from kalshi_assets.kalshi.ratelimit import RateLimiter, RateLimitTier, resolve_tier
from kalshi_assets.kalshi.retry import RetryPolicy, may_retry, parse_retry_after
from kalshi_assets.kalshi.signing import RequestSigner, SignerBackend, auth_headers, make_signer

logger = logging.getLogger(__name__)

__all__ = [
    "DEMO_BASE_URL", "DEMO_LEGACY_BASE_URL", "PROD_BASE_URL", "PROD_LEGACY_BASE_URL", "TIME_IN_FORCE",
    "CREDENTIAL_VARIABLES", "KalshiClient", "RequestCallback", "dollars_string", "encode_params", "requires_auth",
    "segment", "unix_seconds",
]  # fmt: skip

PROD_BASE_URL = "https://external-api.kalshi.com/trade-api/v2"
PROD_LEGACY_BASE_URL = "https://api.elections.kalshi.com/trade-api/v2"
DEMO_BASE_URL = "https://external-api.demo.kalshi.co/trade-api/v2"
DEMO_LEGACY_BASE_URL = "https://demo-api.kalshi.co/trade-api/v2"

# The environment variables that carry an API key (read in definitions.py, named in error messages).
CREDENTIAL_VARIABLES = ("KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH", "KALSHI_PRIVATE_KEY_PEM",
                        "KALSHI_PRIVATE_KEY_PASSPHRASE")

# on_request(method, path, status, elapsed_ms, error_code): one call per HTTP attempt, for the audit
# log. It never receives headers, signatures or keys.
RequestCallback = Callable[[str, str, int | None, float, str | None], None]

# Paths Kalshi serves only to a signed request (the OpenAPI document's `security`); the rest of the
# market data is public.
_AUTH_PATHS = re.compile(
    r"^/(portfolio/.*|account/.*|markets/[^/]+/orderbook|series/[^/]+/events/[^/]+/forecast_percentile_history"
    r"|historical/(fills|orders))$"
)
_ERRNO = re.compile(r"\[Errno (-?\d+)\] ([^'\")\]]+)")


def requires_auth(path: str) -> bool:
    """Whether Kalshi answers `path` (relative to the base URL, no query) only to a signed request."""
    return bool(_AUTH_PATHS.match(path))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _checked_base_url(base_url: str) -> tuple[str, str]:
    """(base URL without a trailing slash, the path prefix Kalshi signs from)."""
    parts = urlsplit(base_url.rstrip("/"))
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(f"plain http is allowed only to a loopback host (the demo server), got {base_url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"base_url must not carry a query or fragment: {base_url!r}")
    return base_url.rstrip("/"), parts.path


def describe_connection_failure(exc: BaseException) -> str:
    """What went wrong on the wire, from a `requests` exception: "Connection refused [Errno 111]",
    "Remote end closed connection without response", or the exception's type."""
    text = str(exc)
    found = _ERRNO.search(text)
    if found:
        return f"{found.group(2).strip()} [Errno {found.group(1)}]"
    for phrase in ("Remote end closed connection without response", "Connection reset by peer",
                   "Connection aborted", "Read timed out", "Name or service not known"):
        if phrase in text:
            return phrase
    return type(exc).__name__


def _build_session(base_url: str, pool_maxsize: int) -> requests.Session:
    session = requests.Session()
    # Retries are ours (with signing and breaker per attempt): urllib3 must not retry on its own.
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_maxsize, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"Accept": "application/json", "User-Agent": "kalshi-assets/0.1"})
    # The environment's proxy settings, read once: with trust_env, requests rescans os.environ on every
    # request (about 3 ms each in a test process). Credentials never come from .netrc: Kalshi signs headers.
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    session.trust_env = False
    return session


def _build_rate_limiter(
    tier: str | RateLimitTier, read_rate_per_s: float | None, write_rate_per_s: float | None,
    sleep: Callable[[float], None],
) -> RateLimiter:
    if read_rate_per_s is not None or write_rate_per_s is not None:
        base = resolve_tier(tier)
        tier = RateLimitTier(
            f"{base.name}-custom",
            read_rate_per_s if read_rate_per_s is not None else base.reads_per_second,
            write_rate_per_s if write_rate_per_s is not None else base.writes_per_second,
        )
    return RateLimiter(tier, sleep=sleep)


class KalshiClient(MarketDataEndpoints, PortfolioEndpoints):
    """Kalshi Trade API v2 over a pooled `requests.Session`.

    Credentials are optional: public market data needs none; portfolio calls (and order books and
    forecast histories) need `api_key_id` and a private key (`private_key_path` or `private_key_pem`,
    with `passphrase` if encrypted), and without them fail before sending. Rate limits follow `tier`
    (basic: 20 reads/s, 10 writes/s); `read_rate_per_s` and `write_rate_per_s` override one bucket
    each; `rate_limiter` replaces both.
    """

    def __init__(
        self,
        base_url: str = PROD_BASE_URL,
        api_key_id: str | None = None,
        private_key_path: str | None = None,
        private_key_pem: str | bytes | None = None,
        passphrase: str | bytes | None = None,
        *,
        signer: RequestSigner | None = None,
        signer_backend: SignerBackend = "cryptography",
        tier: str | RateLimitTier = "basic",
        read_rate_per_s: float | None = None,
        write_rate_per_s: float | None = None,
        rate_limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        breaker_registry: BreakerRegistry | None = None,
        breaker_name: str = "kalshi",
        timeout_s: tuple[float, float] = (3.05, 30.0),
        pool_maxsize: int = 16,
        session: requests.Session | None = None,
        on_request: RequestCallback | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url, self._signed_prefix = _checked_base_url(base_url)
        has_key = private_key_path is not None or private_key_pem is not None or signer is not None
        if has_key and not api_key_id:
            raise KalshiKeyError("a private key was given without api_key_id")
        if api_key_id and not has_key:
            raise KalshiKeyError("api_key_id was given without a private key (private_key_path or private_key_pem)")
        if signer is None and has_key:
            signer = make_signer(private_key_path=private_key_path, private_key_pem=private_key_pem,
                                 passphrase=passphrase, backend=signer_backend)
        self.api_key_id = api_key_id
        self._signer = signer
        self.rate_limiter = rate_limiter or _build_rate_limiter(tier, read_rate_per_s, write_rate_per_s, sleep)
        self.retry = retry or RetryPolicy()
        registry = breaker_registry if breaker_registry is not None else default_registry
        self.breaker: CircuitBreaker = registry.get(breaker_name)
        self.timeout_s = timeout_s
        self._on_request = on_request
        self._sleep = sleep
        self.last_date_header: str | None = None
        self._owns_session = session is None
        self._session = session if session is not None else _build_session(self.base_url, pool_maxsize)

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def authenticated(self) -> bool:
        return self._signer is not None

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> KalshiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KalshiClient({self.base_url!r}, authenticated={self.authenticated})"

    # --- one HTTP attempt --------------------------------------------------------------------------

    def _report(self, method: str, path: str, status: int | None, elapsed_ms: float, code: str | None) -> None:
        if self._on_request is None:
            return
        try:
            self._on_request(method, path, status, elapsed_ms, code)
        except Exception:
            logger.exception("on_request callback failed for %s %s", method, path)

    def _attempt(self, method: str, path: str, query: list[tuple[str, str]], body: bytes | None) -> Any:
        self.rate_limiter.acquire(method)
        headers: dict[str, str] = {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._signer is not None and self.api_key_id:
            headers.update(auth_headers(self.api_key_id, self._signer, method, self._signed_prefix + path))
        started = time.perf_counter()
        try:
            response = self._session.request(
                method, self.base_url + path, params=query, data=body, headers=headers, timeout=self.timeout_s
            )
        except requests.Timeout as exc:
            self._report(method, path, None, (time.perf_counter() - started) * 1000, "timeout")
            raise KalshiConnectionError(
                f"timed out: {describe_connection_failure(exc)}", code="timeout", method=method, path=path
            ) from exc
        except requests.RequestException as exc:
            self._report(method, path, None, (time.perf_counter() - started) * 1000, "connection_error")
            raise KalshiConnectionError(
                f"no answer from {self.base_url}: {describe_connection_failure(exc)}",
                code="connection_error", method=method, path=path,
            ) from exc  # fmt: skip
        return self._classify(method, path, response, (time.perf_counter() - started) * 1000)

    def _classify(self, method: str, path: str, response: requests.Response, elapsed_ms: float) -> Any:
        """The decoded body of a 2xx answer, else the typed error of its status."""
        self.last_date_header = response.headers.get("Date")  # the server's clock, for `kalshi-assets doctor`
        status = response.status_code
        try:
            data = json.loads(response.content) if response.content else None
            decoded = True
        except ValueError:
            data, decoded = None, False
        if 200 <= status < 300:
            if not decoded or data is None:
                self._report(method, path, status, elapsed_ms, "invalid_json")
                raise KalshiResponseError(
                    f"answer is not valid JSON ({len(response.content)} bytes; truncated?)",
                    status=status, code="invalid_json", method=method, path=path,
                )  # fmt: skip
            self._report(method, path, status, elapsed_ms, None)
            return data
        code, message, details = parse_error_body(data)
        error_class = error_class_for_status(status)
        self._report(method, path, status, elapsed_ms, code or f"http_{status}")
        kwargs: dict[str, Any] = {"status": status, "code": code, "method": method, "path": path, "details": details}
        if error_class in (KalshiRateLimited, KalshiServerError):
            kwargs["retry_after"] = parse_retry_after(response.headers.get("Retry-After"))
        raise error_class(message or response.reason or f"HTTP {status}", **kwargs)

    # --- one call: breaker, then the retry budget ---------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> Any:
        if not path.startswith("/"):
            raise ValueError(f"paths are relative to the base URL and start with '/', got {path!r}")
        if "?" in path:
            raise ValueError(f"put query parameters in params, not in the path: {path!r}")
        method = method.upper()
        if self._signer is None and requires_auth(path):
            raise KalshiAuthError(
                f"{path} needs an API key and this client has no credentials: set "
                f"{CREDENTIAL_VARIABLES[0]} and {CREDENTIAL_VARIABLES[1]} (or {CREDENTIAL_VARIABLES[2]}; "
                f"{CREDENTIAL_VARIABLES[3]} for an encrypted key). Nothing was sent.",
                code="no_credentials", method=method, path=path,
            )  # fmt: skip
        query = encode_params(params)
        # The body is serialized once, so every retry re-sends the same bytes (same client_order_id).
        body = json.dumps(json_body, separators=(",", ":")).encode() if json_body is not None else None
        return self.breaker.call(self._with_retries, method, path, query, body, json_body)

    def _with_retries(
        self, method: str, path: str, query: list[tuple[str, str]], body: bytes | None,
        json_body: Mapping[str, Any] | None,
    ) -> Any:
        has_client_order_id = bool(json_body and json_body.get("client_order_id"))
        ambiguous_write = False  # an earlier attempt may have reached the exchange
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(method, path, query, body)
            except KalshiConflict as exc:
                if method != "GET" and has_client_order_id and json_body is not None:
                    raise KalshiDuplicateOrder(
                        exc.message, client_order_id=str(json_body["client_order_id"]),
                        after_lost_answer=ambiguous_write,
                        status=exc.status, code=exc.code, method=method, path=path, details=exc.details,
                    ) from exc  # fmt: skip
                raise
            except KalshiError as exc:
                if attempt >= self.retry.max_attempts or not may_retry(
                    method, exc, has_client_order_id=has_client_order_id
                ):
                    raise
                if method != "GET" and not isinstance(exc, KalshiRateLimited):
                    ambiguous_write = True  # a 5xx or lost answer: the order may exist
                delay = self.retry.backoff_s(attempt, getattr(exc, "retry_after", None))
                logger.info(
                    "%s %s attempt %d/%d failed (%s); retrying in %.2fs",
                    method, path, attempt, self.retry.max_attempts, exc.code or exc.status, delay,
                )  # fmt: skip
                if delay > 0:
                    self._sleep(delay)
                if self.breaker.state is BreakerState.OPEN:
                    # Other calls opened it meanwhile: the API is down; stop, naming this call's failure.
                    raise CircuitOpenError(self.breaker.name, self.breaker.retry_in_s(), last_failure=exc) from exc

    # --- generic reads ----------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET `path` (relative to the base URL) and return the decoded JSON object."""
        data = self._request("GET", path, params)
        if not isinstance(data, dict):
            raise KalshiResponseError(
                f"expected a JSON object, got {type(data).__name__}", code="unexpected_shape", method="GET", path=path
            )
        return data
