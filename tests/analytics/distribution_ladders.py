"""Ladders drawn from known distributions, as quotes, for the distribution tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

RUNG_DEFAULTS = {"last_price": np.nan, "quote_age_hours": 0.5, "last_trade_age_hours": np.nan}


def quotes_from_probabilities(
    p: np.ndarray, rng: np.random.Generator, noise_sd: float, spread: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bid/ask in whole cents around p plus Gaussian noise (what a real book looks like)."""
    q = np.clip(p + rng.normal(0.0, noise_sd, len(p)) if noise_sd > 0 else p, 0.0, 1.0)
    bid = np.clip(np.floor((q - spread / 2) * 100 + 1e-9) / 100, 0.0, 1.0)
    ask = np.clip(np.ceil((q + spread / 2) * 100 - 1e-9) / 100, 0.0, 1.0)
    return bid, ask


def threshold_ladder(
    strikes: np.ndarray,
    survival: np.ndarray,
    rng: np.random.Generator,
    noise_sd: float = 0.0,
    spread: float = 0.02,
    violations: int = 0,
    bump: float = 0.05,
    strike_type: str = "greater",
) -> pd.DataFrame:
    """A threshold ladder quoting S(k) (greater*) or F(k) = 1 - S(k) (less*), with `violations`
    rungs bumped up by `bump` (each breaks monotonicity of S) and rows shuffled."""
    s = np.asarray(survival, dtype=float).copy()
    if violations:
        idx = rng.choice(len(s), size=min(violations, len(s)), replace=False)
        s[idx] = np.clip(s[idx] + bump, 0.0, 1.0)
    quoted = s if strike_type.startswith("greater") else 1.0 - s
    bid, ask = quotes_from_probabilities(quoted, rng, noise_sd, spread)
    frame = pd.DataFrame({
        "strike_type": strike_type,
        "floor_strike": strikes if strike_type.startswith("greater") else np.nan,
        "cap_strike": strikes if strike_type.startswith("less") else np.nan,
        "yes_bid": bid,
        "yes_ask": ask,
        **RUNG_DEFAULTS,
    })
    return frame.sample(frac=1.0, random_state=int(rng.integers(1 << 31))).reset_index(drop=True)


def strike_grid(lo: float, hi: float, step: float) -> np.ndarray:
    start = np.floor(lo / step) * step
    return np.round(start + step * np.arange(int(np.ceil((hi - start) / step)) + 1), 10)
