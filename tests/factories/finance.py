"""Finance: fees made through the real services (so the ledger is what production writes), and payments."""

from datetime import datetime, timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from partners import services as partner_services
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory


def converted_referral(*, partner=None, deal_value: str = "2000", at: datetime | None = None, **lead_fields):
    """An introduction accepted and converted at `at` (default now): fees of 25.00 accepted, 100.00 per conversion
    and 10% of the deal (capped at 500.00) in EUR, due 30 days later, unless the partner's agreement says otherwise."""
    at = at or timezone.now()
    if partner is None:
        partner = FeeAgreementFactory(valid_from=(at - timedelta(days=400)).date()).partner
    lead = ConsentingLeadFactory(**lead_fields)
    referral = partner_services.referral_send(lead=lead, partner=partner, mode="introduce", now=at)
    partner_services.referral_accept(referral=referral, now=at)
    partner_services.referral_convert(referral=referral, deal_value=deal_value, now=at)
    return referral


def fee(referral, kind: str):
    return referral.accruals.get(kind=kind)


class PaymentFactory(factory.django.DjangoModelFactory):
    """A payment row as `payment_record` writes it (use the service when the audit trail matters)."""

    class Meta:
        model = "finance.Payment"

    partner = factory.SubFactory("tests.factories.PartnerFactory")
    amount = Decimal("100.00")
    currency = "EUR"
    received_on = factory.LazyFunction(timezone.localdate)
    posted_on = factory.LazyAttribute(lambda payment: payment.received_on)
    reference = factory.Sequence(lambda n: f"BANK-{n:05d}")
