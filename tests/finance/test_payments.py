from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from finance import selectors, services
from finance.models import Allocation, AuditEntry, Payment
from finance.services import FinanceError
from tests.factories import FeeAgreementFactory
from tests.factories.finance import converted_referral, fee

pytestmark = pytest.mark.django_db


def record(partner, amount="100.00", **kwargs):
    kwargs.setdefault("currency", "EUR")
    kwargs.setdefault("received_on", timezone.localdate())
    return services.payment_record(partner=partner, amount=D(amount), **kwargs)


def open_on(accrual) -> D:
    return services.item_open(accrual)


# Recording -----------------------------------------------------------------------------------------------


def test_payment_record_stores_the_payment_and_audits_it(partner, finance_user):
    today = timezone.localdate()

    payment = record(partner, "125.50", reference="BANK-1", note="March", actor=finance_user)

    assert (payment.amount, payment.currency, payment.received_on, payment.posted_on) == (
        D("125.50"),
        "EUR",
        today,
        today,
    )
    assert (payment.reference, payment.note, payment.created_by) == ("BANK-1", "March", finance_user)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.subject_type, entry.subject_id, entry.actor, entry.partner) == (
        "payment_recorded",
        "payment",
        payment.pk,
        finance_user,
        partner,
    )
    assert entry.summary == f"125.50 EUR from Acme Lending received {today:%Y-%m-%d}, reference BANK-1"
    assert services.payment_unallocated(payment) == D("125.50")


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"amount": D("0")}, "amount", "The amount must be more than zero."),
        ({"amount": D("-5")}, "amount", "The amount must be more than zero."),
        ({"amount": D("1.005")}, "amount", "Give the amount in whole cents."),
        ({"amount": D("1e12")}, "amount", "The amount is too large."),
        ({"currency": "euro"}, "currency", "Use a three-letter currency code such as EUR."),
        ({"received_on": timezone.localdate() + timedelta(days=1)}, "received_on", "in the future"),
    ],
)
def test_payment_record_refuses_bad_input_naming_the_field(partner, kwargs, field, message):
    data = {"amount": D("10.00"), "currency": "EUR", "received_on": timezone.localdate(), **kwargs}

    with pytest.raises(FinanceError, match=message) as caught:
        services.payment_record(partner=partner, **data)

    assert list(caught.value.errors) == [field]
    assert not Payment.objects.exists()


def test_payment_record_refuses_the_same_payment_twice(partner):
    first = record(partner, reference="BANK-7")

    with pytest.raises(FinanceError, match=f"recorded already \\(payment {first.pk}"):
        record(partner, reference="BANK-7")

    assert Payment.objects.count() == 1
    assert record(partner, "99.00", reference="BANK-7").amount == D("99.00")  # another amount is another payment


# Allocating ----------------------------------------------------------------------------------------------


def test_payment_allocate_by_hand_partially_pays_a_fee(partner, finance_user):
    referral = converted_referral(partner=partner)
    conversion = fee(referral, "conversion")
    payment = record(partner, "60.00")

    rows = services.payment_allocate(payment=payment, allocations=[(conversion, D("60.00"))], actor=finance_user)

    assert [(r.accrual_id, r.amount, r.source, r.created_by) for r in rows] == [
        (conversion.pk, D("60.00"), "hand", finance_user)
    ]
    assert open_on(conversion) == D("40.00")
    assert services.payment_unallocated(payment) == D("0.00")
    entry = AuditEntry.objects.filter(action="allocated").get()
    assert entry.summary == (
        f"60.00 EUR of payment {payment.pk} (by hand) to {referral.tracking_code} Conversion (flat) 60.00"
    )


def test_payment_allocate_refuses_more_than_is_due_on_a_fee(partner):
    conversion = fee(converted_referral(partner=partner), "conversion")
    payment = record(partner, "500.00")

    with pytest.raises(FinanceError, match=r"150\.00 EUR is more than is due on fee .*: 100\.00 EUR"):
        services.payment_allocate(payment=payment, allocations=[(conversion, D("150.00"))])

    assert not Allocation.objects.exists()


def test_payment_allocate_refuses_more_than_is_left_of_the_payment(partner):
    referral = converted_referral(partner=partner)
    payment = record(partner, "110.00")

    with pytest.raises(FinanceError, match=r"125\.00 EUR is more than is left of the payment: 110\.00 EUR"):
        services.payment_allocate(
            payment=payment,
            allocations=[(fee(referral, "conversion"), D("100.00")), (fee(referral, "accepted"), D("25.00"))],
        )

    assert not Allocation.objects.exists()


def test_payment_allocate_refuses_another_partners_or_currencys_fee(partner):
    other = fee(converted_referral(), "conversion")
    gbp = FeeAgreementFactory(partner=partner, currency="GBP", valid_from=timezone.localdate() - timedelta(days=900),
                              valid_to=timezone.localdate() - timedelta(days=401))  # fmt: skip
    assert gbp.currency == "GBP"
    payment = record(partner, "100.00")

    with pytest.raises(FinanceError, match=f"Fee {other.pk} .* is not Acme Lending's in EUR"):
        services.payment_allocate(payment=payment, allocations=[(other, D("10.00"))])


def test_payment_allocate_auto_pays_oldest_due_first_and_keeps_the_rest_as_credit(partner):
    now = timezone.now()
    old = converted_referral(partner=partner, at=now - timedelta(days=50))  # 625.00 due 20 days ago... share 200
    new = converted_referral(partner=partner, at=now - timedelta(days=5))
    payment = record(partner, "400.00")

    rows = services.payment_allocate_auto(payment=payment)

    assert [(r.accrual.referral_id, r.accrual.kind, r.amount) for r in rows] == [
        (old.pk, "accepted", D("25.00")),
        (old.pk, "conversion", D("100.00")),
        (old.pk, "conversion_percent", D("200.00")),
        (new.pk, "accepted", D("25.00")),
        (new.pk, "conversion", D("50.00")),
    ]
    assert services.payment_unallocated(payment) == D("0.00")

    over = record(partner, "300.00", reference="second")
    rows = services.payment_allocate_auto(payment=over)

    assert [(r.accrual.kind, r.amount) for r in rows] == [
        ("conversion", D("50.00")),
        ("conversion_percent", D("200.00")),
    ]
    assert services.payment_unallocated(over) == D("50.00")
    assert selectors.partner_credit(partner=partner) == [("EUR", D("50.00"))]


def test_credit_is_used_by_a_later_allocation(partner):
    payment = record(partner, "40.00")
    assert services.payment_allocate_auto(payment=payment) == []  # nothing is owed yet: all credit

    referral = converted_referral(partner=partner)
    rows = services.payment_allocate_auto(payment=payment)

    assert [(r.accrual_id, r.amount) for r in rows] == [(fee(referral, "accepted").pk, D("25.00")),
                                                        (fee(referral, "conversion").pk, D("15.00"))]  # fmt: skip
    assert selectors.partner_credit(partner=partner) == []


# Bounces -------------------------------------------------------------------------------------------------


def test_payment_bounce_reverses_it_and_reopens_what_it_paid(partner, finance_user):
    referral = converted_referral(partner=partner)
    payment = record(partner, "125.00", reference="CHQ-1")
    services.payment_allocate_auto(payment=payment)
    assert open_on(fee(referral, "conversion")) == D("0.00")

    bounce = services.payment_bounce(payment=payment, reason="Cheque returned unpaid", actor=finance_user)

    assert (bounce.kind, bounce.amount, bounce.reverses, bounce.note) == (
        "bounced",
        D("-125.00"),
        payment,
        "Cheque returned unpaid",
    )
    assert open_on(fee(referral, "accepted")) == D("25.00")
    assert open_on(fee(referral, "conversion")) == D("100.00")
    given_back = list(Allocation.objects.filter(amount__lt=0).values_list("amount", "source"))
    assert given_back == [(D("-25.00"), "bounce"), (D("-100.00"), "bounce")]
    assert services.payment_unallocated(payment) == D("0.00")
    assert selectors.partner_credit(partner=partner) == []
    with pytest.raises(FinanceError, match="bounced already"):
        services.payment_bounce(payment=payment, reason="Again")
    with pytest.raises(FinanceError, match="This payment bounced; nothing of it can be allocated"):
        services.payment_allocate_auto(payment=payment)


def test_payment_bounce_needs_a_reason(partner):
    payment = record(partner)

    with pytest.raises(FinanceError, match="Say why the payment bounced"):
        services.payment_bounce(payment=payment, reason=" ")

    assert Payment.objects.count() == 1
