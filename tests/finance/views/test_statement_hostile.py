"""Hostile text on the statement pages — a partner's name, a file's name, its headers and cells, a reference, a
dispute's note, a remembered mapping — is shown escaped to every role that may open them, never raw."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from finance.services.resolutions import item_resolve
from finance.services.statements import statement_import
from tests.conftest import make_user
from tests.factories import FeeAgreementFactory
from tests.factories.finance import converted_referral
from tests.factories.statements import DOT
from tests.security.test_hostile_text import HOSTILE, KEY, SHORT, TINY, assert_safe

pytestmark = pytest.mark.django_db


def hostile_csv(rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["Tracking code", "Reference", KEY, "Date", "Amount", "Currency"])
    writer.writerows(rows)
    return out.getvalue().encode()


@pytest.fixture
def world(db):
    users = {}
    for role in ("Finance", "Manager"):
        users[role] = make_user(role)
        users[role].first_name, users[role].last_name = HOSTILE, TINY
        users[role].save()
    partner = FeeAgreementFactory(partner__name=HOSTILE, partner__slug="hostile").partner
    at = timezone.now() - timedelta(days=5)
    referral = converted_referral(partner=partner, at=at, name=HOSTILE, company=HOSTILE)
    day = at.date().strftime("%d/%m/%Y")
    data = hostile_csv(
        [[referral.tracking_code, "", HOSTILE, day, "325.00", "EUR"], ["", SHORT, HOSTILE, day, "5", "EUR"]]
    )
    statement = statement_import(
        partner=partner, data=data, name=f"{SHORT}.csv", conventions=DOT, actor=users["Finance"]
    )
    unknown = statement.items.get(category="unknown_referral")
    follow_up = timezone.localdate() + timedelta(days=3)
    item_resolve(item=unknown, action="dispute", note=HOSTILE, follow_up_on=follow_up, actor=users["Finance"])
    return {"users": users, "partner": partner, "statement": statement, "unknown": unknown}


@pytest.mark.parametrize("role", ["Finance", "Manager"])
def test_statement_pages_show_hostile_text_escaped(client, world, role):
    client.force_login(world["users"][role])
    statement, unknown = world["statement"], world["unknown"]
    pages = [
        reverse("finance:statements"),
        reverse("finance:statement", args=[statement.pk]) + "?category=unknown_referral&state=all",
        reverse("finance:statement", args=[statement.pk]) + "?category=matched",
        reverse("finance:reconcile_item", args=[unknown.pk]),
        reverse("finance:reconcile_item", args=[unknown.pk]) + "?q=" + "%3Cscript%3E",
        reverse("finance:statement_settings", args=[world["partner"].pk]),
    ]
    for url in pages:
        response = client.get(url)

        assert response.status_code == 200, url
        assert_safe(response.text, f"{url} as {role}")


def test_the_upload_check_step_shows_hostile_headers_and_cells_escaped(client, world):
    client.force_login(world["users"]["Finance"])
    data = hostile_csv([["PT-NOPE2345", "", HOSTILE, HOSTILE, "5.00", "EUR"]])  # its date: not a date

    response = client.post(
        reverse("finance:statement_upload"),
        {"partner": world["partner"].pk, "file": SimpleUploadedFile(f"{SHORT}.csv", data)},
    )

    assert response.status_code == 422
    assert response.context["errors"][0].column == "Date"
    assert_safe(response.text, "the upload's check step")
