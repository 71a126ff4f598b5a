from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import LeadStatus
from outbox.models import OutboundMessage
from partners import services
from partners.models import FeeAccrual, Partner, Referral
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory, LeadFactory, PartnerFactory


def accruals(referral) -> list[tuple[str, Decimal]]:
    return list(referral.accruals.order_by("id").values_list("kind", "amount"))


# List ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_referral_list_shows_referrals_with_lead_links_for_sales_ops(sales_client, introduction):
    response = sales_client.get(reverse("partners:referral_list"))

    assert response.status_code == 200
    assert "<nav" in response.text
    assert introduction.tracking_code in response.text
    assert reverse("partners:referral", args=[introduction.pk]) in response.text
    assert (
        f'<a href="{reverse("leads:detail", args=[introduction.lead_id])}">Ada Lovelace</a> · Analytical Engines'
        in (response.text)
    )
    assert "Acme Lending" in response.text
    assert "Introduce" in response.text


@pytest.mark.django_db
def test_referral_list_does_not_link_leads_for_finance(finance_client, introduction):
    response = finance_client.get(reverse("partners:referral_list"))

    assert "Ada Lovelace · Analytical Engines" in response.text
    assert reverse("leads:detail", args=[introduction.lead_id]) not in response.text


@pytest.fixture
def three_referrals(agreement):
    introduction = services.referral_send(
        lead=ConsentingLeadFactory(name="Ada"), partner=agreement.partner, mode="introduce"
    )
    services.referral_accept(referral=introduction)
    signpost = services.referral_send(
        lead=ConsentingLeadFactory(name="Bob"), partner=agreement.partner, mode="signpost"
    )
    old = services.referral_send(
        lead=ConsentingLeadFactory(name="Cleo"),
        partner=FeeAgreementFactory(partner__name="Bolt Gym").partner,
        mode="signpost",
        now=timezone.now() - timedelta(days=40),
    )
    return introduction, signpost, old


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "shown"),
    [
        ({"status": "accepted"}, {"Ada"}),
        ({"mode": "signpost"}, {"Bob", "Cleo"}),
        ({"q": "cle"}, {"Cleo"}),
        ({"sent_to": (timezone.localdate() - timedelta(days=30)).isoformat()}, {"Cleo"}),
        ({"sent_from": (timezone.localdate() - timedelta(days=1)).isoformat()}, {"Ada", "Bob"}),
    ],
)
def test_referral_list_filters(sales_client, three_referrals, params, shown):
    response = sales_client.get(reverse("partners:referral_list"), params)

    assert {row.record.lead.name for row in response.context["table"].page.object_list} == shown


@pytest.mark.django_db
def test_referral_list_filters_by_partner(sales_client, three_referrals):
    partner = three_referrals[2].partner

    response = sales_client.get(reverse("partners:referral_list"), {"partner": partner.pk})

    assert [row.record.lead.name for row in response.context["table"].page.object_list] == ["Cleo"]


@pytest.mark.django_db
def test_referral_list_htmx_table_request_returns_only_the_table(sales_client, htmx_headers, introduction):
    response = sales_client.get(reverse("partners:referral_list"), headers=htmx_headers("referral-table-region"))

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="referral-table-region"')
    assert introduction.tracking_code in response.text
    assert '<nav class="navbar' not in response.text


@pytest.mark.django_db
def test_referral_list_refuses_post(sales_client):
    assert sales_client.post(reverse("partners:referral_list")).status_code == 405


@pytest.mark.django_db
def test_referral_list_refuses_a_user_without_a_role(client_for):
    assert client_for("none").get(reverse("partners:referral_list")).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [1, 5])
def test_referral_list_query_count_does_not_grow_with_rows(sales_client, django_assert_num_queries, rows):
    for _ in range(rows):
        services.referral_send(lead=ConsentingLeadFactory(), partner=FeeAgreementFactory().partner, mode="signpost")
    sales_client.get(reverse("partners:referral_list"))  # warm the session/permission caches

    # session, user, 2× permissions, roles, partner choices (count + rows), referral count,
    # referral page (lead and partner joined)
    with django_assert_num_queries(9):
        sales_client.get(reverse("partners:referral_list"))


# Detail --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_referral_detail_shows_terms_explanation_and_outbox(sales_client, introduction):
    response = sales_client.get(reverse("partners:referral", args=[introduction.pk]))

    assert response.status_code == 200
    text = response.text
    assert introduction.tracking_code in text
    assert "25.00 EUR per accepted referral + 100.00 EUR per conversion + 10% of the deal (at most 500.00 EUR)" in text
    explanation = response.context["explanation"]
    assert f'<dt class="col-sm-4">Score</dt><dd class="col-sm-8">{explanation["score"]}</dd>' in text
    assert "serves GB" in text
    assert f"{explanation['expected_fee']} EUR" in text
    assert "partner_introduction" in text
    assert introduction.messages.get(kind="partner_introduction").subject in text
    assert introduction.messages.get(kind="lead_introduced").subject in text
    assert "They accepted" in text
    assert "They declined" in text
    assert "They won the customer" not in text  # not before the partner accepted
    assert "Fees</h2>" not in text  # Sales Ops does not see the fee ledger


@pytest.mark.django_db
def test_referral_detail_shows_fee_accruals_to_finance(finance_client, introduction):
    services.referral_accept(referral=introduction)
    services.referral_convert(referral=introduction, deal_value="2000")

    response = finance_client.get(reverse("partners:referral", args=[introduction.pk]))

    assert accruals(introduction) == [
        ("accepted", Decimal("25.00")),
        ("conversion", Decimal("100.00")),
        ("conversion_percent", Decimal("200.00")),
    ]
    assert "Fees</h2>" in response.text
    assert "10% of 2,000.00 EUR" in response.text
    assert response.context["accrual_totals"] == [("EUR", Decimal("325.00"))]
    assert '<td class="text-end" data-testid="fee-total">325.00</td>' in response.text
    assert "Reverse the conversion" in response.text
    assert "They accepted" not in response.text  # Finance records no outcomes
    assert reverse("leads:detail", args=[introduction.lead_id]) not in response.text


@pytest.mark.django_db
def test_referral_detail_is_read_only_for_managers(manager_client, introduction):
    response = manager_client.get(reverse("partners:referral", args=[introduction.pk]))

    assert response.status_code == 200
    assert "Record what happened" not in response.text
    assert "Fees</h2>" in response.text  # managers read the ledger


@pytest.mark.django_db
def test_referral_detail_of_a_signpost_offers_converted_or_lost(sales_client, signpost):
    response = sales_client.get(reverse("partners:referral", args=[signpost.pk]))

    assert response.context["actions"] == ("convert", "lose")
    assert "They accepted" not in response.text
    assert "They won the customer" in response.text


@pytest.mark.django_db
def test_referral_detail_of_missing_referral_is_404(sales_client):
    assert sales_client.get(reverse("partners:referral", args=[999999])).status_code == 404


@pytest.mark.django_db
def test_referral_detail_refuses_post(sales_client, introduction):
    assert sales_client.post(reverse("partners:referral", args=[introduction.pk])).status_code == 405


@pytest.mark.django_db
def test_referral_detail_refuses_a_user_without_a_role(client_for, introduction):
    assert client_for("none").get(reverse("partners:referral", args=[introduction.pk])).status_code == 403


# Outcomes ------------------------------------------------------------------------------------------------


def outcome(client, referral, **data):
    return client.post(reverse("partners:referral_outcome", args=[referral.pk]), data)


@pytest.mark.django_db
def test_outcome_accept(sales_client, sales_user, introduction):
    response = outcome(sales_client, introduction, action="accept")

    assert response.status_code == 302
    assert response["Location"] == reverse("partners:referral", args=[introduction.pk])
    introduction.refresh_from_db()
    assert introduction.status == "accepted"
    assert accruals(introduction) == [("accepted", Decimal("25.00"))]
    assert introduction.accruals.get().created_by == sales_user
    page = sales_client.get(response["Location"])
    assert f"Recorded: Acme Lending accepted {introduction.tracking_code}." in page.text


@pytest.mark.django_db
def test_outcome_decline_needs_a_reason(sales_client, introduction):
    response = outcome(sales_client, introduction, action="decline", reason="  ")

    assert response.status_code == 422
    assert response.context["error"] == "Say why the referral is declined."
    assert (
        '<div class="alert alert-danger" role="alert" data-testid="error">Say why the referral is declined.</div>'
        in (response.text)
    )
    introduction.refresh_from_db()
    assert introduction.status == "sent"


@pytest.mark.django_db
def test_outcome_decline(sales_client, introduction):
    response = outcome(sales_client, introduction, action="decline", reason="Outside our area")

    assert response.status_code == 302
    introduction.refresh_from_db()
    assert (introduction.status, introduction.decline_reason) == ("declined", "Outside our area")
    assert not FeeAccrual.objects.exists()


@pytest.mark.django_db
def test_outcome_convert_accrues_by_the_snapshot(sales_client, introduction):
    services.referral_accept(referral=introduction)

    response = outcome(sales_client, introduction, action="convert", deal_value="12,000", currency="eur")

    assert response.status_code == 302
    introduction.refresh_from_db()
    assert (introduction.status, introduction.deal_value, introduction.deal_currency) == (
        "converted",
        Decimal("12000.00"),
        "EUR",
    )
    assert accruals(introduction) == [
        ("accepted", Decimal("25.00")),
        ("conversion", Decimal("100.00")),
        ("conversion_percent", Decimal("500.00")),  # 10% of 12,000 capped at 500
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("separator", "typed", "stored"),
    [(",", "12.500,50", Decimal("12500.50")), (",", "1,5", Decimal("1.50")), (".", "12,500.50", Decimal("12500.50"))],
)
def test_outcome_convert_reads_the_deal_value_in_the_partners_convention(
    sales_client, introduction, separator, typed, stored
):
    Partner.objects.filter(pk=introduction.partner_id).update(decimal_separator=separator)
    services.referral_accept(referral=introduction)

    response = outcome(sales_client, introduction, action="convert", deal_value=typed, currency="EUR")

    assert response.status_code == 302
    introduction.refresh_from_db()
    assert introduction.deal_value == stored
    assert introduction.accruals.get(kind="conversion_percent").amount == min(
        (stored / 10).quantize(Decimal("0.01")), Decimal("500.00")
    )


@pytest.mark.django_db
def test_referral_page_shows_the_partners_convention_next_to_the_deal_value(sales_client, introduction):
    Partner.objects.filter(pk=introduction.partner_id).update(decimal_separator=",")
    services.referral_accept(referral=introduction)

    response = sales_client.get(reverse("partners:referral", args=[introduction.pk]))

    assert 'inputmode="decimal"' in response.text
    assert 'placeholder="0,00"' in response.text
    assert (
        '<div class="form-text" id="deal-convention" data-testid="deal-convention">'
        "As Acme Lending writes amounts: decimal comma: 1.234,56.</div>"
    ) in response.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("deal_value", "currency", "message"),
    [
        ("lots", "EUR", "Deal value: 'lots' is not an amount: it has no digits."),
        ("", "EUR", "Deal value: Give the deal value, like 12,500.50."),
        ("500", "GBP", "Give the deal value in EUR, the currency of the fee agreement."),
        ("€500", "GBP", "Deal value: '€500' is in EUR, but this amount is in GBP."),
        ("1,5", "EUR", "Deal value: '1,5' is not an amount with '.' as the decimal mark"),  # never stored as 15
        ("12.500,50", "EUR", "With ',' as the decimal mark it would read 12500.50; check the convention."),
        (
            "500",
            "pounds",
            "Currency: 'pounds' is not an ISO 4217 currency code: use its three letters (GBP for pounds?).",
        ),
    ],
)
def test_outcome_convert_bad_input_is_422(sales_client, introduction, deal_value, currency, message):
    services.referral_accept(referral=introduction)

    response = outcome(sales_client, introduction, action="convert", deal_value=deal_value, currency=currency)

    assert response.status_code == 422
    assert message in response.context["error"]
    assert f'value="{deal_value}"' in response.text  # what they typed is kept
    introduction.refresh_from_db()
    assert introduction.status == "accepted"
    assert accruals(introduction) == [("accepted", Decimal("25.00"))]


@pytest.mark.django_db
def test_outcome_signpost_converts_from_sent(sales_client, signpost):
    response = outcome(sales_client, signpost, action="convert", deal_value="1000")

    assert response.status_code == 302
    signpost.refresh_from_db()
    assert signpost.status == "converted"
    assert accruals(signpost) == [("conversion", Decimal("100.00")), ("conversion_percent", Decimal("100.00"))]


@pytest.mark.django_db
def test_outcome_lose(sales_client, signpost):
    response = outcome(sales_client, signpost, action="lose", reason="Went elsewhere")

    assert response.status_code == 302
    signpost.refresh_from_db()
    assert (signpost.status, signpost.lost_reason) == ("lost", "Went elsewhere")


@pytest.mark.django_db
def test_outcome_accepting_a_signpost_is_refused(sales_client, signpost):
    response = outcome(sales_client, signpost, action="accept")

    assert response.status_code == 422
    assert "A signpost is not accepted" in response.context["error"]
    signpost.refresh_from_db()
    assert signpost.status == "sent"


@pytest.mark.django_db
def test_outcome_twice_says_why(sales_client, introduction):
    outcome(sales_client, introduction, action="accept")

    response = outcome(sales_client, introduction, action="accept")

    assert response.status_code == 422
    assert response.context["error"].startswith("This referral cannot be accepted: it was already accepted on")
    assert accruals(introduction) == [("accepted", Decimal("25.00"))]


@pytest.mark.django_db
def test_outcome_unknown_action_is_422(sales_client, introduction):
    response = outcome(sales_client, introduction, action="delete")

    assert response.status_code == 422
    assert "Select a valid choice" in response.context["error"]


@pytest.mark.django_db
def test_outcome_htmx_redirects_the_whole_page(sales_client, htmx_headers, introduction):
    response = sales_client.post(
        reverse("partners:referral_outcome", args=[introduction.pk]),
        {"action": "accept"},
        headers=htmx_headers("main"),
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("partners:referral", args=[introduction.pk])


@pytest.mark.django_db
def test_outcome_refuses_finance(finance_client, introduction):
    assert outcome(finance_client, introduction, action="accept").status_code == 403
    introduction.refresh_from_db()
    assert introduction.status == "sent"


@pytest.mark.django_db
def test_outcome_for_missing_referral_is_404(sales_client):
    assert (
        sales_client.post(reverse("partners:referral_outcome", args=[999999]), {"action": "accept"}).status_code == 404
    )


@pytest.mark.django_db
def test_outcome_refuses_get(sales_client, introduction):
    assert sales_client.get(reverse("partners:referral_outcome", args=[introduction.pk])).status_code == 405


# Reversing a conversion ----------------------------------------------------------------------------------


@pytest.fixture
def converted(introduction):
    services.referral_accept(referral=introduction)
    return services.referral_convert(referral=introduction, deal_value="2000")


REVERSE = {"reason": "Refunded in full after cancelling", "confirm": "on"}


def reverse_post(client, referral, data):
    return client.post(reverse("partners:referral_reverse", args=[referral.pk]), data)


@pytest.mark.django_db
def test_reverse_adds_negative_rows(finance_client, finance_user, converted):
    response = reverse_post(finance_client, converted, REVERSE)

    assert response.status_code == 302
    converted.refresh_from_db()
    assert (converted.status, converted.lost_reason) == ("lost", "Reversed: Refunded in full after cancelling")
    assert accruals(converted) == [
        ("accepted", Decimal("25.00")),
        ("conversion", Decimal("100.00")),
        ("conversion_percent", Decimal("200.00")),
        ("reversal", Decimal("-100.00")),
        ("reversal", Decimal("-200.00")),
    ]
    assert set(converted.accruals.filter(kind="reversal").values_list("created_by", flat=True)) == {finance_user.pk}
    page = finance_client.get(response["Location"])
    assert f"Conversion of {converted.tracking_code} reversed (-100.00 EUR, -200.00 EUR)." in page.text


CONFIRM = "I understand this cannot be undone: Tick “I understand this cannot be undone” to confirm."
FEW_WORDS = (
    "Why the conversion did not stand: Give the reason in a few words (at least 3), such as "
    "“The customer cancelled and was refunded”."
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, f"{CONFIRM} Why the conversion did not stand: This field is required."),
        ({"reason": "", "confirm": "on"}, "Why the conversion did not stand: This field is required."),
        ({"reason": "Refunded in full after cancelling"}, CONFIRM),
        ({"reason": "Refunded", "confirm": "on"}, FEW_WORDS),
        ({"reason": "x y z 1 2 3", "confirm": "on"}, FEW_WORDS),
    ],
    ids=["nothing", "no-reason", "not-confirmed", "one-word", "not-words"],
)
def test_reverse_needs_a_confirmation_and_a_reason(finance_client, converted, data, error):
    response = reverse_post(finance_client, converted, data)

    assert response.status_code == 422
    assert response.context["error"] == error
    converted.refresh_from_db()
    assert converted.status == "converted"
    assert not converted.accruals.filter(kind="reversal").exists()


@pytest.mark.django_db
def test_reverse_keeps_the_reason_on_the_timeline_and_the_ledger(finance_client, converted):
    reverse_post(finance_client, converted, REVERSE)

    event = converted.lead.events.get(verb="conversion_reversed")
    assert event.data["reason"] == "Refunded in full after cancelling"
    assert {row.basis for row in converted.accruals.filter(kind="reversal")} == {
        "Reverses “Conversion (flat)”: Refunded in full after cancelling",
        "Reverses “Conversion (share of deal)”: Refunded in full after cancelling",
    }


@pytest.mark.django_db
def test_referral_page_lists_what_reversing_does_and_asks_for_confirmation(finance_client, converted):
    response = finance_client.get(reverse("partners:referral", args=[converted.pk]))

    assert "This cannot be undone:" in response.text
    assert "each conversion fee gets a negative ledger row" in response.text
    assert (
        '<input class="form-check-input" type="checkbox" name="confirm" value="on" id="reverse-confirm" required>'
        in (response.text)
    )


@pytest.mark.django_db
def test_reverse_of_an_unconverted_referral_is_422(finance_client, introduction):
    response = reverse_post(finance_client, introduction, REVERSE)

    assert response.status_code == 422
    assert response.context["error"] == "This referral cannot be reversed: it has not converted."


@pytest.mark.django_db
def test_reverse_refuses_sales_ops(sales_client, converted):
    response = reverse_post(sales_client, converted, REVERSE)

    assert response.status_code == 403
    converted.refresh_from_db()
    assert converted.status == "converted"


@pytest.mark.django_db
def test_reverse_of_missing_referral_is_404(finance_client):
    assert finance_client.post(reverse("partners:referral_reverse", args=[999999]), REVERSE).status_code == 404


@pytest.mark.django_db
def test_reverse_refuses_get(finance_client, converted):
    assert finance_client.get(reverse("partners:referral_reverse", args=[converted.pk])).status_code == 405


# Referring from the lead page ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_lead_detail_has_the_refer_card_for_sales_ops(sales_client, agreement):
    lead = LeadFactory(status="disqualified")

    response = sales_client.get(reverse("leads:detail", args=[lead.pk]))

    url = reverse("partners:lead_matches", args=[lead.pk])
    assert "Refer to a partner" in response.text
    assert f'hx-get="{url}" hx-trigger="load"' in response.text
    assert f'<a href="{url}">' in response.text  # without JavaScript


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "status"), [("Manager", "disqualified"), ("Sales Ops", "qualified")])
def test_lead_detail_has_no_refer_card(client_for, role, status):
    lead = LeadFactory(status=status)

    response = client_for(role).get(reverse("leads:detail", args=[lead.pk]))

    assert response.status_code == 200
    assert "Refer to a partner" not in response.text


@pytest.mark.django_db
def test_lead_matches_htmx_returns_only_the_fragment(sales_client, htmx_headers, agreement):
    lead = LeadFactory(status="disqualified", country="GB")
    PartnerFactory(name="Paused Partner", status="paused")

    response = sales_client.get(
        reverse("partners:lead_matches", args=[lead.pk]), headers=htmx_headers("partner-matches")
    )

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="partner-matches"')
    assert '<nav class="navbar' not in response.text
    assert [m.partner.name for m in response.context["matches"]] == ["Acme Lending"]
    assert "1 partner left out: 1 paused or ended." in response.text
    assert "25.00 EUR per accepted referral" in response.text
    assert "no partner-sharing consent: introducing will be refused" in response.text
    assert 'value="introduce"' in response.text
    assert 'value="signpost"' in response.text


@pytest.mark.django_db
def test_lead_matches_full_page_lists_matches_and_referrals(sales_client, introduction):
    PartnerFactory(name="Bolt Lending")

    response = sales_client.get(reverse("partners:lead_matches", args=[introduction.lead_id]))

    assert response.status_code == 200
    assert '<nav class="navbar' in response.text
    assert [m.partner.name for m in response.context["matches"]] == ["Bolt Lending"]
    assert "1 partner left out: 1 already referred." in response.text
    assert introduction.tracking_code in response.text  # the lead's referrals so far
    assert "no partner-sharing consent" not in response.text


@pytest.mark.django_db
def test_lead_matches_for_a_lead_that_cannot_be_referred(sales_client, agreement):
    lead = LeadFactory(status="qualified")

    response = sales_client.get(reverse("partners:lead_matches", args=[lead.pk]))

    assert "A lead that is qualified cannot be referred." in response.text
    assert response.context["matches"] == []


@pytest.mark.django_db
def test_lead_matches_refuses_finance(finance_client):
    lead = LeadFactory(status="disqualified")

    assert finance_client.get(reverse("partners:lead_matches", args=[lead.pk])).status_code == 403


@pytest.mark.django_db
def test_lead_matches_of_missing_lead_is_404(sales_client):
    assert sales_client.get(reverse("partners:lead_matches", args=[999999])).status_code == 404


@pytest.mark.django_db
def test_lead_matches_refuses_post(sales_client):
    lead = LeadFactory(status="disqualified")

    assert sales_client.post(reverse("partners:lead_matches", args=[lead.pk])).status_code == 405


def send(client, lead, partner, mode, **extra):
    return client.post(
        reverse("partners:referral_send", args=[lead.pk]), {"partner": partner.pk, "mode": mode, "note": ""}, **extra
    )


@pytest.mark.django_db
def test_referral_send_signpost(sales_client, sales_user, agreement):
    lead = LeadFactory(status="disqualified", email="no-consent@example.com")

    response = send(sales_client, lead, agreement.partner, "signpost")

    referral = Referral.objects.get(lead=lead)
    assert response.status_code == 302
    assert response["Location"] == reverse("leads:detail", args=[lead.pk])
    assert (referral.mode, referral.status, referral.created_by) == ("signpost", "sent", sales_user)
    assert OutboundMessage.objects.get(referral=referral).to_email == "no-consent@example.com"
    lead.refresh_from_db()
    assert lead.status == LeadStatus.REFERRED
    page = sales_client.get(response["Location"])
    assert f"signposted to Acme Lending; tracking code {referral.tracking_code}." in page.text


@pytest.mark.django_db
def test_referral_send_introduce(sales_client, agreement):
    lead = ConsentingLeadFactory()

    response = send(sales_client, lead, agreement.partner, "introduce")

    assert response.status_code == 302
    referral = Referral.objects.get(lead=lead)
    assert referral.mode == "introduce"
    assert sorted(OutboundMessage.objects.filter(referral=referral).values_list("kind", "to_email")) == [
        ("lead_introduced", lead.email),  # the lead page's introduction tells the lead too
        ("partner_introduction", agreement.partner.contacts.get().email),
    ]


@pytest.mark.django_db
def test_referral_send_introduce_without_consent_is_refused(sales_client, agreement):
    lead = LeadFactory(status="disqualified")

    response = send(sales_client, lead, agreement.partner, "introduce")

    assert response.status_code == 422
    assert response.context["error"].startswith(
        "This lead has not agreed to their details being shared with partners, so they cannot be introduced."
    )
    assert "This lead has not agreed to their details being shared with partners" in response.text
    assert '<nav class="navbar' in response.text  # the whole page: a plain form post
    assert not Referral.objects.exists()
    assert not OutboundMessage.objects.exists()


@pytest.mark.django_db
def test_referral_send_htmx_redirects_the_whole_page(sales_client, htmx_headers, agreement):
    lead = LeadFactory(status="disqualified")

    response = send(sales_client, lead, agreement.partner, "signpost", headers=htmx_headers("partner-matches"))

    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("leads:detail", args=[lead.pk])


@pytest.mark.django_db
def test_referral_send_htmx_refusal_returns_the_fragment(sales_client, htmx_headers, agreement):
    lead = LeadFactory(status="disqualified")

    response = send(sales_client, lead, agreement.partner, "introduce", headers=htmx_headers("partner-matches"))

    assert response.status_code == 422
    assert response.text.lstrip().startswith('<div id="partner-matches"')
    assert "cannot be introduced" in response.text


@pytest.mark.django_db
def test_referral_send_unknown_partner_is_422(sales_client):
    lead = LeadFactory(status="disqualified")

    response = sales_client.post(
        reverse("partners:referral_send", args=[lead.pk]), {"partner": 999999, "mode": "signpost"}
    )

    assert response.status_code == 422
    assert response.context["error"].startswith("Partner: Select a valid choice.")
    assert not Referral.objects.exists()


@pytest.mark.django_db
def test_referral_send_to_a_paused_partner_is_refused(sales_client):
    partner = PartnerFactory(name="Sleepy", status="paused")
    lead = LeadFactory(status="disqualified")

    response = send(sales_client, lead, partner, "signpost")

    assert response.status_code == 422
    assert response.context["error"] == "Sleepy is paused and takes no referrals."


@pytest.mark.django_db
def test_referral_send_refuses_managers(manager_client, agreement):
    lead = LeadFactory(status="disqualified")

    assert send(manager_client, lead, agreement.partner, "signpost").status_code == 403
    assert not Referral.objects.exists()


@pytest.mark.django_db
def test_referral_send_for_missing_lead_is_404(sales_client, agreement):
    response = sales_client.post(
        reverse("partners:referral_send", args=[999999]), {"partner": agreement.partner.pk, "mode": "signpost"}
    )

    assert response.status_code == 404


@pytest.mark.django_db
def test_referral_send_refuses_get(sales_client):
    lead = LeadFactory(status="disqualified")

    assert sales_client.get(reverse("partners:referral_send", args=[lead.pk])).status_code == 405
