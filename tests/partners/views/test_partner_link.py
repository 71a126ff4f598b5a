"""The partner's answer page: a signed link, no account; what it shows and allows follows mode and status."""

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core import signing
from django.test import Client
from django.urls import resolve, reverse

from partners import links
from partners.links import referral_from_token, referral_token
from partners.models import FeeAccrual, Partner, Referral
from partners.services import referral_accept, referral_convert, referral_decline, referral_expire, referral_send
from tests.conftest import make_user
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory, LeadFactory

NOV_3 = datetime(2026, 11, 3, 10, 30, tzinfo=UTC)
LEAD = {
    "name": "Nadia Okafor",
    "company": "Okafor Bakery Ltd",
    "email": "nadia@okafor-bakery.example",
    "phone": "+44 20 7946 0123",
}


@pytest.fixture
def introduction(db):
    lead = ConsentingLeadFactory(
        **LEAD,
        title="Owner",
        country="GB",
        product_interest="Equipment loan",
        timeline="Next quarter",
        message="We need two new ovens.",
    )
    partner = FeeAgreementFactory().partner
    return referral_send(lead=lead, partner=partner, mode="introduce", note="Friendly, in a hurry.")


@pytest.fixture
def accepted(introduction):
    return referral_accept(referral=introduction, actor_label="test")


@pytest.fixture
def signpost(db):
    lead = LeadFactory(status="disqualified", **LEAD)
    return referral_send(lead=lead, partner=FeeAgreementFactory().partner, mode="signpost")


def url(referral) -> str:
    return reverse("partner_link", args=[referral_token(referral)])


def forms_in(html: str) -> int:
    return html.count("<form")


def refreshed(referral) -> Referral:
    return Referral.objects.get(pk=referral.pk)


def accruals(referral) -> dict[str, Decimal]:
    return dict(FeeAccrual.objects.filter(referral=referral).values_list("kind", "amount"))


# What each mode and status shows ------------------------------------------------------------------------


def test_partner_link_introduction_before_accept_shows_summary_without_contact_details(client, introduction):
    response = client.get(url(introduction))

    assert response.status_code == 200
    html = response.text
    for shown in (
        introduction.tracking_code,
        "Nadia Okafor",
        "Okafor Bakery Ltd",
        "Owner",
        '<dd class="col-sm-8">GB</dd>',
        "Equipment loan",
        "Next quarter",
        "8000.00 EUR",
        "We need two new ovens.",
        "Friendly, in a hurry.",
        f"{introduction.respond_by:%-d %b %Y, %H:%M}",
        "Accept this introduction",
        "Decline this introduction",
    ):
        assert shown in html, shown
    assert LEAD["email"] not in html
    assert LEAD["phone"] not in html
    assert "They became a customer" not in html
    assert forms_in(html) == 2


def test_partner_link_decline_offers_common_reasons_and_free_text(client, introduction):
    html = client.get(url(introduction)).text

    assert '<option value="Outside the area we serve">' in html
    assert '<textarea class="form-control" name="details" id="decline-details"' in html


def test_partner_link_introduction_after_accept_shows_contact_details_and_outcome_forms(client, accepted):
    response = client.get(url(accepted))

    html = response.text
    assert response.status_code == 200
    assert f"You accepted this introduction on {accepted.accepted_at:%-d %b %Y}" in html
    assert f'<a href="mailto:{LEAD["email"]}">' in html
    assert LEAD["phone"] in html
    assert "They became a customer" in html
    assert 'name="currency" id="convert-currency" value="EUR"' in html
    assert "Record as lost" in html
    assert "Accept this introduction" not in html
    assert forms_in(html) == 2


def test_partner_link_signpost_shows_nothing_about_the_lead(client, signpost):
    response = client.get(url(signpost))

    html = response.text
    assert response.status_code == 200
    assert signpost.tracking_code in html
    assert "We signposted a customer to" in html
    for secret in LEAD.values():
        assert secret not in html, secret
    assert "They became a customer" in html
    assert "Record as lost" in html
    assert "Accept this introduction" not in html
    assert forms_in(html) == 2


def test_partner_link_needs_no_login_and_shows_no_internal_navigation(client, introduction, db):
    staff = make_user("Admin")
    client.force_login(staff)  # one of us opening the link sees the partner's page, not our dashboard

    response = client.get(url(introduction))

    assert response.status_code == 200
    assert 'aria-label="Main"' not in response.text
    assert reverse("leads:list") not in response.text
    assert "Log out" not in response.text


def test_partner_link_anonymous_is_not_sent_to_login(client, introduction):
    response = client.get(url(introduction))

    assert response.status_code == 200
    assert "Log in" not in response.text


def test_partner_link_headers_keep_the_link_private(client, introduction):
    response = client.get(url(introduction))

    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert '<meta name="robots" content="noindex, nofollow">' in response.text


def test_partner_link_error_and_redirect_responses_are_private_too(client, introduction):
    not_found = client.get(reverse("partner_link", args=["nonsense"]))
    redirect = client.post(url(introduction), {"action": "accept"})

    for response in (not_found, redirect):
        assert "no-store" in response["Cache-Control"]
        assert response["Referrer-Policy"] == "same-origin"


# Answering ----------------------------------------------------------------------------------------------


def test_partner_link_accept(client, introduction):
    response = client.post(url(introduction), {"action": "accept"})

    assert response.status_code == 303
    # Back to the same referral's page (the link is signed again, so its timestamp may differ by a second).
    back = resolve(response["Location"])
    assert back.url_name == "partner_link"
    assert referral_from_token(back.kwargs["token"]).pk == introduction.pk
    referral = refreshed(introduction)
    assert referral.status == "accepted"
    assert referral.accepted_at is not None
    assert accruals(referral) == {"accepted": Decimal("25.00")}
    assert referral.lead.events.filter(verb="referral_accepted", actor_label=f"partner:{referral.partner.slug}")
    page = client.get(response["Location"]).text
    assert "You accepted this introduction on" in page
    assert LEAD["email"] in page


def test_partner_link_decline_with_a_common_reason_and_details(client, introduction):
    response = client.post(
        url(introduction), {"action": "decline", "reason": "Outside the area we serve", "details": "Only Scotland."}
    )

    assert response.status_code == 303
    referral = refreshed(introduction)
    assert referral.status == "declined"
    assert referral.decline_reason == "Outside the area we serve — Only Scotland."
    page = client.get(url(introduction)).text
    assert f"You declined this introduction on {referral.declined_at:%-d %b %Y}" in page
    assert forms_in(page) == 0


def test_partner_link_decline_in_own_words(client, introduction):
    response = client.post(url(introduction), {"action": "decline", "reason": "", "details": "We are closing."})

    assert response.status_code == 303
    assert refreshed(introduction).decline_reason == "We are closing."


def test_partner_link_decline_without_reason_is_refused(client, introduction):
    response = client.post(url(introduction), {"action": "decline", "reason": "", "details": "  "})

    assert response.status_code == 422
    assert "Say why the referral is declined." in response.text
    assert refreshed(introduction).status == "sent"
    assert "Decline this introduction" in response.text  # the form is still there


def test_partner_link_decline_with_unknown_reason_is_refused(client, introduction):
    response = client.post(url(introduction), {"action": "decline", "reason": "Because", "details": ""})

    assert response.status_code == 422
    assert "Reason: Select a valid choice." in response.text
    assert refreshed(introduction).status == "sent"


def test_partner_link_convert_records_deal_and_fees(client, accepted):
    response = client.post(url(accepted), {"action": "convert", "deal_value": "12,000", "currency": "eur"})

    assert response.status_code == 303
    referral = refreshed(accepted)
    assert referral.status == "converted"
    assert referral.deal_value == Decimal("12000.00")
    assert referral.deal_currency == "EUR"
    assert accruals(referral) == {
        "accepted": Decimal("25.00"),
        "conversion": Decimal("100.00"),
        "conversion_percent": Decimal("500.00"),
    }
    page = client.get(url(accepted)).text
    assert f"Recorded as a customer on {referral.converted_at:%-d %b %Y} (deal value 12,000.00 EUR). Thank you!" in page
    assert forms_in(page) == 0


def test_partner_link_convert_bad_deal_value_names_the_field_and_keeps_input(client, accepted):
    response = client.post(url(accepted), {"action": "convert", "deal_value": "twelve grand", "currency": "EUR"})

    assert response.status_code == 422
    assert "Deal value: &#x27;twelve grand&#x27; is not an amount: it has no digits." in response.text
    assert 'value="twelve grand"' in response.text
    assert 'class="form-control is-invalid"' in response.text
    assert refreshed(accepted).status == "accepted"
    assert accruals(accepted) == {"accepted": Decimal("25.00")}


@pytest.mark.parametrize(
    ("separator", "typed", "stored"),
    [
        (",", "12.500,50", Decimal("12500.50")),
        (",", "€ 12.500,50", Decimal("12500.50")),
        (",", "1,5", Decimal("1.50")),
        (".", "12,500.50", Decimal("12500.50")),
        (".", "EUR 12,000", Decimal("12000.00")),
    ],
)
def test_partner_link_convert_reads_the_deal_value_as_the_partner_writes_it(client, accepted, separator, typed, stored):
    Partner.objects.filter(pk=accepted.partner_id).update(decimal_separator=separator)

    response = client.post(url(accepted), {"action": "convert", "deal_value": typed, "currency": "EUR"})

    assert response.status_code == 303
    assert refreshed(accepted).deal_value == stored


@pytest.mark.parametrize(
    ("separator", "typed", "message"),
    [
        (
            ".",
            "1,5",
            "Deal value: &#x27;1,5&#x27; is not an amount with &#x27;.&#x27; as the decimal mark: &#x27;,&#x27; "
            "separates thousands in groups of three digits (like 1,500). With &#x27;,&#x27; as the decimal mark it "
            "would read 1.50; check the convention.",
        ),
        (
            ".",
            "12.500,50",
            "With &#x27;,&#x27; as the decimal mark it would read 12500.50; check the convention.",
        ),
        (",", "12,345", "which has 3 decimals; EUR amounts have at most 2 decimals."),
        (",", "£12", "Deal value: &#x27;£12&#x27; is in GBP, but this amount is in EUR."),
    ],
)
def test_partner_link_convert_refuses_what_does_not_fit_the_convention(client, accepted, separator, typed, message):
    Partner.objects.filter(pk=accepted.partner_id).update(decimal_separator=separator)

    response = client.post(url(accepted), {"action": "convert", "deal_value": typed, "currency": "EUR"})

    assert response.status_code == 422
    assert message in response.text
    assert f'value="{typed}"' in response.text
    assert refreshed(accepted).status == "accepted"
    assert accruals(accepted) == {"accepted": Decimal("25.00")}


def test_partner_link_shows_the_convention_next_to_the_deal_value(client, accepted):
    Partner.objects.filter(pk=accepted.partner_id).update(decimal_separator=",")

    html = client.get(url(accepted)).text

    assert 'inputmode="decimal"' in html
    assert 'placeholder="0,00"' in html
    assert '<div class="form-text" id="convert-convention" data-testid="deal-convention">' in html
    assert "Written with a decimal comma, like 12.500,50.</div>" in html


def test_partner_link_convert_in_another_currency_is_refused(client, accepted):
    response = client.post(url(accepted), {"action": "convert", "deal_value": "12000", "currency": "GBP"})

    assert response.status_code == 422
    assert "Give the deal value in EUR, the currency of the fee agreement." in response.text
    assert 'value="GBP"' in response.text
    assert refreshed(accepted).status == "accepted"


def test_partner_link_convert_before_accepting_is_refused(client, introduction):
    response = client.post(url(introduction), {"action": "convert", "deal_value": "12000", "currency": "EUR"})

    assert response.status_code == 422
    assert "This referral cannot be marked as converted" in response.text
    assert refreshed(introduction).status == "sent"


def test_partner_link_lose(client, accepted):
    response = client.post(url(accepted), {"action": "lose", "reason": "They chose a bank."})

    assert response.status_code == 303
    referral = refreshed(accepted)
    assert referral.status == "lost"
    assert referral.lost_reason == "They chose a bank."
    page = client.get(url(accepted)).text
    assert f"Recorded as lost on {referral.lost_at:%-d %b %Y} (reason: They chose a bank.)" in page
    assert forms_in(page) == 0


def test_partner_link_lose_without_reason_is_refused(client, accepted):
    response = client.post(url(accepted), {"action": "lose", "reason": ""})

    assert response.status_code == 422
    assert "Say why the customer was lost." in response.text
    assert refreshed(accepted).status == "accepted"


def test_partner_link_signpost_converts_straight_from_sent(client, signpost):
    response = client.post(url(signpost), {"action": "convert", "deal_value": "2000", "currency": "EUR"})

    assert response.status_code == 303
    referral = refreshed(signpost)
    assert referral.status == "converted"
    assert accruals(referral) == {"conversion": Decimal("100.00"), "conversion_percent": Decimal("200.00")}


@pytest.mark.parametrize("action", ["accept", "decline"])
def test_partner_link_signpost_cannot_be_accepted_or_declined(client, signpost, action):
    response = client.post(url(signpost), {"action": action, "reason": "Too small for us"})

    assert response.status_code == 422
    assert "A signposted customer is not accepted or declined" in response.text
    assert refreshed(signpost).status == "sent"


def test_partner_link_unknown_action_is_refused(client, introduction):
    response = client.post(url(introduction), {"action": "delete"})

    assert response.status_code == 422
    assert refreshed(introduction).status == "sent"


# A used link --------------------------------------------------------------------------------------------


def test_partner_link_declined_link_says_what_happened_and_offers_nothing(client, introduction):
    referral_decline(referral=introduction, reason="No capacity at the moment", actor_label="test", now=NOV_3)

    html = client.get(url(introduction)).text

    assert "You declined this introduction on 3 Nov 2026 (reason: No capacity at the moment)." in html
    assert "This link has been used" in html
    assert forms_in(html) == 0
    assert LEAD["email"] not in html
    assert "Nadia Okafor" not in html


def test_partner_link_reused_after_decline_refuses_a_second_answer(client, introduction):
    referral_decline(referral=introduction, reason="No capacity at the moment", actor_label="test", now=NOV_3)

    response = client.post(url(introduction), {"action": "accept"})

    assert response.status_code == 422
    assert "This referral cannot be accepted: it was already declined on 3 Nov 2026." in response.text
    assert "This link has been used" in response.text
    assert forms_in(response.text) == 0
    assert refreshed(introduction).status == "declined"


def test_partner_link_expired_introduction(client, introduction):
    at = introduction.respond_by + timedelta(minutes=1)
    referral_expire(referral=introduction, now=at)

    html = client.get(url(introduction)).text

    assert f"This introduction expired on {at:%-d %b %Y}" in html
    assert "This link has been used" in html
    assert forms_in(html) == 0
    assert LEAD["email"] not in html


def test_partner_link_converted_link_thanks_and_offers_nothing(client, accepted):
    referral_convert(referral=accepted, deal_value="12000", actor_label="test", now=NOV_3)

    html = client.get(url(accepted)).text

    assert "Recorded as a customer on 3 Nov 2026 (deal value 12,000.00 EUR). Thank you!" in html
    assert "This link has been used" in html
    assert forms_in(html) == 0


def test_partner_link_double_submit_converts_once(client, accepted):
    data = {"action": "convert", "deal_value": "12000", "currency": "EUR"}
    client.post(url(accepted), data)

    response = client.post(url(accepted), data)

    assert response.status_code == 422
    assert "it was already converted on" in response.text
    assert FeeAccrual.objects.filter(referral=accepted, kind="conversion").count() == 1


# The link itself ----------------------------------------------------------------------------------------


def test_partner_link_expired_link_is_gone_and_shows_nothing(client, introduction, settings):
    link = url(introduction)
    later = time.time() + (settings.REFERRAL_LINK_MAX_AGE_DAYS + 1) * 86400

    with mock.patch("django.core.signing.time.time", return_value=later):
        response = client.get(link)

    assert response.status_code == 410
    assert "This link has expired." in response.text
    assert introduction.tracking_code not in response.text
    assert "Nadia Okafor" not in response.text
    assert forms_in(response.text) == 0


def test_partner_link_max_age_comes_from_settings(client, introduction, settings):
    link = url(introduction)
    settings.REFERRAL_LINK_MAX_AGE_DAYS = 7

    with mock.patch("django.core.signing.time.time", return_value=time.time() + 8 * 86400):
        response = client.get(link)

    assert response.status_code == 410


def test_partner_link_garbage_token_is_404(client, db):
    response = client.get(reverse("partner_link", args=["not-a-token"]))

    assert response.status_code == 404
    assert "This link is not valid." in response.text
    assert forms_in(response.text) == 0


def _with_payload(token: str, payload: dict) -> str:
    """The same signature on a different payload, as someone editing the link would try."""
    _, signature = token.split(":", 1)
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{body}:{signature}"


def test_partner_link_changed_id_in_the_token_is_refused(client, introduction, signpost):
    token = _with_payload(referral_token(introduction), {"r": signpost.pk, "k": introduction.link_key})

    get = client.get(reverse("partner_link", args=[token]))
    post = client.post(reverse("partner_link", args=[token]), {"action": "convert", "deal_value": "9", "currency": ""})

    assert get.status_code == post.status_code == 404
    assert signpost.tracking_code not in get.text + post.text
    assert refreshed(signpost).status == "sent"
    assert refreshed(introduction).status == "sent"


@pytest.mark.parametrize("swap", ["other id, own key", "own id, other key"])
def test_partner_link_signed_with_another_referrals_key_is_refused(client, introduction, signpost, swap):
    # Even correctly signed (as if our secret leaked), an id opens nothing without its own referral's key.
    payload = (
        {"r": signpost.pk, "k": introduction.link_key}
        if swap == "other id, own key"
        else {"r": introduction.pk, "k": signpost.link_key}
    )
    forged = signing.dumps(payload, salt=links.SALT, compress=False)

    get = client.get(reverse("partner_link", args=[forged]))
    post = client.post(reverse("partner_link", args=[forged]), {"action": "lose", "reason": "x"})

    assert get.status_code == post.status_code == 404
    assert signpost.tracking_code not in get.text
    assert introduction.tracking_code not in get.text
    assert refreshed(signpost).status == "sent"
    assert refreshed(introduction).status == "sent"


def test_partner_link_without_key_is_refused(client, introduction):
    forged = signing.dumps({"r": introduction.pk}, salt=links.SALT, compress=False)

    response = client.post(reverse("partner_link", args=[forged]), {"action": "accept"})

    assert response.status_code == 404
    assert refreshed(introduction).status == "sent"


@pytest.mark.parametrize("method", ["put", "patch", "delete", "head"])
def test_partner_link_wrong_method(client, introduction, method):
    response = getattr(client, method)(url(introduction))

    assert response.status_code == 405
    assert refreshed(introduction).status == "sent"


def test_partner_link_post_needs_csrf_token(introduction):
    client = Client(enforce_csrf_checks=True)

    response = client.post(url(introduction), {"action": "accept"})

    assert response.status_code == 403
    assert refreshed(introduction).status == "sent"


def test_partner_link_form_carries_csrf_token(introduction):
    client = Client(enforce_csrf_checks=True)
    page = client.get(url(introduction))
    token = page.context["csrf_token"]

    response = client.post(url(introduction), {"action": "accept", "csrfmiddlewaretoken": str(token)})

    assert 'name="csrfmiddlewaretoken"' in page.text
    assert response.status_code == 303
    assert refreshed(introduction).status == "accepted"
