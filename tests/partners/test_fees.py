"""partners.fees is pure: no database, Decimal in and out, one rounding rule (half up to the cent)."""

from decimal import Decimal

import pytest

from partners.fees import Accrual, Terms, Tier, accruals_for, expected_fee, money

D = Decimal


def standard_terms(**overrides) -> Terms:
    """The factory agreement's terms: 25 per accepted, 100 per conversion, 10% of the deal capped at 500."""
    values = {
        "currency": "EUR",
        "per_accepted": D("25.00"),
        "per_conversion": D("100.00"),
        "percent_of_deal": D("10.00"),
        "percent_cap": D("500.00"),
    }
    return Terms(**{**values, **overrides})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.005", "0.01"),
        ("0.004", "0.00"),
        ("1234.565", "1234.57"),
        ("2.675", "2.68"),  # a float would make this 2.67
        ("0.125", "0.13"),  # banker's rounding would give 0.12
        ("-0.005", "-0.01"),  # half up = away from zero
        (12, "12.00"),
        (D("99.999"), "100.00"),
    ],
)
def test_money_rounds_half_up_to_the_cent(value, expected):
    result = money(value)

    assert result == D(expected)
    assert str(result) == expected


def test_accruals_for_sent_is_the_per_referral_amount():
    terms = standard_terms(per_referral=D("5"))

    rows = accruals_for(terms, "sent")

    assert rows == [Accrual("sent", D("5.00"), "per referral sent")]
    assert str(rows[0].amount) == "5.00"


def test_accruals_for_accepted_is_the_per_accepted_amount():
    rows = accruals_for(standard_terms(), "accepted")

    assert rows == [Accrual("accepted", D("25.00"), "per accepted referral")]


def test_accruals_for_converted_share_rounds_half_up():
    terms = standard_terms(percent_cap=None)

    rows = accruals_for(terms, "converted", deal_value=D("12345.65"))  # 10% = 1234.565

    assert rows == [
        Accrual("conversion", D("100.00"), "per conversion"),
        Accrual("conversion_percent", D("1234.57"), "10% of 12,345.65 EUR"),
    ]


@pytest.mark.parametrize(
    ("percent", "deal", "share"),
    [
        ("2.5", "100.10", "2.50"),  # 2.5025
        ("12.5", "0.20", "0.03"),  # 0.025
        ("7.25", "333.33", "24.17"),  # 24.1664...
    ],
)
def test_accruals_for_converted_share_of_odd_amounts(percent, deal, share):
    terms = Terms(currency="EUR", percent_of_deal=D(percent))

    rows = accruals_for(terms, "converted", deal_value=D(deal))

    assert [(row.kind, row.amount) for row in rows] == [("conversion_percent", D(share))]


def test_accruals_for_converted_caps_the_share():
    rows = accruals_for(standard_terms(), "converted", deal_value=D("8000.00"))  # 10% = 800 > 500

    assert rows == [
        Accrual("conversion", D("100.00"), "per conversion"),
        Accrual("conversion_percent", D("500.00"), "10% of 8,000.00 EUR, capped at 500.00 EUR"),
    ]


def test_accruals_for_converted_share_equal_to_the_cap_is_not_marked_capped():
    rows = accruals_for(standard_terms(), "converted", deal_value=D("5000"))

    assert rows[1] == Accrual("conversion_percent", D("500.00"), "10% of 5,000.00 EUR")


def test_accruals_for_converted_without_deal_value_earns_only_the_flat_fee():
    rows = accruals_for(standard_terms(), "converted")

    assert rows == [Accrual("conversion", D("100.00"), "per conversion")]


@pytest.mark.parametrize("event", ["sent", "accepted", "converted"])
def test_accruals_for_zero_terms_bill_nothing(event):
    terms = Terms(currency="EUR")

    assert accruals_for(terms, event, deal_value=D("8000.00")) == []


def test_accruals_for_share_rounding_to_zero_is_not_billable():
    terms = Terms(currency="EUR", percent_of_deal=D("1"))

    assert accruals_for(terms, "converted", deal_value=D("0.40")) == []  # 0.004 -> 0.00


def test_accruals_for_unknown_event_is_refused():
    with pytest.raises(ValueError, match="unknown billable event 'paid'"):
        accruals_for(standard_terms(), "paid")


TIERED = standard_terms(
    per_referral=D("2.00"),
    tiers=(  # deliberately out of order
        Tier(26, per_accepted=D("50.00"), percent_of_deal=D("12.50")),
        Tier(11, per_accepted=D("40.00")),
    ),
)


def test_terms_at_volume_below_the_first_tier_are_the_base_terms():
    terms = TIERED.at_volume(10)

    assert (terms.per_accepted, terms.percent_of_deal, terms.tier, terms.tiers) == (D("25.00"), D("10.00"), None, ())


def test_terms_at_volume_eleventh_referral_gets_the_tier_amounts():
    terms = TIERED.at_volume(11)

    assert terms.tier == 11
    assert terms.per_accepted == D("40.00")
    # what the tier does not set stays as in the base terms
    assert (terms.per_referral, terms.per_conversion, terms.percent_of_deal, terms.percent_cap) == (
        D("2.00"),
        D("100.00"),
        D("10.00"),
        D("500.00"),
    )


def test_terms_at_volume_applies_the_highest_tier_reached():
    terms = TIERED.at_volume(30)

    assert (terms.tier, terms.per_accepted, terms.percent_of_deal) == (26, D("50.00"), D("12.50"))


def test_terms_snapshot_records_the_tier_and_round_trips():
    terms = TIERED.at_volume(11)

    snapshot = terms.as_snapshot()

    assert snapshot == {
        "agreement_id": None,
        "currency": "EUR",
        "per_referral": "2.00",
        "per_accepted": "40.00",
        "per_conversion": "100.00",
        "percent_of_deal": "10.00",
        "percent_cap": "500.00",
        "payment_terms_days": 30,
        "tier": 11,
    }
    assert Terms.from_snapshot(snapshot) == terms


def test_terms_snapshot_without_cap_round_trips():
    terms = Terms(currency="GBP", per_conversion=D("75.50"), payment_terms_days=14, agreement_id=7)

    assert Terms.from_snapshot(terms.as_snapshot()) == terms


def test_terms_describe_lists_every_fee():
    assert standard_terms().describe() == (
        "25.00 EUR per accepted referral + 100.00 EUR per conversion + 10% of the deal (at most 500.00 EUR)"
    )


def test_terms_describe_names_the_tier_and_thousands():
    terms = Terms(currency="EUR", per_referral=D("1000"), percent_of_deal=D("12.50"), tier=11)

    assert terms.describe() == "1,000.00 EUR per referral sent + 12.5% of the deal; tier from 11 a month"


def test_terms_describe_without_fees():
    assert Terms(currency="EUR").describe() == "no fee"


def test_expected_fee_weighs_each_fee_by_its_chance():
    terms = standard_terms(per_referral=D("5.00"))

    fee = expected_fee(terms, accept_rate=0.5, convert_rate=0.2, deal_value=D("8000.00"))

    # 5 + 0.5 * 25 + 0.5 * 0.2 * (100 + 500 capped)
    assert fee == D("77.50")
    assert isinstance(fee, Decimal)


def test_expected_fee_without_deal_value_counts_only_the_flat_conversion_fee():
    fee = expected_fee(standard_terms(), accept_rate=0.5, convert_rate=0.2)

    assert fee == D("22.50")  # 0.5 * 25 + 0.1 * 100


def test_expected_fee_rounds_to_the_cent():
    fee = expected_fee(Terms(currency="EUR", per_accepted=D("25.00")), accept_rate=1 / 3, convert_rate=0.0)

    assert str(fee) == "8.33"  # 0.3333 * 25 = 8.3325
