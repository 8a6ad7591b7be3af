"""RiskManager: order notional, position per market (current plus new), daily loss (realized plus marked)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from kalshi_assets.trading import RULE_DAILY_LOSS, RULE_NOTIONAL, RULE_POSITION, Fill, RiskManager
from tests.trading.conftest import DECIDED_AT, EVENT, TICKER, make_order


def _risk(**limits) -> RiskManager:
    settings = {"max_position_per_market": 1000, "max_order_notional": 500, "max_daily_loss": 100}
    settings.update(limits)
    return RiskManager(**settings, clock=lambda: DECIDED_AT)


def _fill(side: str, action: str, count: int, price: str, fee: str = "0", at=DECIDED_AT, ticker=TICKER) -> Fill:
    return Fill(f"t-{side}-{action}-{count}-{price}-{at}", "c", "o", ticker, EVENT, side, action, count,
                Decimal(price), Decimal(fee), at)  # fmt: skip


def test_default_notional_limit_is_500_dollars() -> None:
    assert RiskManager(max_position_per_market=5000).max_order_notional == Decimal("500")


def test_order_over_500_dollars_notional_is_a_violation() -> None:
    risk = _risk(max_position_per_market=5000)
    at_limit = risk.check(make_order(count=1000, price="0.50"))  # exactly $500
    assert at_limit.approved
    over = risk.check(make_order(count=1001, price="0.50"))
    assert not over.approved and over.reason == RULE_NOTIONAL
    (violation,) = over.violations
    assert (violation.observed, violation.limit) == (Decimal("500.5000"), Decimal("500"))
    assert violation.order.count == 1001


def test_position_limit_counts_current_plus_new() -> None:
    risk = _risk(max_position_per_market=100)
    risk.record_fill(_fill("yes", "buy", 80, "0.40"))
    assert risk.check(make_order(count=20, price="0.40")).approved  # 80 + 20 = 100
    decision = risk.check(make_order(count=21, price="0.40"))
    assert decision.reason == RULE_POSITION
    (violation,) = decision.violations
    assert (violation.observed, violation.limit) == (101, 100)
    assert violation.details == {"current_position": 80, "order_delta": 21, "position_after": 101}
    # NO contracts net against YES: buying 150 NO takes the position from +80 to -70, inside the limit.
    assert risk.check(make_order(count=150, price="0.60", side="no")).approved
    # ... but 190 NO would end at -110.
    assert risk.check(make_order(count=190, price="0.60", side="no")).reason == RULE_POSITION


def test_an_order_reducing_an_oversized_position_passes() -> None:
    risk = _risk(max_position_per_market=50)
    risk.record_fill(_fill("yes", "buy", 80, "0.40"))  # over the limit (e.g. the limit was lowered)
    assert risk.check(make_order(count=10, action="sell", price="0.40")).approved
    assert risk.check(make_order(count=1, price="0.40")).reason == RULE_POSITION


def test_daily_loss_adds_realized_and_marked_to_market() -> None:
    risk = _risk(max_daily_loss=100)
    other = "KXCPI-26OCT-T0.6"
    risk.record_fill(_fill("yes", "buy", 200, "0.60", ticker=other))
    risk.record_fill(_fill("yes", "sell", 100, "0.30", fee="1.47", ticker=other))  # realized -30 - 1.47
    assert risk.check(make_order()).approved
    # Marked at 0.10, the 100 open contracts lose 50 more: total -81.47, still inside.
    risk.set_marks({other: Decimal("0.10")})
    assert risk.check(make_order()).approved
    # A second losing position takes the day past the limit.
    risk.record_fill(_fill("no", "buy", 100, "0.50", ticker=TICKER))
    risk.set_marks({TICKER: Decimal("0.70")})  # short 100 YES at 0.50 marked 0.70: -20 more
    decision = risk.check(make_order(ticker="KXCPI-26OCT-T0.7"))
    assert decision.reason == RULE_DAILY_LOSS
    (violation,) = decision.violations
    assert violation.observed == Decimal("101.4700")
    assert violation.limit == Decimal("100")
    assert violation.details["realized_pnl"] == "-31.4700"
    assert violation.details["unrealized_pnl"] == "-70.0000"
    # Closing part of a losing position is still allowed.
    assert risk.check(make_order(ticker=other, action="sell", count=10, price="0.10")).approved


def test_realized_loss_of_an_earlier_day_does_not_count_today() -> None:
    risk = _risk(max_daily_loss=10)
    yesterday = DECIDED_AT - timedelta(days=1)
    risk.record_fill(_fill("yes", "buy", 100, "0.60", at=yesterday, ticker="A"))
    risk.record_fill(_fill("yes", "sell", 100, "0.40", at=yesterday, ticker="A"))  # -20 yesterday
    assert risk.check(make_order()).approved


def test_every_broken_rule_is_reported() -> None:
    risk = _risk(max_position_per_market=100, max_daily_loss=1)
    risk.record_fill(_fill("yes", "buy", 10, "0.50", fee="2.00", ticker="B"))
    decision = risk.check(make_order(count=2000, price="0.50"))
    assert [v.rule for v in decision.violations] == [RULE_POSITION, RULE_NOTIONAL, RULE_DAILY_LOSS]
    assert decision.reason == "max_position_per_market,max_order_notional,max_daily_loss"


@pytest.mark.parametrize(
    "limits",
    [{"max_position_per_market": 0}, {"max_order_notional": 0}, {"max_daily_loss": -5}],
)
def test_limits_must_be_positive(limits: dict) -> None:
    with pytest.raises(ValueError):
        _risk(**limits)
