"""Matching: `rank()` is pure (cards and lead values in, ranked matches out); `matches_for_lead()` feeds it from
the database through the cached catalogue.

Scores of a default card (active, grade B, serves GB, any reason, no history, no criteria) for a GB lead:
region 30 * 1.0 + reason 25 * 1.0 + acceptance 20 * 2/4 + conversion 15 * 1/5 + grade 10 * 0.7 = 75.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from leads import engine
from leads.models import DisqualificationReason
from partners import matching, services
from partners.fees import Terms, Tier
from partners.matching import PartnerCard, rank
from partners.models import PartnerCriterion
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory, PartnerFactory

D = Decimal
LONDON = (D("51.500000"), D("-0.120000"))


@pytest.fixture(autouse=True)
def fresh_catalogue():
    matching.catalogue_reset()
    yield
    matching.catalogue_reset()


def card(id: int = 1, name: str = "Alpha", **overrides) -> PartnerCard:
    values = {
        "kind": "lender",
        "status": "active",
        "grade": "B",
        "countries": frozenset({"GB"}),
        "point": None,
        "reason_codes": frozenset(),
        "rule_set": None,
        "monthly_capacity": None,
        "terms": None,
        "sent": 0,
        "accepted": 0,
        "decided": 0,
        "converted": 0,
    }
    return PartnerCard(id=id, name=name, **{**values, **overrides})


def lead_values(**overrides) -> dict:
    values = {
        "country": "GB",
        "latitude": None,
        "longitude": None,
        "budget": D("8000.00"),
        "budget_currency": "EUR",
        "credit_score": 550,
        "attributes": {},
    }
    return {**values, **overrides}


def rank_one(partner: PartnerCard, values: dict | None = None, **kwargs):
    options = {"reason_code": None, "month_volume": {}, "declined": set(), "open_referrals": set(), **kwargs}
    return rank([partner], values or lead_values(), **options)


def credit_rule(operator: str = "lt", value: int = 600) -> engine.RuleSet:
    rule = engine.Rule(id=1, field="credit_score", operator=operator, value=value, hard=True, weight=0, label="Credit")
    return engine.RuleSet(rules=(rule,), qualified_min=0, review_min=0)


STANDARD_TERMS = Terms(
    currency="EUR",
    per_accepted=D("25.00"),
    per_conversion=D("100.00"),
    percent_of_deal=D("10.00"),
    percent_cap=D("500.00"),
)


# Region ---------------------------------------------------------------------------------------------------


def test_rank_region_in_by_country():
    match = rank_one(card()).matches[0]

    assert (match.region, match.region_text, match.score) == ("in", "serves GB", 75)


def test_rank_region_country_compared_case_insensitively():
    match = rank_one(card(), lead_values(country="gb")).matches[0]

    assert match.region == "in"


def test_rank_region_out_by_country_is_not_suggested_but_counted():
    result = rank_one(card(), lead_values(country="FR"))

    assert result.matches == []
    assert result.excluded == {"outside their region": 1}


def test_rank_region_unknown_country_scores_lower():
    match = rank_one(card(), lead_values(country="")).matches[0]

    assert (match.region, match.region_text, match.score) == ("unknown", "country unknown", 60)


def test_rank_region_anywhere():
    match = rank_one(card(countries=frozenset())).matches[0]

    assert (match.region, match.region_text, match.score) == ("anywhere", "serves anywhere", 69)


def test_rank_region_within_radius_says_how_far():
    gym = card(countries=frozenset(), point=(*LONDON, D("150.0")))

    match = rank_one(gym, lead_values(country="", latitude=D("52.500000"), longitude=D("-0.120000"))).matches[0]

    assert (match.region, match.region_text, match.score) == ("in", "111 km away (serves 150 km)", 75)


def test_rank_region_beyond_radius_is_not_suggested():
    gym = card(countries=frozenset(), point=(*LONDON, D("100.0")))

    result = rank_one(gym, lead_values(latitude=D("52.500000"), longitude=D("-0.120000")))

    assert result.matches == []
    assert result.excluded == {"outside their region": 1}
    assert matching._region(gym, lead_values(latitude=D("52.5"), longitude=D("-0.12"))) == (
        "out",
        "111 km away, beyond its 100 km",
    )


def test_rank_region_radius_without_coordinates_is_unknown():
    gym = card(countries=frozenset(), point=(*LONDON, D("100.0")))

    match = rank_one(gym).matches[0]

    assert (match.region, match.region_text) == ("unknown", "location unknown")


def test_rank_region_radius_or_country_without_coordinates_uses_the_country():
    gym = card(countries=frozenset({"GB"}), point=(*LONDON, D("100.0")))

    assert rank_one(gym).matches[0].region == "in"
    assert rank_one(gym, lead_values(country="FR")).excluded == {"outside their region": 1}


# Scoring and order ----------------------------------------------------------------------------------------


def test_rank_orders_by_reason_fit_grade_and_history():
    cards = [
        card(1, "No reason fit", reason_codes=frozenset({"timing"})),  # 30 + 5 + 10 + 3 + 7 = 55
        card(2, "Grade C", grade="C"),  # 72
        card(3, "Grade A", grade="A"),  # 78
        card(4, "Good history", accepted=8, decided=8, converted=4),  # 30 + 25 + 16.67 + 5.77 + 7 = 84
        card(5, "Poor history", accepted=0, decided=8),  # 30 + 25 + 3.33 + 3 + 7 = 68
        card(6, "Reason fits", reason_codes=frozenset({"credit", "timing"})),  # 75
    ]

    result = rank(cards, lead_values(), reason_code="credit", month_volume={}, declined=set(), open_referrals=set())

    assert [(m.partner.name, m.score) for m in result.matches] == [
        ("Good history", 84),
        ("Grade A", 78),
        ("Reason fits", 75),
        ("Grade C", 72),
        ("Poor history", 68),
    ]
    assert result.excluded == {}  # the sixth is beyond the default limit of five, not excluded


def test_rank_reason_fit_is_explained():
    fits, misses = (
        card(1, "Fits", reason_codes=frozenset({"credit"})),
        card(2, "Misses", reason_codes=frozenset({"budget"})),
    )

    result = rank(
        [fits, misses], lead_values(), reason_code="credit", month_volume={}, declined=set(), open_referrals=set()
    )

    assert [(m.partner.name, m.reason_fit, m.score) for m in result.matches] == [
        ("Fits", True, 75),
        ("Misses", False, 55),
    ]


def test_rank_history_rates_are_smoothed():
    match = rank_one(card(accepted=3, decided=6, converted=1)).matches[0]

    assert (match.acceptance_rate, match.conversion_rate) == (0.5, 0.25)  # (3+2)/(6+4), (1+1)/(3+5)


def test_rank_equal_scores_prefer_the_higher_expected_fee_then_the_name():
    cards = [card(1, "Alpha"), card(2, "Beta", terms=STANDARD_TERMS), card(3, "Aardvark")]

    result = rank(cards, lead_values(), reason_code=None, month_volume={}, declined=set(), open_referrals=set())

    assert [m.partner.name for m in result.matches] == ["Beta", "Aardvark", "Alpha"]


def test_rank_limit_returns_the_best():
    cards = [card(1, "B", grade="B"), card(2, "A", grade="A"), card(3, "C", grade="C")]

    result = rank(
        cards, lead_values(), reason_code=None, month_volume={}, declined=set(), open_referrals=set(), limit=2
    )

    assert [m.partner.name for m in result.matches] == ["A", "B"]


# Criteria -------------------------------------------------------------------------------------------------


def test_rank_criteria_pass_is_explained():
    match = rank_one(card(rule_set=credit_rule())).matches[0]

    assert (match.criteria, match.score) == ("pass", 75)
    assert match.explanation()["criteria_detail"] == [
        {"label": "Credit", "outcome": "pass", "actual": 550, "required": "< 600"}
    ]


def test_rank_criteria_fail_is_not_suggested_but_counted():
    result = rank_one(card(rule_set=credit_rule()), lead_values(credit_score=700))

    assert result.matches == []
    assert result.excluded == {"fails their criteria": 1}


def test_rank_criteria_unknown_lowers_the_score():
    match = rank_one(card(rule_set=credit_rule()), lead_values(credit_score=None)).matches[0]

    assert (match.criteria, match.score) == ("unknown", 60)  # 75 * 0.8
    assert match.eligible is True


def test_rank_criteria_unknown_ranks_below_a_known_fit():
    cards = [card(1, "Unknown fit", grade="A", rule_set=credit_rule()), card(2, "Known fit", grade="C")]

    result = rank(
        cards, lead_values(credit_score=None), reason_code=None, month_volume={}, declined=set(), open_referrals=set()
    )

    assert [(m.partner.name, m.score) for m in result.matches] == [("Known fit", 72), ("Unknown fit", 62)]


def test_rank_limit_returns_the_best_after_the_unknown_criteria_penalty():
    cards = [card(1, "Unknown fit", grade="A", rule_set=credit_rule()), card(2, "Known fit", grade="C")]

    result = rank(
        cards,
        lead_values(credit_score=None),
        reason_code=None,
        month_volume={},
        declined=set(),
        open_referrals=set(),
        limit=1,
    )

    assert [(m.partner.name, m.score) for m in result.matches] == [("Known fit", 72)]


# Exclusions -----------------------------------------------------------------------------------------------


def test_rank_exclusions_are_counted_by_reason():
    cards = [
        card(1, "Paused", status="paused"),
        card(2, "Ended", status="ended"),
        card(3, "Full", monthly_capacity=3),
        card(4, "Declined before"),
        card(5, "Already referred"),
        card(6, "Free", monthly_capacity=3),
    ]

    result = rank(cards, lead_values(), reason_code=None, month_volume={3: 3, 6: 2}, declined={4}, open_referrals={5})

    assert [(m.partner.name, m.capacity_left) for m in result.matches] == [("Free", 1)]
    assert result.excluded == {
        "paused or ended": 2,
        "at capacity": 1,
        "turned it down before": 1,
        "already referred": 1,
    }


# Fees -----------------------------------------------------------------------------------------------------


def test_rank_expected_fee_is_decimal_and_uses_the_budget_as_deal_value():
    match = rank_one(card(terms=STANDARD_TERMS)).matches[0]

    # 0.5 * 25 + 0.5 * 0.2 * (100 + min(800, 500))
    assert match.expected_fee == D("72.50")
    assert isinstance(match.expected_fee, Decimal)


def test_rank_expected_fee_ignores_a_budget_in_another_currency():
    match = rank_one(card(terms=STANDARD_TERMS), lead_values(budget_currency="GBP")).matches[0]

    assert match.expected_fee == D("22.50")  # 0.5 * 25 + 0.1 * 100


def test_rank_terms_at_this_months_volume():
    tiered = Terms(currency="EUR", per_accepted=D("25.00"), tiers=(Tier(11, per_accepted=D("40.00")),))

    match = rank_one(card(terms=tiered), month_volume={1: 10}).matches[0]

    assert (match.terms.tier, match.terms.per_accepted) == (11, D("40.00"))
    assert match.expected_fee == D("20.00")  # 0.5 * 40


def test_match_explanation_is_json_safe_and_complete():
    match = rank_one(card(terms=STANDARD_TERMS, rule_set=credit_rule(), monthly_capacity=10), month_volume={1: 4})
    explanation = match.matches[0].explanation()

    assert explanation == {
        "score": 75,
        "region": "serves GB",
        "reason_fit": True,
        "criteria": "pass",
        "criteria_detail": [{"label": "Credit", "outcome": "pass", "actual": 550, "required": "< 600"}],
        "capacity_left": 6,
        "acceptance_rate": 0.5,
        "conversion_rate": 0.2,
        "expected_fee": "72.50",
        "currency": "EUR",
        "terms": "25.00 EUR per accepted referral + 100.00 EUR per conversion + 10% of the deal (at most 500.00 EUR)",
    }


def test_match_explanation_without_terms():
    explanation = rank_one(card()).matches[0].explanation()

    assert (explanation["expected_fee"], explanation["currency"], explanation["terms"]) == (
        None,
        "",
        "no fee agreement in force",
    )


# From the database ----------------------------------------------------------------------------------------


def test_matches_for_lead_builds_cards_from_partners(db):
    reason = DisqualificationReason.objects.create(code="credit", label="Credit")
    lead = ConsentingLeadFactory(primary_reason=reason, credit_score=550)
    agreement = FeeAgreementFactory(partner__grade="A")
    agreement.partner.accepted_reasons.add(reason)
    PartnerCriterion.objects.create(
        partner=agreement.partner, label="Credit under 600", field="credit_score", operator="lt", value=600
    )
    PartnerFactory(name="Elsewhere", countries=["FR"])

    result = matching.matches_for_lead(lead)

    (match,) = result.matches
    assert match.partner.id == agreement.partner.pk
    assert (match.score, match.region, match.reason_fit, match.criteria) == (78, "in", True, "pass")
    assert match.terms.agreement_id == agreement.pk
    assert match.expected_fee == D("72.50")
    assert result.excluded == {"outside their region": 1}


def test_matches_for_lead_excludes_paused_ended_full_declined_and_referred(db, settings):
    settings.REFERRAL_AUTO_REOFFER = False
    lead = ConsentingLeadFactory()
    PartnerFactory(name="Paused", status="paused")
    PartnerFactory(name="Ended", status="ended")  # not in the catalogue at all
    full = PartnerFactory(name="Full", monthly_capacity=1)
    services.referral_send(lead=ConsentingLeadFactory(), partner=full, mode="introduce")
    declined = PartnerFactory(name="Declined")
    referral = services.referral_send(lead=lead, partner=declined, mode="introduce")
    services.referral_decline(referral=referral, reason="Not for us")
    expired = PartnerFactory(name="Expired", acceptance_window_hours=1)
    referral = services.referral_send(lead=lead, partner=expired, mode="introduce")
    services.referral_expire(referral=referral, now=timezone.now() + timedelta(hours=2))
    referred = PartnerFactory(name="Referred")
    services.referral_send(lead=lead, partner=referred, mode="signpost")
    PartnerFactory(name="Free")

    result = matching.matches_for_lead(lead)

    assert [m.partner.name for m in result.matches] == ["Free"]
    assert result.excluded == {
        "paused or ended": 1,
        "at capacity": 1,
        "turned it down before": 2,
        "already referred": 1,
    }


def test_matches_for_lead_history_rates_count_introductions_of_the_last_year(db):
    partner = PartnerFactory()
    accepted = services.referral_send(lead=ConsentingLeadFactory(), partner=partner, mode="introduce")
    services.referral_accept(referral=accepted)
    converted = services.referral_send(lead=ConsentingLeadFactory(), partner=partner, mode="introduce")
    services.referral_accept(referral=converted)
    services.referral_convert(referral=converted, deal_value="1000", currency="EUR")
    declined = services.referral_send(lead=ConsentingLeadFactory(), partner=partner, mode="introduce")
    services.referral_decline(referral=declined, reason="Full")
    services.referral_send(lead=ConsentingLeadFactory(), partner=partner, mode="introduce")  # undecided
    services.referral_send(lead=ConsentingLeadFactory(), partner=partner, mode="signpost")  # not counted
    long_ago = timezone.now() - timedelta(days=400)
    old = services.referral_send(lead=ConsentingLeadFactory(), partner=partner, mode="introduce", now=long_ago)
    services.referral_accept(referral=old, now=long_ago + timedelta(hours=1))  # more than a year ago: not counted
    matching.catalogue_reset()

    (partner_card,) = [c for c in matching.catalogue() if c.id == partner.pk]

    assert (partner_card.sent, partner_card.accepted, partner_card.decided, partner_card.converted) == (4, 2, 3, 1)
    assert matching.acceptance_rate(partner_card) == 4 / 7
    assert matching.conversion_rate(partner_card) == 2 / 7


def test_catalogue_is_cached_until_a_partner_changes(db):
    partner = PartnerFactory()
    first = matching.catalogue()

    assert matching.catalogue() is first

    partner.status = "paused"
    partner.save()
    second = matching.catalogue()

    assert second is not first
    assert [c.status for c in second] == ["paused"]


def test_catalogue_is_rebuilt_when_an_agreement_changes(db):
    partner = PartnerFactory()
    first = matching.catalogue()

    FeeAgreementFactory(partner=partner)

    assert matching.catalogue()[0].terms is not None
    assert first[0].terms is None


def test_catalogue_history_is_refreshed_after_the_ttl(db):
    PartnerFactory()
    now = timezone.now().replace(hour=12, minute=0)  # the day does not change within the test
    first = matching.catalogue(now=now)

    assert matching.catalogue(now=now + timedelta(seconds=matching.HISTORY_TTL_SECONDS)) is first
    assert matching.catalogue(now=now + timedelta(seconds=matching.HISTORY_TTL_SECONDS + 1)) is not first


def test_catalogue_reset_forces_a_rebuild(db):
    PartnerFactory()
    first = matching.catalogue()

    matching.catalogue_reset()

    assert matching.catalogue() is not first


def test_matches_for_lead_with_a_warm_catalogue_runs_four_queries(db, django_assert_num_queries):
    for _ in range(5):
        FeeAgreementFactory()
    lead = ConsentingLeadFactory()
    matching.catalogue()

    # the catalogue stamp (partners, agreements), this month's volumes, the lead's referrals
    with django_assert_num_queries(4):
        result = matching.matches_for_lead(lead)

    assert len(result.matches) == 5
