"""The reconciliation workspace: counts per category, the items of one category, an item's panel, resolving it
(htmx fragment and event, or a redirect; 422 with the reason; 409 naming who did what), linking by hand through the
search, paying from the statement. Roles, methods, 404s and query counts."""

import json
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from finance.models import Allocation, Payment, Resolution
from finance.services.resolutions import item_resolve
from tests.conftest import make_user
from tests.factories import UserFactory
from tests.factories.finance import converted_referral
from tests.factories.statements import line, reconciled_statement

pytestmark = pytest.mark.django_db


@pytest.fixture
def at():
    return timezone.now() - timedelta(days=5)


@pytest.fixture
def referral(partner, at):
    return converted_referral(partner=partner, at=at, name="Ada Lovelace", email="ada@example.com", company="Engines")


@pytest.fixture
def statement(partner, referral, at):
    """One line of each kind: matched, a mismatch, an unknown referral, a duplicate; the other referral's fees
    are missing."""
    converted_referral(partner=partner, at=at)
    return reconciled_statement(
        partner,
        [
            line(referral.tracking_code, "100.00", day=at.date(), kind="conversion"),
            line(referral.tracking_code, "180.00", day=at.date(), kind="conversion_percent"),
            line("PT-NOPE2345", "50.00", reference="ACME-1", day=at.date()),
            line(referral.tracking_code, "100.00", day=at.date(), kind="conversion"),
            line(referral.tracking_code, "25.00", day=at.date(), kind="accepted"),
        ],
    )


def url(statement, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("finance:statement", args=[statement.pk]) + (f"?{query}" if query else "")


def resolve_url(item):
    return reverse("finance:reconcile_resolve", args=[item.pk])


# The workspace -----------------------------------------------------------------------------------------------


def test_the_workspace_counts_each_category_and_opens_on_the_first_with_open_items(finance_client, statement):
    response = finance_client.get(url(statement))

    assert response.status_code == 200
    counts = {count.value: (count.total, count.open) for count in response.context["counts"]}
    assert counts == {
        "matched": (2, 0),
        "amount_mismatch": (1, 1),
        "unknown_referral": (1, 1),
        "duplicate_line": (1, 1),
        "missing": (3, 3),
    }
    assert response.context["category"] == "amount_mismatch"
    assert [item.category for item in response.context["page"]] == ["amount_mismatch"]


def test_the_items_region_answers_htmx_with_its_fragment_only(finance_client, statement, htmx_headers):
    response = finance_client.get(url(statement, category="missing"), headers=htmx_headers("items-region"))

    assert response.status_code == 200
    assert b'id="items-region"' in response.content
    assert b'id="counts-region"' not in response.content
    assert b"<html" not in response.content
    assert len(response.context["page"].object_list) == 3


def test_the_counts_region_answers_htmx_with_its_fragment_only(finance_client, statement, htmx_headers):
    response = finance_client.get(url(statement), headers=htmx_headers("counts-region"))

    assert b'id="counts-region"' in response.content
    assert b'id="items-region"' not in response.content


def test_the_items_list_runs_the_same_queries_for_one_or_five_items(finance_client, partner, at):
    def queries_for(rows):
        statement = reconciled_statement(partner, rows, name=f"{len(rows)}.csv")
        with CaptureQueriesContext(connection) as queries:
            response = finance_client.get(url(statement, category="unknown_referral", state="all"))
        assert len(response.context["page"].object_list) == len(rows)
        return len(queries)

    one = queries_for([line("PT-NOPE2340", "5.00", day=at.date())])
    five = queries_for([line(f"PT-NOPE234{n}", "5.00", day=at.date()) for n in range(1, 6)])

    assert one == five


def test_state_filters_show_open_disputed_and_resolved(finance_client, statement, finance_user):
    mismatch = statement.items.get(category="amount_mismatch")
    unknown = statement.items.get(category="unknown_referral")
    follow_up = timezone.localdate() + timedelta(days=3)
    item_resolve(item=unknown, action="dispute", note="Which customer?", follow_up_on=follow_up, actor=finance_user)
    item_resolve(item=mismatch, action="accept", actor=finance_user)

    def shown(category, state):
        return [item.pk for item in finance_client.get(url(statement, category=category, state=state)).context["page"]]

    assert shown("unknown_referral", "disputed") == [unknown.pk]
    assert shown("unknown_referral", "open") == [unknown.pk]  # a dispute stays open until resolved
    assert shown("amount_mismatch", "open") == []
    assert shown("amount_mismatch", "resolved") == [mismatch.pk]
    assert b"Which customer?" in finance_client.get(reverse("finance:statements")).content
    assert b"Which customer?" in finance_client.get(url(statement)).content  # until it is resolved
    item_resolve(item=unknown, action="link", referral=mismatch.referral, actor=finance_user)
    assert b"Which customer?" not in finance_client.get(reverse("finance:statements")).content


def test_an_unknown_statement_is_404(finance_client):
    assert finance_client.get(reverse("finance:statement", args=[99999])).status_code == 404


# An item -----------------------------------------------------------------------------------------------------


def test_an_items_page_is_the_workspace_with_its_panel_and_htmx_gets_the_panel_only(
    finance_client, statement, htmx_headers
):
    item = statement.items.get(category="amount_mismatch")
    page_url = reverse("finance:reconcile_item", args=[item.pk])

    page = finance_client.get(page_url)
    panel = finance_client.get(page_url, headers=htmx_headers("item-panel"))

    assert page.status_code == 200
    assert b'id="counts-region"' in page.content
    assert page.context["category"] == "amount_mismatch"
    assert panel.status_code == 200
    assert b'id="item-panel"' in panel.content
    assert b'id="counts-region"' not in panel.content
    assert b"Accept the partner's amount" in panel.content
    assert b"Dismiss the duplicate" not in panel.content


def test_managers_see_an_item_without_the_forms(manager_client, statement):
    item = statement.items.get(category="amount_mismatch")

    response = manager_client.get(reverse("finance:reconcile_item", args=[item.pk]))

    assert response.status_code == 200
    assert b"Accept the partner's amount" not in response.content


def test_the_referral_search_lists_the_partners_referrals(finance_client, statement, referral, htmx_headers):
    item = statement.items.get(category="unknown_referral")

    response = finance_client.get(
        reverse("finance:reconcile_item", args=[item.pk]) + "?q=lovelace", headers=htmx_headers("referral-results")
    )

    assert response.status_code == 200
    assert response.context["referrals"] == [referral]
    assert f"Link to {referral.tracking_code}".encode() in response.content
    assert b'id="item-panel"' not in response.content


# Resolving ---------------------------------------------------------------------------------------------------


def test_resolving_by_htmx_returns_the_panel_and_tells_the_page(finance_client, statement, finance_user, htmx_headers):
    item = statement.items.get(category="duplicate_line")

    response = finance_client.post(
        resolve_url(item), {"action": "dismiss", "note": "Sent twice"}, headers=htmx_headers("item-panel")
    )

    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {"itemResolved": {}}
    assert b'id="item-panel"' in response.content
    assert b"Dismissed as a duplicate" in response.content
    resolution = Resolution.objects.get(item=item)
    assert (resolution.action, resolution.note, resolution.resolved_by) == ("dismiss", "Sent twice", finance_user)


def test_resolving_without_javascript_redirects_to_the_item(finance_client, statement):
    item = statement.items.get(category="missing", accrual__kind="accepted")

    response = finance_client.post(resolve_url(item), {"action": "write_off", "note": "Never invoiced"})

    assert response.status_code == 302
    assert response["Location"] == reverse("finance:reconcile_item", args=[item.pk])
    assert Resolution.objects.get(item=item).accrual.kind == "write_off"


def test_linking_by_hand_goes_to_the_new_item(finance_client, statement, referral):
    item = statement.items.get(category="unknown_referral")

    response = finance_client.post(resolve_url(item), {"action": "link", "referral": referral.pk})

    new = statement.items.get(rule="hand")
    assert response["Location"] == reverse("finance:reconcile_item", args=[new.pk])
    assert (new.referral, new.category) == (referral, "amount_mismatch")


def test_a_refused_resolution_is_422_with_the_reason(finance_client, statement, htmx_headers):
    item = statement.items.get(category="unknown_referral")

    response = finance_client.post(
        resolve_url(item), {"action": "dispute", "note": ""}, headers=htmx_headers("item-panel")
    )

    assert response.status_code == 422
    assert response.context["resolve"].errors["note"] == ["Say what is disputed (it is kept with the item)."]
    assert not Resolution.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"action": "shrug"}, "action"),
        ({"action": "link", "referral": "abc"}, "referral"),
        ({"action": "link", "referral": str(10**20)}, "referral"),
        ({"action": "dispute", "note": "Why", "follow_up_on": "31/02/2026"}, "follow_up_on"),
    ],
)
def test_bad_input_to_resolve_is_422_naming_the_field(finance_client, statement, data, field):
    item = statement.items.get(category="unknown_referral")

    response = finance_client.post(resolve_url(item), data)

    assert response.status_code == 422
    assert field in response.context["resolve"].errors
    assert not Resolution.objects.exists()


def test_the_second_person_gets_409_saying_who_did_what(client, statement, htmx_headers):
    first = make_user("Finance")
    first.first_name, first.last_name = "Fran", "Finance"
    first.save()
    item = statement.items.get(category="amount_mismatch")
    item_resolve(item=item, action="accept", note="Agreed", actor=first)
    client.force_login(UserFactory(username="second", role="Finance"))

    response = client.post(
        resolve_url(item), {"action": "write_off", "note": "Too small"}, headers=htmx_headers("item-panel")
    )

    assert response.status_code == 409
    assert json.loads(response["HX-Trigger"]) == {"itemResolved": {}}
    assert response.context["conflict"].startswith("Fran Finance resolved this item already on ")
    assert "accepted the partner" in response.content.decode()
    assert Resolution.objects.filter(item=item).count() == 1


def test_resolving_refuses_get_and_unknown_items(finance_client, statement):
    item = statement.items.get(category="duplicate_line")
    unknown = reverse("finance:reconcile_resolve", args=[99999])

    assert finance_client.get(resolve_url(item)).status_code == 405
    assert finance_client.post(unknown, {"action": "dismiss"}).status_code == 404
    assert not Resolution.objects.exists()


def test_managers_may_not_resolve(manager_client, statement):
    item = statement.items.get(category="duplicate_line")

    assert manager_client.post(resolve_url(item), {"action": "dismiss"}).status_code == 403
    assert not Resolution.objects.exists()


# Paying ------------------------------------------------------------------------------------------------------


def test_paying_from_the_statement_allocates_to_its_matched_fees(finance_client, statement, referral):
    response = finance_client.post(
        reverse("finance:statement_pay", args=[statement.pk]),
        {"amount": "150.00", "currency": "EUR", "received_on": timezone.localdate().isoformat(), "reference": "SEPA-9"},
    )

    payment = Payment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("finance:payment", args=[payment.pk])
    assert (payment.statement, payment.amount) == (statement, D("150.00"))
    assert sorted((a.accrual.kind, a.amount) for a in Allocation.objects.all()) == [
        ("accepted", D("25.00")),
        ("conversion", D("100.00")),
    ]


def test_paying_with_a_bad_amount_is_422(finance_client, statement):
    response = finance_client.post(
        reverse("finance:statement_pay", args=[statement.pk]),
        {"amount": "1,5", "currency": "EUR", "received_on": timezone.localdate().isoformat()},
    )

    assert response.status_code == 422
    assert list(response.context["pay"].errors) == ["amount"]
    assert not Payment.objects.exists()
