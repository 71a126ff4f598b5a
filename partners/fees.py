"""Fee terms, pure: which amounts apply at a monthly volume, and what a billable event earns.

Decimal only, built from strings; every amount is rounded once, in `money()` (`common.money.money_round`: the
project's one rounding rule, half up to the cent).
A referral carries its terms as a snapshot (`Terms.as_snapshot()`), so later edits never change it.
"""

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from common.money import money_round

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


money = money_round  # the one rounding rule for money: to the cent, half up


def format_money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


@dataclass(frozen=True)
class Tier:
    min_monthly_referrals: int
    per_referral: Decimal | None = None
    per_accepted: Decimal | None = None
    per_conversion: Decimal | None = None
    percent_of_deal: Decimal | None = None


@dataclass(frozen=True)
class Terms:
    currency: str
    per_referral: Decimal = ZERO
    per_accepted: Decimal = ZERO
    per_conversion: Decimal = ZERO
    percent_of_deal: Decimal = ZERO
    percent_cap: Decimal | None = None
    payment_terms_days: int = 30
    agreement_id: int | None = None
    tier: int | None = None  # the tier threshold applied, None = base terms
    tiers: tuple[Tier, ...] = field(default=(), compare=False)

    def at_volume(self, monthly_referrals: int) -> "Terms":
        """The terms for the Nth referral to the partner this month (N counts the one being sent)."""
        applied = None
        for tier in sorted(self.tiers, key=lambda t: t.min_monthly_referrals):
            if monthly_referrals >= tier.min_monthly_referrals:
                applied = tier
        if applied is None:
            return replace(self, tier=None, tiers=())
        return replace(
            self,
            per_referral=_pick(applied.per_referral, self.per_referral),
            per_accepted=_pick(applied.per_accepted, self.per_accepted),
            per_conversion=_pick(applied.per_conversion, self.per_conversion),
            percent_of_deal=_pick(applied.percent_of_deal, self.percent_of_deal),
            tier=applied.min_monthly_referrals,
            tiers=(),
        )

    def as_snapshot(self) -> dict[str, Any]:
        return {
            "agreement_id": self.agreement_id,
            "currency": self.currency,
            "per_referral": str(self.per_referral),
            "per_accepted": str(self.per_accepted),
            "per_conversion": str(self.per_conversion),
            "percent_of_deal": str(self.percent_of_deal),
            "percent_cap": None if self.percent_cap is None else str(self.percent_cap),
            "payment_terms_days": self.payment_terms_days,
            "tier": self.tier,
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> "Terms":
        return cls(
            currency=data["currency"],
            per_referral=Decimal(data["per_referral"]),
            per_accepted=Decimal(data["per_accepted"]),
            per_conversion=Decimal(data["per_conversion"]),
            percent_of_deal=Decimal(data["percent_of_deal"]),
            percent_cap=None if data.get("percent_cap") is None else Decimal(data["percent_cap"]),
            payment_terms_days=int(data.get("payment_terms_days", 30)),
            agreement_id=data.get("agreement_id"),
            tier=data.get("tier"),
        )

    def describe(self) -> str:
        """In words, for pages and emails: "25.00 EUR per accepted referral + 10% of the deal (at most 500.00 EUR)"."""
        parts = []
        if self.per_referral:
            parts.append(f"{format_money(self.per_referral, self.currency)} per referral sent")
        if self.per_accepted:
            parts.append(f"{format_money(self.per_accepted, self.currency)} per accepted referral")
        if self.per_conversion:
            parts.append(f"{format_money(self.per_conversion, self.currency)} per conversion")
        if self.percent_of_deal:
            share = f"{self.percent_of_deal.normalize():f}% of the deal"
            if self.percent_cap is not None:
                share += f" (at most {format_money(self.percent_cap, self.currency)})"
            parts.append(share)
        text = " + ".join(parts) or "no fee"
        return f"{text}; tier from {self.tier} a month" if self.tier else text


def _pick(override: Decimal | None, base: Decimal) -> Decimal:
    return base if override is None else override


@dataclass(frozen=True)
class Accrual:
    kind: str
    amount: Decimal
    basis: str


def accruals_for(terms: Terms, event: str, *, deal_value: Decimal | None = None) -> list[Accrual]:
    """What one billable event earns: "sent", "accepted" or "converted" (which needs the deal value in
    the terms' currency). Zero amounts are not billable and return nothing."""
    cur = terms.currency
    if event == "sent":
        rows = [Accrual("sent", money(terms.per_referral), "per referral sent")]
    elif event == "accepted":
        rows = [Accrual("accepted", money(terms.per_accepted), "per accepted referral")]
    elif event == "converted":
        rows = [Accrual("conversion", money(terms.per_conversion), "per conversion")]
        if terms.percent_of_deal and deal_value is not None:
            share = money(deal_value * terms.percent_of_deal / HUNDRED)
            basis = f"{terms.percent_of_deal.normalize():f}% of {format_money(money(deal_value), cur)}"
            if terms.percent_cap is not None and share > terms.percent_cap:
                share = money(terms.percent_cap)
                basis += f", capped at {format_money(share, cur)}"
            rows.append(Accrual("conversion_percent", share, basis))
    else:
        raise ValueError(f"unknown billable event {event!r}")
    return [row for row in rows if row.amount > ZERO]


def expected_fee(
    terms: Terms, *, accept_rate: float, convert_rate: float, deal_value: Decimal | None = None
) -> Decimal:
    """What a referral is worth on average: each fee times the chance of the event that earns it."""
    p_accept = Decimal(str(round(accept_rate, 4)))
    p_convert = Decimal(str(round(convert_rate, 4)))
    on_conversion = sum((a.amount for a in accruals_for(terms, "converted", deal_value=deal_value)), ZERO)
    value = terms.per_referral + p_accept * terms.per_accepted + p_accept * p_convert * on_conversion
    return money(value)
