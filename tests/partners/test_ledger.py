"""The fee ledger's posting rules: accounting dates under the period lock, corrections as new rows pointing at the
fee they correct, the constraints that keep it append-only, and correcting a wrong deal value.

Factory agreement (EUR): 25.00 per accepted referral, 100.00 per conversion, 10% of the deal capped at 500.00."""

from datetime import date, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from partners import matching, services
from partners.models import FeeAccrual, LedgerLock
from partners.services import LedgerError, ReferralError
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_catalogue():
    matching.catalogue_reset()
    yield
    matching.catalogue_reset()


@pytest.fixture
def partner(db):
    return FeeAgreementFactory(partner__name="Lendwell", valid_from=timezone.localdate() - timedelta(days=400)).partner


def converted(partner, *, at: datetime | None = None, deal_value="8000"):
    referral = services.referral_send(lead=ConsentingLeadFactory(), partner=partner, mode="introduce", now=at)
    services.referral_accept(referral=referral, now=at)
    services.referral_convert(referral=referral, deal_value=deal_value, now=at)
    return referral


def lock_through(day: date) -> None:
    LedgerLock.objects.update_or_create(pk=1, defaults={"locked_through": day})


def rows(referral) -> list[tuple]:
    return list(referral.accruals.order_by("id").values_list("kind", "amount", "posted_on"))


# Accounting dates ---------------------------------------------------------------------------------------------


def test_fees_are_posted_on_the_day_they_occur(partner):
    at = timezone.now() - timedelta(days=3)

    referral = converted(partner, at=at)

    day = timezone.localdate(at)
    assert rows(referral) == [
        ("accepted", D("25.00"), day),
        ("conversion", D("100.00"), day),
        ("conversion_percent", D("500.00"), day),
    ]
    assert not any(row.posted_late for row in referral.accruals.all())


def test_a_fee_dated_in_a_closed_month_is_posted_on_the_first_open_day_and_says_so(partner):
    today = timezone.localdate()
    closed = today.replace(day=1) - timedelta(days=1)  # the end of last month
    late_event = timezone.make_aware(datetime.combine(closed - timedelta(days=4), datetime.min.time().replace(hour=12)))
    referral = services.referral_send(lead=ConsentingLeadFactory(), partner=partner, mode="introduce", now=late_event)
    lock_through(closed)

    services.referral_accept(referral=referral, now=late_event)  # the partner's answer, reported late

    accepted = referral.accruals.get(kind="accepted")
    first_open = closed + timedelta(days=1)
    assert (accepted.posted_on, accepted.occurred_at, accepted.due_on) == (
        first_open,
        late_event,
        late_event.date() + timedelta(days=30),
    )
    assert accepted.posted_late
    assert accepted.basis == (
        f"per accepted referral (dated {late_event.date():%Y-%m-%d}, posted {first_open:%Y-%m-%d}: "
        f"the books are closed through {closed:%Y-%m-%d})"
    )
    assert not FeeAccrual.objects.filter(posted_on__lte=closed).exists()


def test_posting_day_and_late_note():
    closed = date(2026, 2, 28)

    assert services.ledger.posting_day(date(2026, 2, 10), locked_through=closed) == date(2026, 3, 1)
    assert services.ledger.posting_day(date(2026, 2, 28), locked_through=closed) == date(2026, 3, 1)
    assert services.ledger.posting_day(date(2026, 3, 2), locked_through=closed) == date(2026, 3, 2)
    assert services.ledger.posting_day(date(2026, 2, 10), locked_through=None) == date(2026, 2, 10)
    assert services.ledger.late_note(date(2026, 3, 2), date(2026, 3, 2)) == ""


def test_a_missing_lock_row_means_nothing_is_closed(partner):
    LedgerLock.objects.all().delete()

    referral = converted(partner)

    assert {row.posted_on for row in referral.accruals.all()} == {timezone.localdate()}


# Corrections --------------------------------------------------------------------------------------------------


def test_accrual_correct_appends_an_adjustment_pointing_at_the_fee(partner, finance_user):
    referral = converted(partner)
    conversion = referral.accruals.get(kind="conversion")

    row = services.accrual_correct(
        accrual=conversion, kind="adjustment", amount=D("-40.00"), reason="Agreed discount", actor=finance_user
    )

    assert (row.kind, row.amount, row.corrects, row.referral, row.currency, row.due_on, row.created_by) == (
        "adjustment",
        D("-40.00"),
        conversion,
        referral,
        "EUR",
        conversion.due_on,
        finance_user,
    )
    assert row.basis == "Adjustment: Agreed discount"
    assert services.ledger.item_net(conversion) == D("60.00")
    conversion.refresh_from_db()
    assert conversion.amount == D("100.00")  # the fee itself is never changed


def test_accrual_correct_of_a_correction_corrects_its_fee(partner):
    conversion = converted(partner).accruals.get(kind="conversion")
    first = services.accrual_correct(accrual=conversion, kind="adjustment", amount=D("10.00"), reason="Extra work")

    second = services.accrual_correct(accrual=first, kind="write_off", amount=D("-110.00"), reason="Partner closed")

    assert second.corrects == conversion
    assert services.ledger.item_net(conversion) == D("0.00")


@pytest.mark.parametrize(
    ("kind", "amount", "reason", "message"),
    [
        ("adjustment", D("-100.01"), "Too much", "That would take the fee below zero: it stands at 100.00 EUR"),
        ("write_off", D("5.00"), "Wrong sign", "A write-off takes money off: give a negative amount."),
        ("adjustment", D("0.00"), "Nothing", "An amount of zero changes nothing."),
        ("adjustment", D("5.00"), "  ", "Say why the fee is corrected."),
    ],
)
def test_accrual_correct_refuses(partner, kind, amount, reason, message):
    conversion = converted(partner).accruals.get(kind="conversion")

    with pytest.raises(LedgerError) as refused:
        services.accrual_correct(accrual=conversion, kind=kind, amount=amount, reason=reason)

    assert str(refused.value).startswith(message)
    assert conversion.corrections.count() == 0


def test_the_database_refuses_rows_that_break_the_ledger_rules(partner):
    referral = converted(partner)
    conversion = referral.accruals.get(kind="conversion")
    base = {"referral": referral, "partner": partner, "currency": "EUR", "basis": "x", "occurred_at": timezone.now(),
            "posted_on": timezone.localdate(), "due_on": timezone.localdate()}  # fmt: skip
    broken = [
        {"kind": "write_off", "amount": D("5.00"), "corrects": conversion},  # a write-off is negative
        {"kind": "adjustment", "amount": D("0.00"), "corrects": conversion},  # never zero
        {"kind": "adjustment", "amount": D("5.00")},  # a correction names its fee
        {"kind": "conversion", "amount": D("5.00")},  # one per event for billable kinds
        {"kind": "accepted", "amount": D("-5.00")},  # a fee is positive
    ]
    for fields in broken:
        with pytest.raises(IntegrityError), transaction.atomic():
            FeeAccrual.objects.create(**base, **fields)
    FeeAccrual.objects.create(**base, kind="reversal", amount=D("-100.00"), corrects=conversion)
    with pytest.raises(IntegrityError), transaction.atomic():  # one reversal per fee
        FeeAccrual.objects.create(**base, kind="reversal", amount=D("-1.00"), corrects=conversion)


def test_reversing_a_conversion_reverses_what_each_fee_stands_at(partner):
    referral = converted(partner)
    share = referral.accruals.get(kind="conversion_percent")
    services.accrual_correct(accrual=share, kind="write_off", amount=D("-200.00"), reason="Partner disputes half")

    reversed_rows = services.referral_conversion_reverse(referral=referral, reason="The customer was refunded")

    assert [(row.kind, row.amount, row.corrects.kind) for row in reversed_rows] == [
        ("reversal", D("-100.00"), "conversion"),
        ("reversal", D("-300.00"), "conversion_percent"),
    ]
    assert services.ledger.item_net(share) == D("0.00")


# A wrong deal value --------------------------------------------------------------------------------------------


def test_a_wrong_deal_value_is_corrected_by_reversing_and_reaccruing_the_share(partner, finance_user):
    referral = converted(partner, deal_value="4000")  # share 400.00
    share = referral.accruals.get(kind="conversion_percent")

    new_rows = services.referral_deal_value_correct(
        referral=referral, deal_value="2500", reason="Partner sent the wrong invoice", actor=finance_user
    )

    referral.refresh_from_db()
    assert (referral.status, referral.deal_value) == ("converted", D("2500.00"))
    assert [(row.kind, row.amount, row.corrects_id, row.created_by) for row in new_rows] == [
        ("adjustment", D("-400.00"), share.pk, finance_user),
        ("adjustment", D("250.00"), share.pk, finance_user),
    ]
    assert new_rows[1].basis == (
        "Deal value corrected from 4,000.00 EUR: 10% of 2,500.00 EUR accrued again (Partner sent the wrong invoice)"
    )
    assert services.ledger.item_net(share) == D("250.00")
    assert referral.accruals.filter(kind="reversal").count() == 0  # not marked lost, nothing reversed
    event = referral.lead.events.get(verb="deal_value_corrected")
    assert event.data == {
        "referral": referral.pk, "partner": "Lendwell", "old": "4000.00", "new": "2500.00", "currency": "EUR",
        "reason": "Partner sent the wrong invoice", "amount": "-150.00",
    }  # fmt: skip


def test_a_deal_value_correction_within_the_cap_changes_no_fee(partner):
    referral = converted(partner, deal_value="9000")  # 900 capped at 500

    new_rows = services.referral_deal_value_correct(referral=referral, deal_value="7000", reason="Typo")

    referral.refresh_from_db()
    assert (new_rows, referral.deal_value) == ([], D("7000.00"))


@pytest.mark.parametrize(
    ("deal_value", "reason", "message"),
    [
        ("8000", "Same", "The deal value is 8,000.00 EUR already."),
        ("3000", " ", "Say why the deal value is corrected."),
    ],
)
def test_a_deal_value_correction_refuses(partner, deal_value, reason, message):
    referral = converted(partner)

    with pytest.raises(ReferralError, match=message):
        services.referral_deal_value_correct(referral=referral, deal_value=deal_value, reason=reason)


def test_a_deal_value_correction_needs_a_conversion(partner):
    referral = services.referral_send(lead=ConsentingLeadFactory(), partner=partner, mode="introduce")

    with pytest.raises(ReferralError, match="Only a converted referral has a deal value to correct"):
        services.referral_deal_value_correct(referral=referral, deal_value="100", reason="Early")


def test_a_deal_value_correction_below_a_write_off_is_refused(partner):
    referral = converted(partner, deal_value="4000")
    share = referral.accruals.get(kind="conversion_percent")
    services.accrual_correct(accrual=share, kind="write_off", amount=D("-300.00"), reason="Partner will not pay")

    with pytest.raises(ReferralError, match=r"300\.00 EUR of the share of the deal was written off"):
        services.referral_deal_value_correct(referral=referral, deal_value="2000", reason="Smaller deal")

    assert share.corrections.count() == 1
