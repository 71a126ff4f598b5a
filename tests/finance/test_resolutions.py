"""Resolving reconciliation items: accept the partner's amount (adjustment rows), write off, dispute (open until a
final resolution), link by hand (learns the reference), dismiss a duplicate; one resolution per item, also when two
people act at once (PostgreSQL, two connections); paying from a reconciled statement."""

import threading
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from finance import services
from finance.models import Allocation, AuditEntry, PartnerReference, Resolution
from finance.services import FinanceError
from finance.services.resolutions import ResolutionConflict, item_resolve, statement_pay
from partners.models import FeeAccrual
from tests.conftest import make_user
from tests.factories import UserFactory
from tests.factories.finance import converted_referral, fee
from tests.factories.statements import line, reconciled_statement

pytestmark = pytest.mark.django_db


@pytest.fixture
def at():
    return timezone.now() - timedelta(days=10)


@pytest.fixture
def referral(partner, at):
    return converted_referral(partner=partner, at=at, email="ada@example.com")


def statement_of(partner, rows):
    return reconciled_statement(partner, rows)


def net(accrual) -> D:
    accrual.refresh_from_db()
    return accrual.amount + sum((c.amount for c in accrual.corrections.all()), D("0"))


# Accept -----------------------------------------------------------------------------------------------------


def test_accepting_a_higher_amount_adjusts_the_fee_up(partner, referral, at, finance_user):
    statement = statement_of(partner, [line(referral.tracking_code, "110.00", day=at.date(), kind="conversion")])
    item = statement.items.get(category="amount_mismatch")

    outcome = item_resolve(item=item, action="accept", note="Their deal was bigger", actor=finance_user)

    row = outcome.rows[0]
    assert (row.kind, row.amount, row.corrects) == ("adjustment", D("10.00"), fee(referral, "conversion"))
    assert row.basis == (
        f"Adjustment: Accepted the partner's amount 110.00 EUR (statement {statement.pk} row 4): Their deal was bigger"
    )
    assert net(fee(referral, "conversion")) == D("110.00")
    resolution = outcome.resolution
    assert (resolution.action, resolution.accrual, resolution.resolved_by) == ("accept", row, finance_user)
    entry = AuditEntry.objects.filter(action="resolution").get()
    assert entry.summary.startswith(f"Accepted the partner's amount: amount mismatch item {item.pk}")


def test_accepting_a_lower_amount_over_several_fees_lowers_the_newest_first(partner, referral, at, finance_user):
    statement = statement_of(partner, [line(referral.tracking_code, "20.00", day=at.date())])  # expected 325.00
    item = statement.items.get(category="amount_mismatch")

    outcome = item_resolve(item=item, action="accept", actor=finance_user)

    assert sorted((row.corrects.kind, row.amount) for row in outcome.rows) == [
        ("accepted", D("-5.00")),
        ("conversion", D("-100.00")),
        ("conversion_percent", D("-200.00")),
    ]
    assert sum(net(f) for f in referral.accruals.filter(corrects__isnull=True)) == D("20.00")


def test_accept_is_only_for_mismatches(partner, referral, at):
    statement = statement_of(partner, [line(referral.tracking_code, "325.00", day=at.date())])

    with pytest.raises(FinanceError) as caught:
        item_resolve(item=statement.items.get(), action="accept")

    assert (
        caught.value.message == "An item that is “matched” cannot be accepted the partner's amount: nothing to resolve."
    )


# Write off --------------------------------------------------------------------------------------------------


def test_writing_off_a_missing_fee_writes_off_what_is_open(partner, referral, at, finance_user):
    statement = statement_of(
        partner, [line(referral.tracking_code, "125.00", day=at.date(), kind="conversion_percent")]
    )
    item = statement.items.get(category="missing", accrual__kind="accepted")

    outcome = item_resolve(item=item, action="write_off", note="Never invoiced in time", actor=finance_user)

    assert [(row.kind, row.amount) for row in outcome.rows] == [("write_off", D("-25.00"))]
    assert net(fee(referral, "accepted")) == D("0.00")


def test_writing_off_a_shortfall_needs_a_reason_and_a_partner_claiming_less(partner, referral, at, finance_user):
    statement = statement_of(
        partner,
        [
            line(referral.tracking_code, "180.00", day=at.date(), kind="conversion_percent"),
            line(referral.tracking_code, "120.00", day=at.date(), kind="conversion"),
        ],
    )
    short = statement.items.get(category="amount_mismatch", accrual__kind="conversion_percent")
    over = statement.items.get(category="amount_mismatch", accrual__kind="conversion")

    with pytest.raises(FinanceError) as no_reason:
        item_resolve(item=short, action="write_off", note=" ")
    with pytest.raises(FinanceError) as claims_more:
        item_resolve(item=over, action="write_off", note="Rounding")
    outcome = item_resolve(item=short, action="write_off", note="Agreed on the phone", actor=finance_user)

    assert no_reason.value.errors == {"note": ["Say why it is written off."]}
    assert claims_more.value.message == "The partner says it owes more than the fee: accept its amount, or dispute it."
    assert [(row.kind, row.amount) for row in outcome.rows] == [("write_off", D("-20.00"))]
    assert net(fee(referral, "conversion_percent")) == D("180.00")


# Dispute ----------------------------------------------------------------------------------------------------


def test_a_dispute_keeps_the_item_open_until_a_final_resolution(partner, referral, at, finance_user):
    statement = statement_of(partner, [line(referral.tracking_code, "300.00", day=at.date())])
    item = statement.items.get(category="amount_mismatch")
    follow_up = timezone.localdate() + timedelta(days=7)

    dispute = item_resolve(item=item, action="dispute", note="Asked for the invoice", follow_up_on=follow_up,
                           actor=finance_user).resolution  # fmt: skip
    with pytest.raises(ResolutionConflict) as again:
        item_resolve(item=item, action="dispute", note="Again", follow_up_on=follow_up)
    final = item_resolve(item=item, action="accept", actor=finance_user).resolution

    assert (dispute.action, dispute.follow_up_on, dispute.note) == ("dispute", follow_up, "Asked for the invoice")
    assert again.value.message.startswith("finance disputed this item already on ")
    assert again.value.message.endswith(f"(follow up on {follow_up:%Y-%m-%d}): “Asked for the invoice”.")
    assert final.action == "accept"
    assert list(item.resolutions.values_list("action", flat=True)) == ["dispute", "accept"]


@pytest.mark.parametrize(
    ("note", "days", "errors"),
    [
        ("", 3, {"note": ["Say what is disputed (it is kept with the item)."]}),
        ("Why?", None, {"follow_up_on": ["Give the day to follow it up with the partner."]}),
        ("Why?", -1, {"follow_up_on": ["The follow-up day is in the past."]}),
        ("Why?", 400, {"follow_up_on": ["Follow it up within a year."]}),
    ],
)
def test_a_dispute_needs_a_note_and_a_follow_up_day(partner, referral, at, note, days, errors):
    statement = statement_of(partner, [line(referral.tracking_code, "300.00", day=at.date())])
    follow_up = timezone.localdate() + timedelta(days=days) if days is not None else None

    with pytest.raises(FinanceError) as caught:
        item_resolve(item=statement.items.get(), action="dispute", note=note, follow_up_on=follow_up)

    assert caught.value.errors == errors
    assert not Resolution.objects.exists()


# Link by hand -----------------------------------------------------------------------------------------------


def test_linking_an_unknown_line_by_hand_matches_it_and_learns_the_reference(partner, referral, at, finance_user):
    statement = statement_of(partner, [line("", "325.00", reference="ACME-9", day=at.date())])
    item = statement.items.get(category="unknown_referral")

    outcome = item_resolve(item=item, action="link", referral=referral, actor=finance_user)

    new = outcome.new_item
    assert (new.category, new.rule, new.referral, new.line, new.expected_amount) == (
        "matched", "hand", referral, item.line, D("325.00"),
    )  # fmt: skip
    assert outcome.resolution.referral == referral
    assert PartnerReference.objects.get(partner=partner, reference="ACME-9").referral == referral
    later = statement_of(partner, [line("", "100.00", reference="ACME-9", day=at.date(), kind="conversion")])
    assert later.items.get(line__isnull=False).rule == "partner_reference"


def test_linking_to_another_partners_referral_is_refused(partner, at):
    theirs = converted_referral(at=at)
    statement = statement_of(partner, [line("PT-NOPE2345", "5.00", day=at.date())])

    with pytest.raises(FinanceError) as caught:
        item_resolve(item=statement.items.get(category="unknown_referral"), action="link", referral=theirs)

    assert caught.value.errors == {"referral": [f"{theirs.tracking_code} is another partner's referral."]}


def test_a_hand_link_with_a_different_amount_is_a_mismatch_to_resolve_next(partner, referral, at):
    statement = statement_of(partner, [line("PT-NOPE2345", "300.00", day=at.date())])

    assert statement.items.filter(category="missing", referral=referral).count() == 3

    new = item_resolve(item=statement.items.get(category="unknown_referral"), action="link", referral=referral).new_item

    assert (new.category, new.rule, new.expected_amount) == ("amount_mismatch", "hand", D("325.00"))
    covered = Resolution.objects.filter(item__category="missing", item__statement=statement)
    assert [(r.action, r.note) for r in covered] == [("link", "Covered by row 4, linked by hand")] * 3
    assert item_resolve(item=new, action="accept").rows


# Dismiss and conflicts --------------------------------------------------------------------------------------


def test_a_duplicate_is_dismissed_and_only_a_duplicate(partner, referral, at, finance_user):
    row = line(referral.tracking_code, "325.00", day=at.date())
    statement = statement_of(partner, [row, row])

    with pytest.raises(FinanceError):
        item_resolve(item=statement.items.get(category="matched"), action="dismiss")
    resolution = item_resolve(item=statement.items.get(category="duplicate_line"), action="dismiss",
                              actor=finance_user).resolution  # fmt: skip

    assert (resolution.action, resolution.resolved_by) == ("dismiss", finance_user)


def test_a_second_resolution_is_refused_saying_who_did_what(partner, referral, at, finance_user):
    statement = statement_of(partner, [line(referral.tracking_code, "300.00", day=at.date())])
    item = statement.items.get()
    item_resolve(item=item, action="accept", note="Fine by us", actor=finance_user)

    with pytest.raises(ResolutionConflict) as caught:
        item_resolve(item=item, action="write_off", note="Too late")

    assert caught.value.message.startswith("finance resolved this item already on ")
    assert caught.value.message.endswith(" — accepted the partner's amount: “Fine by us”.")
    assert Resolution.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks and two connections: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_people_resolving_one_item_at_once_make_one_resolution(partner):
    at = timezone.now() - timedelta(days=10)
    referral = converted_referral(partner=partner, at=at)
    statement = reconciled_statement(partner, [line(referral.tracking_code, "300.00", day=at.date())])
    item = statement.items.get()
    first, second = make_user("Finance"), UserFactory(username="racer", role="Finance")
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def act(user, action, note):
        try:
            start.wait()
            with transaction.atomic():
                item_resolve(item=item, action=action, note=note, actor=user)
            outcomes.append("resolved")
        except ResolutionConflict as exc:
            outcomes.append(exc.message)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=act, args=(first, "accept", "")),
        threading.Thread(target=act, args=(second, "write_off", "Not worth chasing")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert outcomes.count("resolved") == 1
    assert Resolution.objects.filter(item=item).count() == 1
    winner = Resolution.objects.select_related("resolved_by").get(item=item)
    loser = next(outcome for outcome in outcomes if outcome != "resolved")
    assert loser.startswith(f"{winner.resolved_by.get_username()} resolved this item already on ")
    corrections = FeeAccrual.objects.filter(referral=referral, corrects__isnull=False)
    assert corrections.count() == (3 if winner.action == "accept" else 1)  # only the winner's ledger rows


def test_the_constraint_holds_one_final_resolution_per_item(partner, referral, at):
    statement = statement_of(partner, [line(referral.tracking_code, "300.00", day=at.date())])
    item = statement.items.get()
    Resolution.objects.create(item=item, action="dismiss")

    with pytest.raises(Exception, match=r"resolution_one_per_item|UNIQUE constraint failed"), transaction.atomic():
        Resolution.objects.create(item=item, action="write_off")


# Paying from a statement ------------------------------------------------------------------------------------


def test_a_payment_for_a_statement_goes_to_the_fees_it_settled(partner, referral, at, finance_user):
    other = converted_referral(partner=partner, at=at)
    statement = statement_of(
        partner,
        [
            line(referral.tracking_code, "325.00", day=at.date()),
            line(other.tracking_code, "90.00", day=at.date(), kind="conversion"),
        ],
    )

    payment, allocations = statement_pay(
        statement=statement, amount=D("400.00"), currency="EUR", received_on=timezone.localdate(), reference="B-1",
        actor=finance_user,
    )  # fmt: skip

    assert payment.statement == statement
    assert {(a.accrual.referral_id, a.accrual.kind, a.amount, a.source) for a in allocations} == {
        (referral.pk, "accepted", D("25.00"), Allocation.Source.STATEMENT),
        (referral.pk, "conversion", D("100.00"), Allocation.Source.STATEMENT),
        (referral.pk, "conversion_percent", D("200.00"), Allocation.Source.STATEMENT),
    }  # the mismatched line settled nothing until its amount is accepted
    assert services.payment_unallocated(payment) == D("75.00")


def test_an_accepted_amount_is_settled_by_the_next_payment(partner, referral, at):
    statement = statement_of(partner, [line(referral.tracking_code, "90.00", day=at.date(), kind="conversion")])
    item_resolve(item=statement.items.get(category="amount_mismatch"), action="accept")

    _, allocations = statement_pay(statement=statement, amount=D("90.00"), currency="EUR",
                                   received_on=timezone.localdate())  # fmt: skip

    assert [(a.accrual.kind, a.amount) for a in allocations] == [("conversion", D("90.00"))]
