"""The statement pages: the list, uploading (straight in when the remembered columns fit, else the check step with
the mapping, conventions and every bad row), the partner's matching settings. Roles, methods, htmx fragments and
query counts."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from finance.models import PartnerStatement, StatementSettings
from tests.factories import FeeAgreementFactory, PartnerFactory
from tests.factories.finance import converted_referral
from tests.factories.statements import line, reconciled_statement, statement_csv, statement_xlsx

pytestmark = pytest.mark.django_db
LIST = reverse("finance:statements")
UPLOAD = reverse("finance:statement_upload")


def upload(client, partner, data: bytes, name="statement.csv", **extra):
    return client.post(UPLOAD, {"partner": partner.pk, "file": SimpleUploadedFile(name, data), **extra})


def check_post(client, response, **changes):
    """Post the check step as the page would: every field as shown, with `changes`."""
    check = response.context["check"]
    data = {"token": response.context["token"]}
    for name in check.fields:
        value = check[name].value()
        data[name] = "" if value is None else value
    data.update(changes)
    return client.post(UPLOAD, data)


@pytest.fixture
def at():
    return timezone.now() - timedelta(days=5)


# The list ----------------------------------------------------------------------------------------------------


def test_statement_list_shows_each_statement_with_what_is_left_to_decide(finance_client, partner, at):
    referral = converted_referral(partner=partner, at=at)
    statement = reconciled_statement(
        partner, [line(referral.tracking_code, "325.00", day=at.date()), line("PT-NOPE2345", "5.00", day=at.date())]
    )

    response = finance_client.get(LIST)

    assert response.status_code == 200
    row = next(row for row in response.context["table"].rows if row.record.pk == statement.pk)
    assert (row.record.line_count, row.record.matched_count, row.record.open_count) == (2, 1, 1)
    assert b"Upload a statement" in response.content


def test_statement_list_runs_the_same_queries_for_one_or_five_statements(finance_client, partner, at):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert finance_client.get(LIST).status_code == 200
        return len(queries)

    reconciled_statement(partner, [line("PT-NOPE2340", "5.00", day=at.date())], name="0.csv")
    one = count()
    for n in range(1, 5):
        reconciled_statement(partner, [line(f"PT-NOPE234{n}", "5.00", day=at.date())], name=f"{n}.csv")
    five = count()

    assert one == five


def test_statement_list_answers_htmx_with_its_table_only(finance_client, htmx_headers):
    response = finance_client.get(LIST, headers=htmx_headers("statement-table-region"))

    assert response.status_code == 200
    assert b'id="statement-table-region"' in response.content
    assert b"<html" not in response.content


def test_managers_read_the_list_without_the_upload_button(manager_client):
    response = manager_client.get(LIST)

    assert response.status_code == 200
    assert b"Upload a statement" not in response.content


# Uploading ---------------------------------------------------------------------------------------------------


def test_a_first_statement_goes_to_the_check_step_with_guessed_columns(finance_client, partner, at):
    data = statement_csv([line("PT-NOPE2345", "5.00", day=at.date())])

    response = upload(finance_client, partner, data)

    assert response.status_code == 200
    assert response.context["reading"].mapping["Amount"] == "amount"
    assert b"Import and reconcile" in response.content
    assert not PartnerStatement.objects.exists()


def test_the_check_step_imports_and_remembers_so_the_next_file_goes_straight_in(finance_client, partner, at):
    referral = converted_referral(partner=partner, at=at)
    first = upload(finance_client, partner, statement_csv([line(referral.tracking_code, "325.00", day=at.date())]))

    imported = check_post(finance_client, first, action="import", default_currency="EUR")
    statement = PartnerStatement.objects.get()
    second = upload(
        finance_client, partner, statement_csv([line("PT-NOPE2345", "5.00", day=at.date())]), name="feb.csv"
    )

    assert imported.status_code == 302
    assert imported["Location"] == reverse("finance:statement", args=[statement.pk])
    assert list(statement.items.values_list("category", flat=True)) == ["matched"]
    assert StatementSettings.objects.get(partner=partner).default_currency == "EUR"
    assert second.status_code == 302  # remembered columns fit and every row reads: imported and reconciled at once
    assert PartnerStatement.objects.count() == 2


def test_bad_rows_are_listed_with_row_column_and_reason_and_nothing_is_stored(finance_client, partner, at):
    data = statement_csv([line("PT-NOPE2345", "1,5", day=at.date()), line("PT-NOPE2346", "5.00", day="32/01/2026")])

    response = upload(finance_client, partner, data)
    refused = check_post(finance_client, response, action="import")

    assert response.status_code == 422
    assert [(e.row, e.column) for e in response.context["errors"]] == [(4, "Amount"), (5, "Date")]
    assert b"2 rows cannot be read" in response.content
    assert refused.status_code == 422
    assert "2 rows cannot be read, so nothing was imported" in refused.content.decode()
    assert not PartnerStatement.objects.exists()


def test_changing_the_convention_rereads_the_file(finance_client, partner, at, htmx_headers):
    data = statement_csv([line("PT-NOPE2345", "1.234,50", day=at.date())])
    response = upload(finance_client, partner, data)
    check = response.context["check"]
    data = {"token": response.context["token"], "action": "preview"}
    data |= {name: check[name].value() or "" for name in check.fields}
    data["decimal_separator"] = ","

    reread = finance_client.post(UPLOAD, data, headers=htmx_headers("statement-check"))

    assert reread.status_code == 200
    assert b"<html" not in reread.content
    assert reread.context["reading"].parsed.errors == []
    assert [ln.amount for ln in reread.context["reading"].parsed.lines] == [D("1234.50")]


def test_a_check_step_with_a_field_that_does_not_exist_is_422(finance_client, partner, at):
    response = upload(finance_client, partner, statement_csv([line("PT-NOPE2345", "5.00", day=at.date())]))

    refused = check_post(finance_client, response, **{"map-0": "colour", "sheet": "Nope", "action": "import"})

    assert refused.status_code == 422
    assert "map-0" in refused.context["check"].errors
    assert not PartnerStatement.objects.exists()


def test_the_same_file_twice_is_refused_on_the_upload(finance_client, partner, at):
    data = statement_csv([line("PT-NOPE2345", "5.00", day=at.date())])
    first = reconciled_statement(partner, [line("PT-NOPE2345", "5.00", day=at.date())])

    response = upload(finance_client, partner, data)

    assert response.status_code == 422
    assert f"This file was imported already: statement {first.pk}" in response.context["form"].errors["file"][0]


def test_a_file_that_is_not_a_statement_is_refused_naming_the_file_field(finance_client, partner):
    response = upload(finance_client, partner, b"%PDF-1.7 \x00\x01", name="statement.pdf")

    assert response.status_code == 422
    assert response.context["form"].errors["file"] == ["This is not a CSV or XLSX file (it looks like a PDF)."]


def test_an_xlsx_statement_is_uploaded(finance_client, partner, at):
    referral = converted_referral(partner=partner, at=at)
    StatementSettings.objects.create(
        partner=partner, default_currency="EUR",
        column_mapping={"Tracking code": "tracking_code", "Date": "line_date", "Amount": "amount", "Fee": "fee_kind"},
    )  # fmt: skip
    data = statement_xlsx([[referral.tracking_code, "", "", at.date(), "accepted", 25, ""]])

    response = upload(finance_client, partner, data, name="acme.xlsx")

    assert response.status_code == 302
    assert list(PartnerStatement.objects.get().items.values_list("category", "line__row_number")) == [
        ("matched", 4),
        ("missing", None),
        ("missing", None),
    ]


def test_a_lost_upload_token_sends_back_to_the_upload_form(finance_client):
    response = finance_client.post(UPLOAD, {"token": "gone", "action": "import"})

    assert response.status_code == 302
    assert response["Location"] == UPLOAD


def test_upload_without_a_partner_or_file_names_the_fields(finance_client):
    response = finance_client.post(UPLOAD, {})

    assert response.status_code == 422
    assert set(response.context["form"].errors) == {"partner", "file"}


def test_upload_refuses_other_methods(finance_client):
    assert finance_client.put(UPLOAD).status_code == 405


# Matching settings -------------------------------------------------------------------------------------------


def test_finance_saves_matching_settings_in_the_partners_convention(finance_client, finance_user):
    partner = FeeAgreementFactory(partner__decimal_separator=",").partner
    url = reverse("finance:statement_settings", args=[partner.pk])

    response = finance_client.post(url, {"match_window_days": "30", "tolerance_amount": "1,50",
                                         "tolerance_percent": "2,5%"})  # fmt: skip

    settings = StatementSettings.objects.get(partner=partner)
    assert response.status_code == 302
    assert (settings.match_window_days, settings.tolerance_amount, settings.tolerance_percent) == (
        30, D("1.50"), D("2.50"),
    )  # fmt: skip


def test_matching_settings_refuse_bad_values(finance_client):
    partner = PartnerFactory()
    url = reverse("finance:statement_settings", args=[partner.pk])

    response = finance_client.post(
        url, {"match_window_days": "900", "tolerance_amount": "-1", "tolerance_percent": "x"}
    )

    assert response.status_code == 422
    assert set(response.context["form"].errors) == {"match_window_days", "tolerance_amount", "tolerance_percent"}
    assert not StatementSettings.objects.exists()


def test_managers_read_matching_settings_but_may_not_change_them(manager_client):
    partner = PartnerFactory()
    url = reverse("finance:statement_settings", args=[partner.pk])

    page = manager_client.get(url)
    post = manager_client.post(url, {"match_window_days": "30", "tolerance_amount": "0", "tolerance_percent": "0"})

    assert page.status_code == 200
    assert b'aria-label="Matching settings"' not in page.content
    assert post.status_code == 403
    assert not StatementSettings.objects.exists()


def test_matching_settings_of_an_unknown_partner_is_404(finance_client):
    assert finance_client.get(reverse("finance:statement_settings", args=[99999])).status_code == 404
