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


_TRADE_NAMESPACE_BYTES = _TRADE_NAMESPACE.bytes
_VARIANT = "89ab89ab89ab89ab"  # RFC 4122 variant: the top two bits of clock_seq_hi set to 10


def trade_ids(ticker: str, hour_end: np.ndarray, k: np.ndarray) -> list[str]:
    """`str(uuid.uuid5(_TRADE_NAMESPACE, f"{ticker}|{hour_end}|{k}"))` for each print, without a UUID
    object per trade (the same SHA-1, version and variant bits, spelled directly)."""
    sha1, prefix, variant = hashlib.sha1, _TRADE_NAMESPACE_BYTES, _VARIANT
    out = []
    for hour, j in zip(hour_end.tolist(), k.tolist(), strict=True):
        h = sha1(prefix + f"{ticker}|{hour}|{j}".encode()).hexdigest()
        out.append(f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{variant[int(h[16], 16)]}{h[17:20]}-{h[20:32]}")
    return out

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
