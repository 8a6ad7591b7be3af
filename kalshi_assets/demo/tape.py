"""The demo exchange's tape: a market's hourly candles, in the live or the historical tier's shape, and its
individual trades, built from whole arrays of its simulated hours (demo/simulation.py) in Kalshi's wire
format: fixed-point dollar strings, `_fp` counts, RFC 4122 trade ids."""

from __future__ import annotations

import hashlib
import uuid

import numpy as np

_HOUR = 3600
_TRADE_NAMESPACE = uuid.UUID("6f1c7f8e-52a4-4a52-9d39-0a6b2f1d2c11")

# Fixed-point strings for every cent, built once: formatting is the hot path of candle generation.
_DOLLARS = [f"{c / 100:.4f}" for c in range(101)]


def dollars(cents: int) -> str:
    return _DOLLARS[cents]


def count_fp(count: float) -> str:
    return f"{count:.2f}"


def historical_candle(candle: dict) -> dict:
    """A candle in the historical tier's shape: bare field names, the same fixed-point strings."""
    price = candle["price"]
    return {
        "end_period_ts": candle["end_period_ts"],
        "yes_bid": {name: candle["yes_bid"][f"{name}_dollars"] for name in ("open", "low", "high", "close")},
        "yes_ask": {name: candle["yes_ask"][f"{name}_dollars"] for name in ("open", "low", "high", "close")},
        "price": {name: price[f"{name}_dollars"] for name in ("open", "low", "high", "close", "mean", "previous")},
        "volume": candle["volume_fp"],
        "open_interest": candle["open_interest_fp"],
    }


def hourly_prints(
    hours: np.ndarray, volume: np.ndarray, last_cents: np.ndarray, min_ts: int | None, max_ts: int | None
) -> tuple[np.ndarray, ...]:
    """Each traded hour's volume split into at most three prints, spread evenly inside the hour, newest
    first: (hour_end, created, size, price, k) arrays, one entry per print inside [min_ts, max_ts]."""
    hours, volume, last_cents = (np.asarray(a).astype(np.int64) for a in (hours, volume, last_cents))
    prints = np.minimum(volume, 3)
    of_hour = np.repeat(np.arange(hours.size), prints)
    k = np.arange(of_hour.size) - np.repeat(np.cumsum(prints) - prints, prints)
    per_print, spare = volume[of_hour] // prints[of_hour], volume[of_hour] % prints[of_hour]
    size = per_print + (k < spare)
    created = hours[of_hour] - _HOUR + (k + 1) * _HOUR // (prints[of_hour] + 1)
    keep = np.ones(created.size, dtype=bool)
    if min_ts is not None:
        keep &= created >= min_ts
    if max_ts is not None:
        keep &= created <= max_ts
    newest_first = np.flatnonzero(keep)[np.argsort(-created[keep], kind="stable")]
    return (hours[of_hour][newest_first], created[newest_first], size[newest_first],
            last_cents[of_hour][newest_first], k[newest_first])


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_GROUPS = ((0, 8), (9, 13), (14, 18), (19, 23), (24, 36))  # where the 32 hex digits go among the dashes


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: a bijection of uint64 that scatters every input bit over the output."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def trade_ids(ticker: str, hour_end: np.ndarray, k: np.ndarray) -> list[str]:
    """A random-looking RFC 4122 UUID (version 4 layout) for each print, the same whichever window asks:
    its 122 bits are SplitMix64 of (hour_end, k) keyed by two words of SHA-1 of the ticker, for whole
    arrays at once (a SHA-1 per print took 6 of the demo's seconds). Within a market (hour_end, k) is
    one 64-bit key, so each half alone differs between prints but for the 6 fixed bits."""
    if np.any((k < 0) | (k >= 1 << 16)) or np.any((hour_end < 0) | (hour_end >= 1 << 47)):
        raise ValueError("trade ids need 0 <= k < 2**16 and 0 <= hour_end < 2**47")
    digest = hashlib.sha1(_TRADE_NAMESPACE.bytes + ticker.encode()).digest()
    seed_hi, seed_lo = (np.uint64(int.from_bytes(digest[i:i + 8], "big")) for i in (0, 8))
    key = (np.asarray(hour_end, dtype=np.int64).astype(np.uint64) << np.uint64(16)) | np.asarray(
        k, dtype=np.int64).astype(np.uint64)
    words = np.empty((key.size, 2), dtype=">u8")
    words[:, 0] = (_mix64(key ^ seed_hi) & np.uint64(0xFFFFFFFFFFFF0FFF)) | np.uint64(0x4000)  # version 4
    words[:, 1] = (_mix64(key ^ seed_lo) & np.uint64(0x3FFFFFFFFFFFFFFF)) | np.uint64(0x8000000000000000)  # variant
    octets = words.view(np.uint8).reshape(key.size, 16)
    digits = np.empty((key.size, 32), dtype=np.uint8)
    digits[:, 0::2], digits[:, 1::2] = _HEX[octets >> 4], _HEX[octets & 15]
    text = np.full((key.size, 36), ord("-"), dtype=np.uint8)
    taken = 0
    for lo, hi in _UUID_GROUPS:
        text[:, lo:hi] = digits[:, taken:taken + hi - lo]
        taken += hi - lo
    return text.view("S36").ravel().astype("U36").tolist()

def hourly_candles(hours: np.ndarray, bid: np.ndarray, ask: np.ndarray, last: np.ndarray, volume: np.ndarray,
             oi: np.ndarray, lo: int, hi: int, *, historical: bool = False) -> list[dict]:
    """The wire candles of hours[lo:hi], built from whole arrays (the previous hour's bid and ask open
    each candle, the last trade before it is its previous price); `historical`: in the historical tier's
    shape, built directly rather than converted candle by candle."""
    before = max(lo - 1, 0)
    b = bid[lo:hi].tolist()
    a = ask[lo:hi].tolist()
    pb = bid[before:hi - 1].tolist() if lo else [b[0], *bid[lo:hi - 1].tolist()]
    pa = ask[before:hi - 1].tolist() if lo else [a[0], *ask[lo:hi - 1].tolist()]
    trades = last[:hi]
    traded = np.where(trades >= 0, np.arange(hi), -1)
    latest = np.maximum.accumulate(traded)  # index of the last trade at or before each hour, -1 if none
    prev_index = np.concatenate(([-1], latest[:-1]))[lo:hi].tolist()
    trade_cents = trades.tolist()
    ends = hours[lo:hi].tolist()
    # count_fp of whole contracts, spelled directly: "12.00"
    volumes = [f"{n}.00" for n in volume[lo:hi].astype(np.int64).tolist()]
    interests = [f"{n}.00" for n in oi[lo:hi].astype(np.int64).tolist()]
    build = _historical_candle if historical else _current_candle
    return [
        build(int(ends[k]), pb[k], b[k], pa[k], a[k], trade_cents[lo + k],
              _DOLLARS[trade_cents[prev_index[k]]] if prev_index[k] >= 0 else None, volumes[k], interests[k])
        for k in range(hi - lo)
    ]


def _current_candle(end: int, pbk: int, bk: int, pak: int, ak: int, trade: int, previous: str | None,
                    volume: str, interest: str) -> dict:
    text = _DOLLARS[trade] if trade >= 0 else None
    return {
        "end_period_ts": end,
        "yes_bid": {"open_dollars": _DOLLARS[pbk], "low_dollars": _DOLLARS[min(pbk, bk)],
                    "high_dollars": _DOLLARS[max(pbk, bk)], "close_dollars": _DOLLARS[bk]},
        "yes_ask": {"open_dollars": _DOLLARS[pak], "low_dollars": _DOLLARS[min(pak, ak)],
                    "high_dollars": _DOLLARS[max(pak, ak)], "close_dollars": _DOLLARS[ak]},
        "price": {"open_dollars": text, "low_dollars": text, "high_dollars": text, "close_dollars": text,
                  "mean_dollars": text, "previous_dollars": previous, "min_dollars": text, "max_dollars": text},
        "volume_fp": volume,
        "open_interest_fp": interest,
    }


def _historical_candle(end: int, pbk: int, bk: int, pak: int, ak: int, trade: int, previous: str | None,
                       volume: str, interest: str) -> dict:
    text = _DOLLARS[trade] if trade >= 0 else None
    return {
        "end_period_ts": end,
        "yes_bid": {"open": _DOLLARS[pbk], "low": _DOLLARS[min(pbk, bk)], "high": _DOLLARS[max(pbk, bk)],
                    "close": _DOLLARS[bk]},
        "yes_ask": {"open": _DOLLARS[pak], "low": _DOLLARS[min(pak, ak)], "high": _DOLLARS[max(pak, ak)],
                    "close": _DOLLARS[ak]},
        "price": {"open": text, "low": text, "high": text, "close": text, "mean": text, "previous": previous},
        "volume": volume,
        "open_interest": interest,
    }
