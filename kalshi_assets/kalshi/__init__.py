"""Kalshi Trade API v2: the signed client, its resilience parts and wire -> row parsing. No dagster."""

from kalshi_assets.kalshi.breaker import BreakerRegistry, BreakerState, BreakerStats, CircuitBreaker
from kalshi_assets.kalshi.client import (
    DEMO_BASE_URL,
    DEMO_LEGACY_BASE_URL,
    PROD_BASE_URL,
    PROD_LEGACY_BASE_URL,
    KalshiClient,
)
from kalshi_assets.kalshi.errors import (
    CircuitOpenError,
    KalshiAuthError,
    KalshiBadRequest,
    KalshiClientHTTPError,
    KalshiConflict,
    KalshiConnectionError,
    KalshiDuplicateOrder,
    KalshiError,
    KalshiKeyError,
    KalshiNotFound,
    KalshiRateLimited,
    KalshiResponseError,
    KalshiServerError,
    KalshiSigningError,
)
from kalshi_assets.kalshi.ratelimit import TIERS, RateLimiter, RateLimitTier
from kalshi_assets.kalshi.retry import RetryPolicy

__all__ = [
    "DEMO_BASE_URL",
    "DEMO_LEGACY_BASE_URL",
    "PROD_BASE_URL",
    "PROD_LEGACY_BASE_URL",
    "TIERS",
    "BreakerRegistry",
    "BreakerState",
    "BreakerStats",
    "CircuitBreaker",
    "CircuitOpenError",
    "KalshiAuthError",
    "KalshiBadRequest",
    "KalshiClient",
    "KalshiClientHTTPError",
    "KalshiConflict",
    "KalshiConnectionError",
    "KalshiDuplicateOrder",
    "KalshiError",
    "KalshiKeyError",
    "KalshiNotFound",
    "KalshiRateLimited",
    "KalshiResponseError",
    "KalshiServerError",
    "KalshiSigningError",
    "RateLimitTier",
    "RateLimiter",
    "RetryPolicy",
]
