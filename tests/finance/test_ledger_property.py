"""A property test of the money rules: for any sequence of fees, adjustments, write-offs, deal-value corrections,
reversals, payments, allocations (by hand and automatic), bounces and closed months — each step through the
services, refusals allowed — after every step:

- each balance (per partner and currency, as the aging page computes it in SQL) equals the sum of its rows to
  the cent, and so does what is open on each fee;
- nothing posted in a closed month changes, and nothing new is posted in one;
- no payment is allocated beyond its amount, and no fee beyond what is due on it.
"""

import os
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finance import selectors, services
from finance.models import Allocation, Payment
from finance.services import FinanceError
from partners import matching
from partners import services as partner_services
from partners.models import BILLABLE_KINDS, FeeAccrual, LedgerLock
from partners.services import LedgerError, ReferralError
from tests.factories import FeeAgreementFactory
from tests.factories.finance import converted_referral

CENTS = st.integers(min_value=1, max_value=90_000).map(lambda c: Decimal(c) / 100)
DAYS_AGO = st.integers(min_value=0, max_value=150)
INDEX = st.integers(min_value=0, max_value=50)

steps = st.one_of(  # the steps that move money most come twice: they are drawn more often
    st.tuples(st.just("allocate_auto"), INDEX),
    st.tuples(st.just("pay"), CENTS, DAYS_AGO),
    st.tuples(st.just("convert"), DAYS_AGO, st.integers(min_value=1, max_value=20_000)),
    st.tuples(
        st.just("adjust"), INDEX, st.integers(min_value=-60_000, max_value=60_000).map(lambda c: Decimal(c) / 100)
    ),
    st.tuples(st.just("write_off"), INDEX, st.none() | CENTS),
    st.tuples(st.just("deal_value"), INDEX, st.integers(min_value=1, max_value=20_000)),
    st.tuples(st.just("reverse"), INDEX),
    st.tuples(st.just("pay"), CENTS, DAYS_AGO),
    st.tuples(st.just("allocate"), INDEX, INDEX, CENTS),
    st.tuples(st.just("allocate_auto"), INDEX),
    st.tuples(st.just("bounce"), INDEX),
    st.tuples(st.just("lock"), st.integers(min_value=1, max_value=4)),
)
REFUSALS = (FinanceError, LedgerError, ReferralError)


def pick(rows: list, index: int):
    return rows[index % len(rows)] if rows else None


def run(step, partner, now: datetime) -> None:
    kind, *args = step
    items = list(FeeAccrual.objects.filter(kind__in=BILLABLE_KINDS).order_by("pk"))
    payments = list(Payment.objects.filter(kind="received").order_by("pk"))
    referrals = sorted({item.referral for item in items}, key=lambda r: r.pk)
    if kind == "convert":
        days, value = args
        converted_referral(partner=partner, deal_value=str(value), at=now - timedelta(days=days))
    elif kind == "adjust" and items and args[1]:
        services.accrual_adjust(accrual=pick(items, args[0]), amount=args[1], reason="property")
    elif kind == "write_off" and items:
        services.accrual_write_off(accrual=pick(items, args[0]), amount=args[1], reason="property")
    elif kind == "deal_value" and referrals:
        partner_services.referral_deal_value_correct(
            referral=pick(referrals, args[0]), deal_value=str(args[1]), reason="property"
        )
    elif kind == "reverse" and referrals:
        partner_services.referral_conversion_reverse(referral=pick(referrals, args[0]), reason="property")
    elif kind == "pay":
        amount, days = args
        services.payment_record(
            partner=partner, amount=amount, currency="EUR", received_on=timezone.localdate(now) - timedelta(days=days)
        )
    elif kind == "allocate" and payments and items:
        payment, item, amount = pick(payments, args[0]), pick(items, args[1]), args[2]
        services.payment_allocate(payment=payment, allocations=[(item, amount)])
    elif kind == "allocate_auto" and payments:
        services.payment_allocate_auto(payment=pick(payments, args[0]))
    elif kind == "bounce" and payments:
        services.payment_bounce(payment=pick(payments, args[0]), reason="property")
    elif kind == "lock":
        month_end = timezone.localdate(now).replace(day=1) - timedelta(days=1)
        for _ in range(args[0] - 1):
            month_end = month_end.replace(day=1) - timedelta(days=1)
        services.period_lock(month=month_end)


def closed_rows(through: date | None) -> set:
    if through is None:
        return set()
    fees = FeeAccrual.objects.filter(posted_on__lte=through).values_list("pk", "amount", "posted_on", "corrects_id")
    money = Payment.objects.filter(posted_on__lte=through).values_list("pk", "amount", "posted_on", "reverses_id")
    return {("fee", *row) for row in fees} | {("payment", *row) for row in money}


def check_invariants(partner, as_of: date) -> None:
    fees = list(FeeAccrual.objects.all())
    payments = list(Payment.objects.all())
    allocations = list(Allocation.objects.all())
    owed = sum((row.amount for row in fees), Decimal("0.00"))
    paid = sum((row.amount for row in payments), Decimal("0.00"))
    rows = selectors.aging(as_of=as_of)
    balance = sum((row.balance for row in rows), Decimal("0.00"))
    assert balance == owed - paid  # the balance is the sum of the rows, to the cent
    assert all(row.currency == "EUR" for row in rows)
    # what is open on each fee: its amount and corrections, less its allocations; never below zero
    annotated = {item.pk: item for item in selectors.with_item_open(FeeAccrual.objects.filter(kind__in=BILLABLE_KINDS))}
    for item in (row for row in fees if row.kind in BILLABLE_KINDS):
        net = item.amount + sum((c.amount for c in fees if c.corrects_id == item.pk), Decimal("0.00"))
        allocated = sum((a.amount for a in allocations if a.accrual_id == item.pk), Decimal("0.00"))
        assert net >= 0
        assert Decimal(0) <= allocated <= net  # no allocation beyond what is due on the fee
        assert annotated[item.pk].item_open == net - allocated
        assert services.item_open(item) == net - allocated
    for payment in (row for row in payments if row.kind == "received"):
        allocated = sum((a.amount for a in allocations if a.payment_id == payment.pk), Decimal("0.00"))
        bounced = any(row.reverses_id == payment.pk for row in payments)
        assert Decimal(0) <= allocated <= (Decimal(0) if bounced else payment.amount)  # never beyond the payment
    for allocation in (row for row in allocations if row.amount > 0):
        given_back = sum((a.amount for a in allocations if a.gives_back_id == allocation.pk), Decimal("0.00"))
        assert allocation.amount + given_back >= 0


@pytest.mark.django_db
@settings(
    max_examples=int(os.environ.get("LEDGER_PROPERTY_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    start=st.lists(st.tuples(st.just("convert"), DAYS_AGO, st.integers(1, 20_000)), min_size=1, max_size=3),
    first_payment=st.tuples(st.just("pay"), CENTS, DAYS_AGO),
    sequence=st.lists(steps, min_size=1, max_size=14),
)
def test_money_rules_hold_for_any_sequence_of_steps(start, first_payment, sequence):
    matching.catalogue_reset()
    with transaction.atomic():
        now = timezone.now()
        partner = FeeAgreementFactory(partner__name="Property Partner", valid_from=date(2000, 1, 1)).partner
        for step in [*start, first_payment, *sequence]:
            through = LedgerLock.objects.filter(pk=1).values_list("locked_through", flat=True).first()
            before = closed_rows(through)
            try:
                with transaction.atomic():
                    run(step, partner, now)
            except REFUSALS:
                pass  # a refusal changes nothing; the invariants still hold
            assert closed_rows(through) == before  # nothing posted in a closed month changed or was added
            check_invariants(partner, timezone.localdate(now))
        transaction.set_rollback(True)
    matching.catalogue_reset()
