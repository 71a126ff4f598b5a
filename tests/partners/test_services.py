"""Partner services: fee agreements, sending referrals, the partner's answers and outcomes, the fee ledger,
re-offering after a decline or expiry, and the periodic expiry and reminder sweeps.

The factory agreement (EUR): 25.00 per accepted referral, 100.00 per conversion, 10% of the deal capped at
500.00, nothing per referral sent, payment in 30 days. Factory partners serve GB, grade B, with one contact
who receives introductions; ConsentingLeadFactory leads are disqualified GB leads with an 8,000 EUR budget.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.models import Evaluation, LeadEvent, LeadStatus
from outbox.models import OutboundMessage
from outbox.services import outbox_sweep
from partners import matching, services
from partners.models import FeeAccrual, FeeAgreement, FeeTier, Referral
from partners.services import ConsentError, FeeAgreementError, ReferralError
from tests.factories import (
    ConsentingLeadFactory,
    FeeAgreementFactory,
    ICPVersionFactory,
    PartnerContactFactory,
    PartnerFactory,
)

D = Decimal
FACTORY_TERMS = "25.00 EUR per accepted referral + 100.00 EUR per conversion + 10% of the deal (at most 500.00 EUR)"


@pytest.fixture(autouse=True)
def fresh_catalogue():
    matching.catalogue_reset()
    yield
    matching.catalogue_reset()


@pytest.fixture
def agreement(db):
    return FeeAgreementFactory(partner__name="Lendwell")


@pytest.fixture
def partner(agreement):
    return agreement.partner


@pytest.fixture
def lead(db):
    return ConsentingLeadFactory()


def send(lead, partner, mode="introduce", **kwargs) -> Referral:
    return services.referral_send(lead=lead, partner=partner, mode=mode, **kwargs)


def verbs(lead) -> list[str]:
    return list(lead.events.order_by("id").values_list("verb", flat=True))


def ledger(referral) -> list[tuple[str, Decimal]]:
    return list(referral.accruals.order_by("id").values_list("kind", "amount"))


def evaluated(lead, band: str):
    Evaluation.objects.create(lead=lead, version=ICPVersionFactory(), score=10, band=band, evaluated_at=timezone.now())
    lead.icp_band = band
    lead.save(update_fields=["icp_band"])
    return lead


# Fee agreements -------------------------------------------------------------------------------------------


def new_agreement(partner, **fields) -> FeeAgreement:
    values = {"currency": "EUR", "per_accepted": D("30.00"), "valid_from": timezone.localdate()}
    return FeeAgreement(partner=partner, **{**values, **fields})


def test_fee_agreement_save_refuses_an_overlapping_agreement(agreement):
    overlapping = new_agreement(agreement.partner, valid_from=timezone.localdate() + timedelta(days=10))

    with pytest.raises(FeeAgreementError) as raised:
        services.fee_agreement_save(agreement=overlapping)

    assert raised.value.errors == {
        "valid_from": ["Overlaps another agreement with this partner; end that one first (set its last day)."]
    }
    assert FeeAgreement.objects.count() == 1


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "overlaps"),
    [
        ("2026-01-31", None, True),  # starts on the old one's last day
        ("2025-12-01", "2026-01-01", True),  # ends on the old one's first day
        ("2025-12-01", "2026-03-01", True),  # around it
        ("2026-02-01", None, False),  # the day after
        ("2025-12-01", "2025-12-31", False),  # the month before
    ],
)
def test_fee_agreement_save_overlap_is_checked_day_by_day(db, valid_from, valid_to, overlaps):
    january = FeeAgreementFactory(valid_from="2026-01-01", valid_to="2026-01-31")
    other = new_agreement(january.partner, valid_from=valid_from, valid_to=valid_to)

    if overlaps:
        with pytest.raises(FeeAgreementError) as raised:
            services.fee_agreement_save(agreement=other)
        assert list(raised.value.errors) == ["valid_from"]
    else:
        services.fee_agreement_save(agreement=other)

    assert FeeAgreement.objects.count() == (1 if overlaps else 2)


def test_fee_agreement_save_after_ending_the_old_one(agreement):
    today = timezone.localdate()
    agreement.valid_to = today - timedelta(days=1)
    services.fee_agreement_save(agreement=agreement)

    successor = services.fee_agreement_save(agreement=new_agreement(agreement.partner, valid_from=today))

    assert services.fee_agreement_in_force(partner=agreement.partner, day=today) == successor
    assert services.fee_agreement_in_force(partner=agreement.partner, day=today - timedelta(days=1)) == agreement


def test_fee_agreement_save_an_agreement_does_not_overlap_itself(agreement):
    agreement.per_accepted = D("35.00")

    services.fee_agreement_save(agreement=agreement)

    agreement.refresh_from_db()
    assert agreement.per_accepted == D("35.00")


def test_fee_agreement_save_agreements_of_other_partners_do_not_overlap(agreement):
    services.fee_agreement_save(agreement=new_agreement(PartnerFactory()))

    assert FeeAgreement.objects.count() == 2


@pytest.mark.parametrize(
    ("fields", "tiers", "errors"),
    [
        (
            {"valid_from": "2026-02-01", "valid_to": "2026-01-31"},
            None,
            {"valid_to": ["The last day is before the first day."]},
        ),
        ({"percent_cap": D("500.00")}, None, {"percent_cap": ["A cap only applies with a percentage of the deal."]}),
        ({"currency": "EURO"}, None, {"currency": ["Use an ISO 4217 currency code such as EUR."]}),
        ({"currency": "E1R"}, None, {"currency": ["Use an ISO 4217 currency code such as EUR."]}),
        ({"currency": "POU"}, None, {"currency": ["Use an ISO 4217 currency code such as EUR."]}),  # not ISO 4217
        ({"currency": "XAU"}, None, {"currency": ["Use an ISO 4217 currency code such as EUR."]}),  # gold, not money
        (
            {},
            [{"min_monthly_referrals": 11}, {"min_monthly_referrals": 11, "per_accepted": D("40")}],
            {"tiers": ["Two tiers start at the same monthly volume."]},
        ),
    ],
)
def test_fee_agreement_save_refuses_bad_terms_by_field(db, fields, tiers, errors):
    agreement = new_agreement(PartnerFactory(), **fields)

    with pytest.raises(FeeAgreementError) as raised:
        services.fee_agreement_save(agreement=agreement, tiers=tiers)

    assert raised.value.errors == errors
    assert FeeAgreement.objects.count() == 0


def test_fee_agreement_save_normalises_currency_and_replaces_tiers(db, sales_user):
    agreement = services.fee_agreement_save(
        agreement=new_agreement(PartnerFactory(), currency="eur"),
        tiers=[{"min_monthly_referrals": 11, "per_accepted": D("40.00")}, {"min_monthly_referrals": 26}],
        user=sales_user,
    )

    services.fee_agreement_save(agreement=agreement, tiers=[{"min_monthly_referrals": 21}])

    agreement.refresh_from_db()
    assert (agreement.currency, agreement.created_by) == ("EUR", sales_user)
    assert list(FeeTier.objects.values_list("agreement", "min_monthly_referrals")) == [(agreement.pk, 21)]


# Sending --------------------------------------------------------------------------------------------------


def test_referral_send_introduce_records_terms_status_timeline_and_emails(partner, agreement, lead):
    second = PartnerContactFactory(partner=partner, name="Sam Second")
    PartnerContactFactory(partner=partner, name="Not Intros", receives_introductions=False)
    now = timezone.now()

    referral = send(lead, partner, note="Budget is firm.", now=now)

    lead.refresh_from_db()
    assert (referral.status, referral.mode, referral.sent_at, referral.respond_by) == (
        "sent",
        "introduce",
        now,
        now + timedelta(hours=72),
    )
    assert re.fullmatch(r"PT-[A-HJ-NP-Z2-9]{8}", referral.tracking_code)
    assert referral.fee_agreement == agreement
    assert referral.fee_terms == {
        "agreement_id": agreement.pk,
        "currency": "EUR",
        "per_referral": "0.00",
        "per_accepted": "25.00",
        "per_conversion": "100.00",
        "percent_of_deal": "10.00",
        "percent_cap": "500.00",
        "payment_terms_days": 30,
        "tier": None,
    }
    assert (referral.match["score"], referral.match["region"], referral.match["expected_fee"]) == (
        75,
        "serves GB",
        "72.50",
    )
    assert lead.status == LeadStatus.REFERRED
    assert lead.first_response_at == now  # the lead is told who will contact them: their answer
    assert verbs(lead) == ["status_changed", "referred", "message_queued", "message_queued", "message_queued"]
    assert lead.events.get(verb="referred").data == {
        "referral": referral.pk,
        "partner": "Lendwell",
        "mode": "introduce",
        "tracking_code": referral.tracking_code,
        "terms": FACTORY_TERMS,
    }
    assert ledger(referral) == []  # nothing per referral sent: no zero row
    first = partner.contacts.get(name="Pat Partner")
    messages = OutboundMessage.objects.order_by("id")
    assert [(m.idempotency_key, m.kind, m.to_email, m.referral_id, m.lead_id) for m in messages] == [
        (f"referral:{referral.pk}:introduction:{first.pk}", "partner_introduction", first.email, referral.pk, lead.pk),
        (
            f"referral:{referral.pk}:introduction:{second.pk}",
            "partner_introduction",
            second.email,
            referral.pk,
            lead.pk,
        ),
        (f"referral:{referral.pk}:introduced-note", "lead_introduced", lead.email, referral.pk, lead.pk),
    ]
    assert messages[0].subject == f"Introduction: {lead.company} ({referral.tracking_code})"
    assert lead.company in messages[0].body
    assert "Budget is firm." in messages[0].body
    assert lead.email not in messages[0].body  # contact details only on the link page, once accepted
    assert messages[2].subject == "We have put you in touch with Lendwell"
    assert referral.tracking_code in messages[2].body


def test_referral_send_queues_one_delivery_per_email_on_commit(partner, lead, django_capture_on_commit_callbacks):
    PartnerContactFactory(partner=partner)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        send(lead, partner)

    assert len(callbacks) == 3  # the partner's two contacts, and the lead's note


def test_referral_send_introduction_reaches_each_contact_once(partner, lead):
    first = partner.contacts.get()
    PartnerContactFactory(partner=partner, name="Zoe Second", email="second@partner.example")
    send(lead, partner)

    outbox_sweep(now=timezone.now())
    outbox_sweep(now=timezone.now())

    assert sorted(email.to[0] for email in mail.outbox) == sorted(
        [f"Pat Partner <{first.email}>", "Zoe Second <second@partner.example>", f"{lead.name} <{lead.email}>"]
    )


def test_referral_send_signpost_emails_the_lead_and_counts_as_first_response(partner, db):
    lead = ConsentingLeadFactory(partner_sharing_consent_at=None)  # a signpost needs no consent
    now = timezone.now()

    referral = send(lead, partner, mode="signpost", now=now)

    lead.refresh_from_db()
    assert (referral.status, referral.respond_by) == ("sent", None)
    assert lead.status == LeadStatus.REFERRED
    assert lead.first_response_at == now
    message = OutboundMessage.objects.get()
    assert (message.kind, message.to_email, message.subject, message.idempotency_key) == (
        "lead_signpost",
        lead.email,
        "Lendwell may be a better fit for you",
        f"referral:{referral.pk}:signpost",
    )
    assert referral.tracking_code in message.body
    assert "hello@partner.example" in message.body


def test_referral_send_signpost_keeps_an_earlier_first_response(partner, db):
    earlier = timezone.now() - timedelta(hours=3)
    lead = ConsentingLeadFactory(first_response_at=earlier)

    send(lead, partner, mode="signpost")

    lead.refresh_from_db()
    assert lead.first_response_at == earlier


def test_referral_send_introduce_without_consent_is_refused(partner, db):
    lead = ConsentingLeadFactory(partner_sharing_consent_at=None, partner_sharing_consent_version="")

    with pytest.raises(ConsentError, match="has not agreed to their details being shared"):
        send(lead, partner)

    lead.refresh_from_db()
    assert lead.status == LeadStatus.DISQUALIFIED
    assert Referral.objects.count() == 0
    assert OutboundMessage.objects.count() == 0
    assert LeadEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("lead_fields", "partner_fields", "mode", "message"),
    [
        ({"do_not_contact": True}, {}, "introduce", "asked not to be contacted"),
        ({"do_not_contact": True}, {}, "signpost", "asked not to be contacted"),
        ({"status": "qualified"}, {}, "introduce", "A lead that is qualified cannot be referred."),
        ({"status": "new"}, {}, "signpost", "A lead that is new cannot be referred."),
        ({"status": "closed"}, {}, "signpost", "A lead that is closed"),
        ({}, {"status": "paused"}, "introduce", "Other Ltd is paused and takes no referrals."),
        ({}, {"status": "ended"}, "signpost", "Other Ltd is ended and takes no referrals."),
        ({}, {"contact": False}, "introduce", "Other Ltd has no contact who receives introductions"),
        (
            {},
            {"website": "", "public_email": "", "public_phone": ""},
            "signpost",
            "Other Ltd has no public email, phone or website",
        ),
        ({}, {}, "email", "Unknown referral mode"),
    ],
)
def test_referral_send_refusals(db, lead_fields, partner_fields, mode, message):
    lead = ConsentingLeadFactory(**lead_fields)
    other = PartnerFactory(name="Other Ltd", **partner_fields)

    with pytest.raises(ReferralError, match=re.escape(message)):
        send(lead, other, mode=mode)

    assert Referral.objects.count() == 0
    assert OutboundMessage.objects.count() == 0


def test_referral_send_one_open_referral_per_lead_and_partner(partner, lead):
    send(lead, partner, mode="signpost")

    with pytest.raises(ReferralError, match=re.escape("This lead already has an open referral to Lendwell.")):
        send(lead, partner)

    assert Referral.objects.count() == 1


def test_referral_one_open_per_lead_and_partner_is_a_database_rule(partner, lead):
    referral = send(lead, partner)

    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.create(lead=lead, partner=partner, mode="signpost", status="accepted", tracking_code="PT-X")

    assert list(Referral.objects.values_list("pk", flat=True)) == [referral.pk]


def test_referral_send_to_another_partner_while_one_is_open(partner, lead):
    send(lead, partner)

    second = send(lead, PartnerFactory())

    assert Referral.objects.filter(lead=lead, status="sent").count() == 2
    assert second.lead_id == lead.pk


@pytest.mark.parametrize("outcome", ["declined", "expired"])
def test_referral_send_partner_that_turned_the_lead_down_is_never_offered_it_again(partner, lead, outcome):
    referral = send(lead, partner, now=timezone.now() - timedelta(hours=73))
    if outcome == "declined":
        services.referral_decline(referral=referral, reason="Not for us")
    else:
        services.referral_expire(referral=referral)
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEEDS_REVIEW  # nobody else to offer it to

    for mode in ("introduce", "signpost"):
        with pytest.raises(ReferralError, match="Lendwell turned this lead down before"):
            send(lead, partner, mode=mode)

    assert Referral.objects.count() == 1


def test_referral_send_refused_when_the_partner_is_full_this_month(db):
    full = PartnerFactory(name="Full Ltd", monthly_capacity=2)
    send(ConsentingLeadFactory(), full)
    send(ConsentingLeadFactory(), full, mode="signpost")  # signposts count too

    with pytest.raises(ReferralError, match=re.escape("Full Ltd has had its 2 referrals for this month.")):
        send(ConsentingLeadFactory(), full)

    assert Referral.objects.filter(partner=full).count() == 2


def test_referral_send_last_months_referrals_do_not_use_this_months_capacity(db):
    full = PartnerFactory(monthly_capacity=1)
    now = timezone.now()
    send(ConsentingLeadFactory(), full, now=matching.month_start(now) - timedelta(minutes=1))

    referral = send(ConsentingLeadFactory(), full, now=now)

    assert referral.status == "sent"


def test_referral_send_accrues_the_per_referral_fee(db):
    partner = FeeAgreementFactory(per_referral=D("7.50")).partner
    now = timezone.now()

    referral = send(ConsentingLeadFactory(), partner, now=now)

    accrual = referral.accruals.get()
    assert (accrual.kind, accrual.amount, accrual.currency, accrual.basis, accrual.partner_id) == (
        "sent",
        D("7.50"),
        "EUR",
        "per referral sent",
        partner.pk,
    )
    assert (accrual.occurred_at, accrual.due_on) == (now, timezone.localdate(now) + timedelta(days=30))


def test_referral_send_without_an_agreement_has_no_terms(db):
    referral = send(ConsentingLeadFactory(), PartnerFactory())

    assert (referral.fee_agreement, referral.fee_terms) == (None, {})
    assert referral.lead.events.get(verb="referred").data["terms"] == "no fee agreement in force"


def test_referral_send_eleventh_in_the_month_gets_the_tier_terms(db):
    partner = PartnerFactory(name="Volume Ltd")
    services.fee_agreement_save(
        agreement=new_agreement(
            partner,
            per_referral=D("2.00"),
            per_accepted=D("25.00"),
            valid_from=timezone.localdate() - timedelta(days=1),
        ),
        tiers=[{"min_monthly_referrals": 11, "per_referral": D("1.00"), "per_accepted": D("40.00")}],
    )
    referrals = [send(ConsentingLeadFactory(), partner) for _ in range(11)]
    tenth, eleventh = referrals[9], referrals[10]

    services.referral_accept(referral=tenth)
    services.referral_accept(referral=eleventh)

    assert (tenth.fee_terms["tier"], tenth.fee_terms["per_accepted"]) == (None, "25.00")
    assert (eleventh.fee_terms["tier"], eleventh.fee_terms["per_referral"], eleventh.fee_terms["per_accepted"]) == (
        11,
        "1.00",
        "40.00",
    )
    assert ledger(tenth) == [("sent", D("2.00")), ("accepted", D("25.00"))]
    assert ledger(eleventh) == [("sent", D("1.00")), ("accepted", D("40.00"))]
    assert eleventh.lead.events.get(verb="referred").data["terms"] == (
        "1.00 EUR per referral sent + 40.00 EUR per accepted referral; tier from 11 a month"
    )


# Answers and outcomes -------------------------------------------------------------------------------------


def test_referral_accept_accrues_by_the_snapshot(partner, lead, sales_user):
    referral = send(lead, partner)
    now = timezone.now() + timedelta(hours=5)

    accepted = services.referral_accept(referral=referral, actor=sales_user, now=now)

    assert (accepted.status, accepted.accepted_at) == ("accepted", now)
    accrual = FeeAccrual.objects.get()
    assert (accrual.kind, accrual.amount, accrual.currency, accrual.basis, accrual.created_by) == (
        "accepted",
        D("25.00"),
        "EUR",
        "per accepted referral",
        sales_user,
    )
    assert (accrual.occurred_at, accrual.due_on) == (now, timezone.localdate(now) + timedelta(days=30))
    event = lead.events.get(verb="referral_accepted")
    assert (event.actor, event.at, event.data) == (sales_user, now, {"referral": referral.pk, "partner": "Lendwell"})


def test_referral_fee_snapshot_survives_an_agreement_edit(partner, agreement, lead):
    referral = send(lead, partner)
    agreement.per_accepted = D("99.00")
    agreement.per_conversion = D("999.00")
    agreement.percent_of_deal = D("50.00")
    agreement.percent_cap = None
    services.fee_agreement_save(agreement=agreement)

    services.referral_accept(referral=referral)
    services.referral_convert(referral=referral, deal_value="8000.00")

    assert ledger(referral) == [
        ("accepted", D("25.00")),
        ("conversion", D("100.00")),
        ("conversion_percent", D("500.00")),
    ]
    later = send(ConsentingLeadFactory(), partner)
    assert (later.fee_terms["per_accepted"], later.fee_terms["percent_cap"]) == ("99.00", None)


def test_referral_convert_accrues_flat_fee_and_capped_share(partner, lead):
    referral = send(lead, partner)
    services.referral_accept(referral=referral)
    now = timezone.now()

    converted = services.referral_convert(referral=referral, deal_value="8,000", currency="eur", now=now)

    assert (converted.status, converted.converted_at, converted.deal_value, converted.deal_currency) == (
        "converted",
        now,
        D("8000.00"),
        "EUR",
    )
    rows = list(
        referral.accruals.filter(kind__startswith="conversion").order_by("id").values_list("kind", "amount", "basis")
    )
    assert rows == [
        ("conversion", D("100.00"), "per conversion"),
        ("conversion_percent", D("500.00"), "10% of 8,000.00 EUR, capped at 500.00 EUR"),
    ]
    assert lead.events.get(verb="referral_converted").data == {
        "referral": referral.pk,
        "partner": "Lendwell",
        "deal_value": "8000.00",
        "currency": "EUR",
    }


def test_referral_convert_share_below_the_cap_rounds_half_up(db):
    partner = FeeAgreementFactory(per_accepted=D("0"), per_conversion=D("0"), percent_cap=None).partner
    referral = send(ConsentingLeadFactory(), partner)
    services.referral_accept(referral=referral)

    services.referral_convert(referral=referral, deal_value=D("12345.65"))

    assert ledger(referral) == [("conversion_percent", D("1234.57"))]


def test_referral_signpost_converts_straight_from_sent(partner, lead):
    referral = send(lead, partner, mode="signpost")

    services.referral_convert(referral=referral, deal_value="1000")

    assert ledger(referral) == [("conversion", D("100.00")), ("conversion_percent", D("100.00"))]


def test_referral_signpost_is_lost_straight_from_sent(partner, lead):
    referral = send(lead, partner, mode="signpost")

    lost = services.referral_lose(referral=referral, reason="  Went elsewhere  ")

    assert (lost.status, lost.lost_reason) == ("lost", "Went elsewhere")
    assert ledger(referral) == []


def test_referral_convert_without_terms_needs_a_currency(lead):
    referral = send(lead, PartnerFactory(), mode="signpost")

    with pytest.raises(ReferralError, match=re.escape("Give the deal's currency.")):
        services.referral_convert(referral=referral, deal_value="1000")

    converted = services.referral_convert(referral=referral, deal_value="1000", currency="gbp")

    assert (converted.deal_currency, ledger(referral)) == ("GBP", [])


def test_referral_convert_refuses_another_currency_than_the_terms(partner, lead):
    referral = send(lead, partner, mode="signpost")

    with pytest.raises(ReferralError, match="Give the deal value in EUR"):
        services.referral_convert(referral=referral, deal_value="1000", currency="GBP")

    referral.refresh_from_db()
    assert referral.status == "sent"


@pytest.mark.parametrize("deal_value", ["", "abc", "0", "0.004", "-5", "1e12", "NaN"])
def test_referral_convert_refuses_a_bad_deal_value(partner, lead, deal_value):
    referral = send(lead, partner, mode="signpost")

    with pytest.raises(ReferralError):
        services.referral_convert(referral=referral, deal_value=deal_value)

    referral.refresh_from_db()
    assert (referral.status, ledger(referral)) == ("sent", [])


@pytest.mark.parametrize(
    "action", ["referral_decline", "referral_lose", "referral_conversion_reverse"], ids=["decline", "lose", "reverse"]
)
def test_referral_steps_that_need_a_reason_refuse_a_blank_one(partner, lead, action):
    referral = send(lead, partner)

    with pytest.raises(ReferralError, match="Say why"):
        getattr(services, action)(referral=referral, reason="   ")

    referral.refresh_from_db()
    assert referral.status == "sent"


def test_referral_conversion_reverse_adds_negative_rows_linked_to_the_originals(partner, lead):
    referral = send(lead, partner)
    services.referral_accept(referral=referral)
    services.referral_convert(referral=referral, deal_value="8000")
    flat, share = referral.accruals.filter(kind__startswith="conversion").order_by("id")
    now = timezone.now()

    rows = services.referral_conversion_reverse(referral=referral, reason="Refunded", now=now)

    referral.refresh_from_db()
    assert (referral.status, referral.lost_at, referral.lost_reason) == ("lost", now, "Reversed: Refunded")
    assert [(r.kind, r.amount, r.corrects_id, r.currency, r.due_on) for r in rows] == [
        ("reversal", D("-100.00"), flat.pk, "EUR", flat.due_on),
        ("reversal", D("-500.00"), share.pk, "EUR", share.due_on),
    ]
    assert rows[0].basis == "Reverses “Conversion (flat)”: Refunded"
    assert ledger(referral) == [
        ("accepted", D("25.00")),
        ("conversion", D("100.00")),
        ("conversion_percent", D("500.00")),
        ("reversal", D("-100.00")),
        ("reversal", D("-500.00")),
    ]
    assert sum(referral.accruals.values_list("amount", flat=True)) == D("25.00")
    assert lead.events.get(verb="conversion_reversed").data == {
        "referral": referral.pk,
        "partner": "Lendwell",
        "reason": "Refunded",
        "amount": "-600.00",
    }
    with pytest.raises(ReferralError, match="cannot be reversed: it was already lost"):
        services.referral_conversion_reverse(referral=referral, reason="Again")
    assert referral.accruals.count() == 5


# Illegal transitions --------------------------------------------------------------------------------------

ACTIONS = {
    "accept": lambda r: services.referral_accept(referral=r),
    "decline": lambda r: services.referral_decline(referral=r, reason="Not for us"),
    "convert": lambda r: services.referral_convert(referral=r, deal_value="1000", currency="EUR"),
    "lose": lambda r: services.referral_lose(referral=r, reason="Went elsewhere"),
    "reverse": lambda r: services.referral_conversion_reverse(referral=r, reason="Refunded"),
}
LEGAL = {
    ("sent", "accept"),
    ("sent", "decline"),
    ("accepted", "convert"),
    ("accepted", "lose"),
    ("converted", "reverse"),
}
STATES = ["sent", "accepted", "declined", "expired", "converted", "lost"]
ILLEGAL = [(state, action) for state in STATES for action in ACTIONS if (state, action) not in LEGAL]


def introduction_in(state: str, *, lead, partner) -> Referral:
    """An introduction brought to `state` through the services."""
    referral = send(lead, partner)
    if state in ("accepted", "converted", "lost"):
        services.referral_accept(referral=referral)
    if state == "declined":
        services.referral_decline(referral=referral, reason="Not for us")
    elif state == "expired":
        services.referral_expire(referral=referral, now=timezone.now() + timedelta(hours=73))
    elif state == "converted":
        services.referral_convert(referral=referral, deal_value="1000")
    elif state == "lost":
        services.referral_lose(referral=referral, reason="Went elsewhere")
    referral.refresh_from_db()
    assert referral.status == state
    return referral


@pytest.mark.parametrize(("state", "action"), ILLEGAL, ids=[f"{s}-{a}" for s, a in ILLEGAL])
def test_referral_illegal_transition_is_refused_and_changes_nothing(partner, lead, state, action):
    referral = introduction_in(state, lead=lead, partner=partner)
    counts = (FeeAccrual.objects.count(), LeadEvent.objects.count(), OutboundMessage.objects.count())

    with pytest.raises(ReferralError, match="This referral cannot be"):
        ACTIONS[action](referral)

    referral.refresh_from_db()
    assert referral.status == state
    assert (FeeAccrual.objects.count(), LeadEvent.objects.count(), OutboundMessage.objects.count()) == counts


@pytest.mark.parametrize("action", ["accept", "decline"])
def test_referral_signpost_cannot_be_accepted_or_declined(partner, lead, action):
    referral = send(lead, partner, mode="signpost")
    counts = (FeeAccrual.objects.count(), LeadEvent.objects.count(), Referral.objects.count())

    with pytest.raises(ReferralError, match="A signpost is not"):
        ACTIONS[action](referral)

    referral.refresh_from_db()
    assert referral.status == "sent"
    assert (FeeAccrual.objects.count(), LeadEvent.objects.count(), Referral.objects.count()) == counts
    services.referral_convert(referral=referral, deal_value="1000")  # it converts (or is lost) instead


def test_referral_accept_after_the_window_is_refused(partner, lead):
    sent_at = timezone.now()
    referral = send(lead, partner, now=sent_at)

    with pytest.raises(ReferralError, match="The time to accept this introduction ended"):
        services.referral_accept(referral=referral, now=sent_at + timedelta(hours=73))

    referral.refresh_from_db()
    assert (referral.status, ledger(referral)) == ("sent", [])


@pytest.mark.parametrize("state", ["accepted", "declined", "converted"])
def test_referral_expire_leaves_an_answered_referral_alone(partner, lead, state):
    referral = introduction_in(state, lead=lead, partner=partner)

    assert services.referral_expire(referral=referral) is None

    referral.refresh_from_db()
    assert (referral.status, referral.expired_at) == (state, None)


# Decline and expiry: re-offer or back to triage -----------------------------------------------------------


def test_referral_decline_reoffers_to_the_next_best_partner(partner, lead):
    best = PartnerFactory(name="Best Ltd", grade="A")
    PartnerFactory(name="Okay Ltd", grade="C")
    referral = send(lead, partner)
    now = timezone.now()

    services.referral_decline(referral=referral, reason="Too small for us", now=now)

    referral.refresh_from_db()
    lead.refresh_from_db()
    assert (referral.status, referral.declined_at, referral.decline_reason) == ("declined", now, "Too small for us")
    reoffer = Referral.objects.exclude(pk=referral.pk).get()
    assert (reoffer.partner, reoffer.mode, reoffer.status, reoffer.sent_at) == (best, "introduce", "sent", now)
    assert reoffer.note == "Re-offered after Lendwell declined."
    assert lead.status == LeadStatus.REFERRED
    assert verbs(lead)[-4:] == ["referral_declined", "referred", "message_queued", "message_queued"]
    assert lead.events.get(verb="referral_declined").data == {
        "referral": referral.pk,
        "partner": "Lendwell",
        "reason": "Too small for us",
    }
    assert lead.events.filter(verb="referred").last().actor_label == "system:re-offer"
    assert OutboundMessage.objects.filter(referral=reoffer, kind="partner_introduction").count() == 1
    assert OutboundMessage.objects.get(referral=reoffer, kind="lead_introduced").to_email == lead.email


def test_referral_decline_reoffer_skips_a_partner_that_refuses_it(partner, lead):
    PartnerFactory(name="Best Ltd", grade="A", contact=False)  # suggested, but nobody to introduce to
    fallback = PartnerFactory(name="Okay Ltd", grade="C")
    referral = send(lead, partner)

    services.referral_decline(referral=referral, reason="No")

    assert Referral.objects.exclude(pk=referral.pk).get().partner == fallback


def test_referral_declined_partner_is_never_offered_the_lead_again(partner, lead):
    other = PartnerFactory(name="Other Ltd")
    first = send(lead, partner)
    services.referral_decline(referral=first, reason="No")
    second = Referral.objects.get(partner=other)

    services.referral_decline(referral=second, reason="No either")

    lead.refresh_from_db()
    assert list(Referral.objects.order_by("id").values_list("partner__name", "status")) == [
        ("Lendwell", "declined"),
        ("Other Ltd", "declined"),
    ]
    assert lead.status == LeadStatus.NEEDS_REVIEW
    assert matching.matches_for_lead(lead).excluded == {"turned it down before": 2}


@pytest.mark.parametrize(("band", "back_to"), [("disqualified", "disqualified"), ("needs_review", "needs_review")])
def test_referral_decline_with_no_other_partner_returns_the_lead_to_triage(partner, lead, band, back_to):
    evaluated(lead, band)
    referral = send(lead, partner)
    events_before = len(verbs(lead))

    services.referral_decline(referral=referral, reason="No")

    lead.refresh_from_db()
    assert lead.status == back_to
    assert verbs(lead)[events_before:] == ["referral_declined", "status_changed", "returned_to_triage"]
    assert lead.events.filter(verb="status_changed").last().data == {
        "from": "referred",
        "to": back_to,
        "why": "No other partner to offer it to after Lendwell declined.",
    }
    assert lead.events.get(verb="returned_to_triage").data == {"referral": referral.pk, "partner": "Lendwell"}
    assert Referral.objects.count() == 1


def test_referral_decline_without_an_evaluation_returns_the_lead_for_review(partner, lead):
    referral = send(lead, partner)

    services.referral_decline(referral=referral, reason="No")

    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEEDS_REVIEW


def test_referral_decline_without_auto_reoffer_returns_the_lead_to_triage(partner, lead, settings):
    settings.REFERRAL_AUTO_REOFFER = False
    PartnerFactory(name="Other Ltd")
    referral = send(lead, partner)

    services.referral_decline(referral=referral, reason="No")

    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEEDS_REVIEW
    assert Referral.objects.count() == 1
    assert verbs(lead)[-1] == "returned_to_triage"


def test_referral_decline_with_another_open_referral_changes_nothing_else(partner, lead):
    other = PartnerFactory(name="Other Ltd")
    PartnerFactory(name="Third Ltd")
    referral = send(lead, partner)
    send(lead, other)

    services.referral_decline(referral=referral, reason="No")

    lead.refresh_from_db()
    assert lead.status == LeadStatus.REFERRED
    assert Referral.objects.count() == 2
    assert verbs(lead)[-1] == "referral_declined"


def test_referral_decline_after_another_partner_converted_the_lead_changes_nothing_else(partner, lead):
    other = PartnerFactory(name="Other Ltd")
    PartnerFactory(name="Third Ltd")
    winner = send(lead, partner)
    slow = send(lead, other)
    services.referral_accept(referral=winner)
    services.referral_convert(referral=winner, deal_value="1000")

    services.referral_decline(referral=slow, reason="No")

    lead.refresh_from_db()
    assert lead.status == LeadStatus.REFERRED  # a customer of Lendwell now: not back to triage
    assert list(Referral.objects.order_by("id").values_list("partner__name", "status")) == [
        ("Lendwell", "converted"),
        ("Other Ltd", "declined"),
    ]
    assert verbs(lead)[-1] == "referral_declined"


def test_referrals_expire_due_only_expires_past_windows(partner, lead):
    sent_at = timezone.now()
    introduction = send(lead, partner, now=sent_at)
    signpost = send(ConsentingLeadFactory(), partner, mode="signpost", now=sent_at)

    assert services.referrals_expire_due(now=sent_at + timedelta(hours=71)) == 0
    introduction.refresh_from_db()
    assert introduction.status == "sent"

    later = sent_at + timedelta(hours=73)
    assert services.referrals_expire_due(now=later) == 1

    introduction.refresh_from_db()
    signpost.refresh_from_db()
    lead.refresh_from_db()
    assert (introduction.status, introduction.expired_at) == ("expired", later)
    assert signpost.status == "sent"  # nobody accepts a signpost, so it never expires
    event = lead.events.get(verb="referral_expired")
    assert (event.actor_label, event.at) == ("system", later)
    assert lead.status == LeadStatus.NEEDS_REVIEW
    assert lead.events.filter(verb="status_changed").last().data["why"] == (
        "No other partner to offer it to after Lendwell expired."
    )
    assert services.referrals_expire_due(now=later + timedelta(hours=1)) == 0


def test_referrals_expire_due_reoffers_to_the_next_partner(partner, lead):
    other = PartnerFactory(name="Other Ltd")
    sent_at = timezone.now()
    send(lead, partner, now=sent_at)
    later = sent_at + timedelta(hours=73)

    assert services.referrals_expire_due(now=later) == 1

    reoffer = Referral.objects.get(partner=other)
    assert (reoffer.status, reoffer.sent_at, reoffer.respond_by) == ("sent", later, later + timedelta(hours=72))
    assert reoffer.note == "Re-offered after Lendwell expired."
    assert services.referrals_expire_due(now=later + timedelta(hours=1)) == 0


# Reminders ------------------------------------------------------------------------------------------------


def test_referrals_remind_due_reminds_once_within_the_last_day(partner, lead):
    first = partner.contacts.get()
    second = PartnerContactFactory(partner=partner, name="Zoe Second")
    sent_at = timezone.now()
    referral = send(lead, partner, now=sent_at)
    send(ConsentingLeadFactory(), partner, mode="signpost", now=sent_at)

    assert services.referrals_remind_due(now=sent_at + timedelta(hours=47)) == 0
    assert services.referrals_remind_due(now=sent_at + timedelta(hours=49)) == 1
    assert services.referrals_remind_due(now=sent_at + timedelta(hours=50)) == 0

    referral.refresh_from_db()
    assert referral.reminded_at == sent_at + timedelta(hours=49)
    reminders = OutboundMessage.objects.filter(kind="partner_reminder").order_by("id")
    assert [(m.to_email, m.idempotency_key, m.referral_id) for m in reminders] == [
        (first.email, f"referral:{referral.pk}:reminder:{first.pk}", referral.pk),
        (second.email, f"referral:{referral.pk}:reminder:{second.pk}", referral.pk),
    ]
    assert reminders[0].subject == f"Reminder: please answer introduction {referral.tracking_code}"


def test_referrals_remind_due_skips_answered_and_past_windows(partner, lead):
    sent_at = timezone.now()
    answered = send(lead, partner, now=sent_at)
    services.referral_accept(referral=answered)
    late = send(ConsentingLeadFactory(), partner, now=sent_at - timedelta(hours=30))

    assert services.referrals_remind_due(now=sent_at + timedelta(hours=49)) == 0

    late.refresh_from_db()
    assert late.reminded_at is None
    assert OutboundMessage.objects.filter(kind="partner_reminder").count() == 0
