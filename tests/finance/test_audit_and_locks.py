"""The audit trail of money (fee agreements from the partners pages, corrections, locks) and closing months,
with what a closed month does to later entries from every door (partners' accruals, corrections, payments)."""

from datetime import date, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from finance import services
from finance.models import Allocation, AuditEntry
from finance.services import FinanceError
from partners import services as partner_services
from partners.models import FeeAgreement, FeeTier, LedgerLock
from tests.factories.finance import converted_referral, fee

pytestmark = pytest.mark.django_db


def last_month_end() -> date:
    return timezone.localdate().replace(day=1) - timedelta(days=1)


# Fee agreements ---------------------------------------------------------------------------------------------------


def test_agreement_changes_are_audited_with_old_and_new_values(partner, finance_user):
    agreement = FeeAgreement.objects.get(partner=partner)
    agreement.per_accepted = D("30.00")
    agreement.notes = "Renegotiated"

    partner_services.fee_agreement_save(
        agreement=agreement, tiers=[{"min_monthly_referrals": 5, "per_accepted": D("35.00")}], user=finance_user
    )

    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.partner, entry.subject_type, entry.subject_id) == (
        "agreement_changed",
        finance_user,
        partner,
        "agreement",
        agreement.pk,
    )
    assert entry.changes == {
        "per_accepted": ["25.00", "30.00"],
        "notes": ["", "Renegotiated"],
        "tiers": ["", "from 5: per_accepted 35.00"],
    }
    assert entry.summary == (
        f"Fee agreement {agreement.pk} with Acme Lending changed: per accepted referral 25.00 → 30.00; "
        "notes — → Renegotiated; tiers — → from 5: per_accepted 35.00"
    )


def test_agreement_created_and_ended_through_the_page_are_audited(finance_client, finance_user, partner):
    current = FeeAgreement.objects.get(partner=partner)
    end = timezone.localdate()
    form = {"currency": "EUR", "per_referral": "0", "per_accepted": "25", "per_conversion": "100",
            "percent_of_deal": "10", "percent_cap": "500", "payment_terms_days": "30",
            "valid_from": current.valid_from.isoformat(), "valid_to": end.isoformat(), "notes": "",
            "tiers-TOTAL_FORMS": "0", "tiers-INITIAL_FORMS": "0"}  # fmt: skip

    response = finance_client.post(reverse("partners:agreement_edit", args=[current.pk]), form)

    assert response.status_code == 302
    ended = AuditEntry.objects.get(action="agreement_ended")
    assert ended.changes == {"valid_to": [None, end.isoformat()]}
    assert ended.actor == finance_user

    new = {**form, "valid_from": (end + timedelta(days=1)).isoformat(), "valid_to": "", "per_accepted": "40"}
    finance_client.post(reverse("partners:agreement_create", args=[partner.pk]), new)

    created = AuditEntry.objects.get(action="agreement_created")
    assert created.subject_id == FeeAgreement.objects.latest("valid_from").pk
    assert created.changes["per_accepted"] == [None, "40.00"]
    assert not FeeTier.objects.exists()


def test_saving_an_unchanged_agreement_records_nothing(partner):
    partner_services.fee_agreement_save(agreement=FeeAgreement.objects.get(partner=partner))

    assert not AuditEntry.objects.exists()


# Corrections give back what was paid beyond the fee ----------------------------------------------------------------


def test_lowering_a_paid_fee_gives_the_excess_back_as_credit(partner, finance_user):
    referral = converted_referral(partner=partner, deal_value="1000")
    share = fee(referral, "conversion_percent")  # 100.00
    payment = services.payment_record(partner=partner, amount=D("225.00"), currency="EUR",
                                      received_on=timezone.localdate())  # fmt: skip
    services.payment_allocate_auto(payment=payment)

    services.accrual_adjust(accrual=share, amount=D("-40.00"), reason="Agreed discount", actor=finance_user)

    given_back = Allocation.objects.get(amount__lt=0)
    assert (given_back.amount, given_back.accrual, given_back.source, given_back.created_by) == (
        D("-40.00"),
        share,
        "correction",
        finance_user,
    )
    assert services.item_open(share) == D("0.00")
    assert services.payment_unallocated(payment) == D("40.00")
    assert set(AuditEntry.objects.values_list("action", flat=True)) == {
        "payment_recorded",
        "allocated",
        "correction",
        "given_back",
    }


def test_a_reversed_conversion_that_was_paid_becomes_credit(partner):
    referral = converted_referral(partner=partner, deal_value="1000")
    payment = services.payment_record(partner=partner, amount=D("225.00"), currency="EUR",
                                      received_on=timezone.localdate())  # fmt: skip
    services.payment_allocate_auto(payment=payment)

    partner_services.referral_conversion_reverse(referral=referral, reason="The customer got a refund")

    assert services.payment_unallocated(payment) == D("200.00")  # the accepted fee (25.00) still stands
    assert services.item_open(fee(referral, "conversion")) == D("0.00")


# Closing months ----------------------------------------------------------------------------------------------------


def test_period_lock_closes_through_the_months_last_day_and_only_forward(finance_user):
    end = last_month_end()

    lock = services.period_lock(month=end.replace(day=5), actor=finance_user)

    assert (lock.locked_through, lock.changed_by) == (end, finance_user)
    with pytest.raises(FinanceError, match="a lock only moves forward"):
        services.period_lock(month=end)
    with pytest.raises(FinanceError, match="has not ended yet"):
        services.period_lock(month=timezone.localdate())


def test_period_lock_works_when_the_lock_row_is_missing():
    LedgerLock.objects.all().delete()

    assert services.period_lock(month=last_month_end()).locked_through == last_month_end()


def test_entries_dated_in_a_closed_month_go_to_the_first_open_day(partner):
    end = last_month_end()
    first_open = end + timedelta(days=1)
    in_closed_month = timezone.make_aware(datetime.combine(end - timedelta(days=2), datetime.min.time()))
    referral = converted_referral(partner=partner, deal_value="1000", at=in_closed_month)
    services.period_lock(month=end)
    before = sorted(referral.accruals.values_list("id", "amount", "posted_on"))

    payment = services.payment_record(partner=partner, amount=D("10.00"), currency="EUR", received_on=end)
    bounce = services.payment_bounce(payment=payment, reason="Returned", bounced_on=end)
    correction = services.accrual_write_off(accrual=fee(referral, "accepted"), reason="Goodwill", now=in_closed_month)
    late = partner_services.referral_deal_value_correct(
        referral=referral, deal_value="500", reason="Invoice said 500", now=in_closed_month
    )

    assert {payment.posted_on, bounce.posted_on, correction.posted_on} | {row.posted_on for row in late} == {first_open}
    assert all(row.posted_late for row in [payment, correction, *late])
    assert correction.basis.startswith("Write-off: Goodwill (dated ")
    assert f"posted {first_open:%Y-%m-%d}" in correction.basis
    assert sorted(referral.accruals.filter(posted_on__lte=end).values_list("id", "amount", "posted_on")) == before
    assert AuditEntry.objects.get(action="payment_recorded").summary.endswith(
        f"(dated {end:%Y-%m-%d}, posted {first_open:%Y-%m-%d}: the books are closed through {end:%Y-%m-%d})"
    )


def test_the_partner_page_links_its_agreements_history_for_finance_and_managers(client, partner, user_for):
    for role, shown in (("Finance", True), ("Manager", True), ("Sales Ops", False)):
        client.force_login(user_for(role))
        response = client.get(reverse("partners:detail", args=[partner.pk]))
        assert (f'href="/finance/audit/?partner={partner.pk}"' in response.text) is shown, role
