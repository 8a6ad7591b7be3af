"""Retry policy: backoff bounds, Retry-After, and which requests may be retried."""

from __future__ import annotations

import random

import pytest

from kalshi_assets.kalshi.errors import (
    KalshiAuthError,
    KalshiBadRequest,
    KalshiConnectionError,
    KalshiNotFound,
    KalshiRateLimited,
    KalshiResponseError,
    KalshiServerError,
)
from kalshi_assets.kalshi.retry import RetryPolicy, may_retry, parse_retry_after


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=4.0, rng=random.Random(3))
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0), (9, 4.0)]:
        draws = [policy.backoff_s(attempt) for _ in range(300)]
        assert all(0.0 <= d <= ceiling for d in draws)
        assert max(draws) > 0.8 * ceiling, "jitter should spread over the whole window"
        assert len(set(draws)) > 250


def test_retry_after_replaces_the_computed_wait_and_is_capped() -> None:
    policy = RetryPolicy(max_retry_after_s=10)
    assert policy.backoff_s(1, retry_after_s=2.5) == 2.5
    assert policy.backoff_s(1, retry_after_s=120) == 10


def test_parse_retry_after() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("-4") == 0.0
    fixed_now = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now=lambda: fixed_now) == pytest.approx(30.0)
    assert parse_retry_after("soon") is None


@pytest.mark.parametrize(
    "error",
    [
        KalshiRateLimited("too many requests", status=429),
        KalshiServerError("boom", status=503),
        KalshiConnectionError("reset"),
        KalshiResponseError("truncated", status=200),
    ],
)
def test_transient_errors_retry_reads_and_orders_with_client_order_id_only(error: Exception) -> None:
    assert may_retry("GET", error, has_client_order_id=False)
    assert may_retry("POST", error, has_client_order_id=True)
    assert not may_retry("POST", error, has_client_order_id=False)


@pytest.mark.parametrize(
    "error",
    [
        KalshiBadRequest("bad", status=400),
        KalshiAuthError("stale", status=401),
        KalshiNotFound("gone", status=404),
        ValueError("not an API error"),
    ],
)
def test_client_errors_are_never_retried(error: Exception) -> None:
    assert not may_retry("GET", error, has_client_order_id=False)
    assert not may_retry("POST", error, has_client_order_id=True)


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay_s=-1)
