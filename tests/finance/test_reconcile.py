"""Automatic reconciliation: each rule (tracking code, partner reference, email hash within the window), each
category (matched, amount mismatch, unknown referral, duplicate line, missing from statement), tolerance as money or
percent, one fee kind or several, and a fixed number of queries whatever the number of lines."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from finance import services
from finance.models import AuditEntry, PartnerReference, StatementSettings
from finance.services import FinanceError
from finance.services.reconcile import statement_reconcile
from partners import services as partner_services
from tests.factories import FeeAgreementFactory
from tests.factories.finance import converted_referral, fee
from tests.factories.statements import line, reconciled_statement

pytestmark = pytest.mark.django_db


@pytest.fixture
def at():
    return timezone.now() - timedelta(days=10)


@pytest.fixture
def referral(partner, at):
    """Converted 10 days ago: 25.00 accepted, 100.00 conversion, 200.00 share of the deal (EUR)."""
    return converted_referral(partner=partner, at=at, email="ada@example.com")


def items(statement):
    order = F("line__row_number").asc(nulls_last=True)
    return list(statement.items.order_by(order, "id").values_list("category", "rule"))


def only_item(statement, category):
    return statement.items.get(category=category)


# Rules -------------------------------------------------------------------------------------------------------


def test_tracking_code_matches_a_line_that_names_one_fee(partner, referral, at):
    statement = reconciled_statement(
        partner, [line(referral.tracking_code, "100.00", day=at.date(), kind="conversion")]
    )

    item = statement.items.get(line__isnull=False)
    assert (item.category, item.rule, item.referral, item.accrual) == (
        "matched", "tracking_code", referral, fee(referral, "conversion"),
    )  # fmt: skip
    assert (item.expected_amount, item.statement_amount, item.currency) == (D("100.00"), D("100.00"), "EUR")


def test_a_line_without_a_fee_kind_covers_the_referrals_fees_summed(partner, referral, at):
    statement = reconciled_statement(partner, [line(referral.tracking_code, "325.00", day=at.date())])

    assert items(statement) == [("matched", "tracking_code")]
    item = statement.items.get()
    assert (item.expected_amount, item.accrual) == (D("325.00"), None)


def test_tracking_codes_are_read_as_partners_copy_them(partner, referral, at):
    code = referral.tracking_code.lower().replace("-", " ")

    statement = reconciled_statement(partner, [line(code, "325.00", day=at.date())])

    assert items(statement) == [("matched", "tracking_code")]


def test_partner_reference_matches_when_there_is_no_tracking_code(partner, referral, at):
    PartnerReference.objects.create(partner=partner, reference="ACME-77", referral=referral)

    statement = reconciled_statement(partner, [line("", "325.00", reference="ACME-77", day=at.date())])

    assert items(statement) == [("matched", "partner_reference")]
    assert statement.items.get().referral == referral


def test_email_hash_matches_within_the_date_window_only(partner, referral, at):
    StatementSettings.objects.create(partner=partner, match_window_days=20)
    rows = [
        line("", "325.00", email=" ADA@example.com", day=at.date() + timedelta(days=20)),
        line("", "325.00", email="ada@example.com", day=at.date() + timedelta(days=21)),
    ]

    statement = reconciled_statement(partner, rows)

    assert items(statement)[:2] == [("matched", "email_hash"), ("unknown_referral", "none")]


def test_email_hash_takes_the_referral_nearest_in_time(partner, at):
    older = converted_referral(partner=partner, at=at - timedelta(days=30), email="sam@example.com")
    newer = converted_referral(partner=partner, at=at, email="sam@example.com")

    statement = reconciled_statement(partner, [line("", "325.00", email="sam@example.com", day=at.date())])

    assert statement.items.get(line__isnull=False).referral == newer
    assert newer != older


def test_the_tracking_code_comes_before_the_reference_and_the_email(partner, referral, at):
    other = converted_referral(partner=partner, at=at, email="bob@example.com")
    PartnerReference.objects.create(partner=partner, reference="BOB-1", referral=other)

    statement = reconciled_statement(
        partner, [line(referral.tracking_code, "325.00", reference="BOB-1", email="bob@example.com", day=at.date())]
    )

    item = statement.items.get(line__isnull=False)
    assert (item.referral, item.rule) == (referral, "tracking_code")


def test_another_partners_tracking_code_is_an_unknown_referral(partner, at):
    theirs = converted_referral(at=at)
    assert theirs.partner != partner

    statement = reconciled_statement(partner, [line(theirs.tracking_code, "325.00", day=at.date())])

    assert items(statement) == [("unknown_referral", "none")]
    assert statement.items.get().referral is None


# Categories --------------------------------------------------------------------------------------------------


def test_an_amount_that_differs_is_a_mismatch(partner, referral, at):
    statement = reconciled_statement(partner, [line(referral.tracking_code, "300.00", day=at.date())])

    item = statement.items.get()
    assert (item.category, item.expected_amount, item.statement_amount, item.difference) == (
        "amount_mismatch", D("325.00"), D("300.00"), D("-25.00"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("tolerance_amount", "tolerance_percent", "claimed", "category"),
    [
        ("1.00", "0", "324.00", "matched"),
        ("1.00", "0", "326.00", "matched"),
        ("1.00", "0", "323.99", "amount_mismatch"),
        ("0", "1.00", "321.75", "matched"),  # 1% of 325.00 is 3.25
        ("0", "1.00", "321.74", "amount_mismatch"),
        ("5.00", "1.00", "320.00", "matched"),  # whichever is larger
        ("0", "0", "325.01", "amount_mismatch"),
    ],
)
def test_tolerance_as_money_or_percent(partner, referral, at, tolerance_amount, tolerance_percent, claimed, category):
    StatementSettings.objects.create(
        partner=partner, tolerance_amount=D(tolerance_amount), tolerance_percent=D(tolerance_percent)
    )

    statement = reconciled_statement(partner, [line(referral.tracking_code, claimed, day=at.date())])

    assert items(statement) == [(category, "tracking_code")]


def test_a_fee_claimed_twice_in_one_statement_is_a_duplicate_line(partner, referral, at):
    rows = [
        line(referral.tracking_code, "100.00", day=at.date(), kind="conversion"),
        line(referral.tracking_code, "100.00", day=at.date(), kind="conversion"),
        line(referral.tracking_code, "25.00", day=at.date(), kind="accepted"),
        line(referral.tracking_code, "325.00", day=at.date()),  # all fees: overlaps both lines above
    ]

    statement = reconciled_statement(partner, rows)

    assert items(statement) == [
        ("matched", "tracking_code"),
        ("duplicate_line", "tracking_code"),
        ("matched", "tracking_code"),
        ("duplicate_line", "tracking_code"),
        ("missing", "none"),  # the share of the deal: no line but the duplicate covers it
    ]


def test_a_fee_claimed_again_in_a_later_statement_is_a_duplicate_line(partner, referral, at):
    reconciled_statement(partner, [line(referral.tracking_code, "325.00", day=at.date())], name="jan.csv")

    later = reconciled_statement(
        partner, [line(referral.tracking_code, "100.00", day=at.date() + timedelta(days=1), kind="conversion")]
    )

    assert items(later) == [("duplicate_line", "tracking_code")]


def test_missing_are_the_periods_unpaid_standing_fees_no_line_covers(partner, referral, at, finance_user):
    paid = converted_referral(partner=partner, at=at)
    reversed_one = converted_referral(partner=partner, at=at)
    earlier = converted_referral(partner=partner, at=at - timedelta(days=40))
    payment = services.payment_record(partner=partner, amount=D("325.00"), currency="EUR", received_on=at.date())
    services.payment_allocate(payment=payment, allocations=[(f, f.amount) for f in paid.accruals.all()])
    partner_services.referral_conversion_reverse(referral=reversed_one, reason="Refunded within the trial")
    other = converted_referral(partner=partner, at=at)

    statement = reconciled_statement(partner, [line(other.tracking_code, "325.00", day=at.date())])

    missing = statement.items.filter(category="missing").order_by("accrual_id")
    assert [(i.referral, i.accrual.kind, i.expected_amount, i.statement_amount) for i in missing] == [
        (referral, "accepted", D("25.00"), None),
        (referral, "conversion", D("100.00"), None),
        (referral, "conversion_percent", D("200.00"), None),
        (reversed_one, "accepted", D("25.00"), None),  # its conversion fees were reversed to nothing
    ]
    assert earlier.accruals.exists()  # before the period: not missing from this statement


def test_a_line_in_another_currency_is_a_mismatch_against_nothing(partner, referral, at):
    statement = reconciled_statement(partner, [line(referral.tracking_code, "325.00", day=at.date(), currency="GBP")])

    item = statement.items.get(line__isnull=False)
    assert (item.category, item.expected_amount, item.currency) == ("amount_mismatch", D("0.00"), "GBP")


def test_a_statement_is_reconciled_once(partner, referral, at):
    statement = reconciled_statement(partner, [line(referral.tracking_code, "325.00", day=at.date())])

    with pytest.raises(FinanceError, match=f"Statement {statement.pk} is reconciled already."):
        statement_reconcile(statement=statement)


def test_reconciliation_is_audited_with_the_counts(partner, referral, at, finance_user):
    statement = reconciled_statement(partner, [line(referral.tracking_code, "325.00", day=at.date())], reconcile=False)

    counts = statement_reconcile(statement=statement, actor=finance_user)

    assert counts == {"matched": 1, "amount_mismatch": 0, "unknown_referral": 0, "duplicate_line": 0, "missing": 0}
    entry = AuditEntry.objects.get(action="statement_reconciled")
    assert entry.summary == (
        f"Statement {statement.pk} of Acme Lending reconciled: 1 matched, 0 amount mismatch, 0 unknown referral, "
        "0 duplicate line, 0 missing from statement"
    )
    assert entry.actor == finance_user


def test_reconciliation_runs_the_same_queries_for_one_line_or_thirty(partner, at):
    referrals = [converted_referral(partner=partner, at=at) for _ in range(3)]
    small = reconciled_statement(partner, [line(referrals[0].tracking_code, "325.00", day=at.date())], reconcile=False)
    rows = [line(r.tracking_code, "325.00", day=at.date()) for r in referrals] * 10
    large = reconciled_statement(partner, rows, reconcile=False, name="large.csv")
    other = FeeAgreementFactory(partner__name="Other").partner
    assert other != partner

    with CaptureQueriesContext(connection) as one:
        statement_reconcile(statement=small)
    with CaptureQueriesContext(connection) as thirty:
        statement_reconcile(statement=large)

    assert large.lines.count() == 30
    assert len(thirty) == len(one)
    assert len(one) <= 30
