import csv
import io
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from finance import services
from finance.models import AuditEntry
from partners.models import FeeAccrual
from tests.factories import FeeAgreementFactory
from tests.factories.finance import converted_referral, fee

pytestmark = pytest.mark.django_db
URL = reverse("finance:ledger")


@pytest.fixture
def books(partner):
    """Acme (EUR): an old referral, half paid; a new one; Pound Partner (GBP): one referral."""
    now = timezone.now()
    old = converted_referral(partner=partner, deal_value="1000", at=now - timedelta(days=60))  # 25 + 100 + 100
    new = converted_referral(partner=partner, deal_value="3000", at=now)  # 25 + 100 + 300
    pounds = converted_referral(partner=FeeAgreementFactory(currency="GBP", partner__name="Pound Partner").partner)
    payment = services.payment_record(partner=partner, amount=D("125.00"), currency="EUR",
                                      received_on=timezone.localdate())  # fmt: skip
    services.payment_allocate_auto(payment=payment)  # pays old accepted + conversion
    return old, new, pounds


def kinds(response) -> list[tuple]:
    return [(row.record.referral_id, row.record.kind) for row in response.context["table"].page.object_list]


# The list ----------------------------------------------------------------------------------------------------------


def test_ledger_lists_every_row_with_totals_per_currency(finance_client, books):
    response = finance_client.get(URL)

    assert response.status_code == 200
    assert len(response.context["table"].page.object_list) == 9
    assert response.context["totals"] == [("EUR", D("650.00")), ("GBP", D("325.00"))]
    assert "<strong>650.00 EUR</strong>, <strong>325.00 GBP</strong>" in response.text


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"kind": "conversion_percent", "currency": "eur"},
            {("old", "conversion_percent"), ("new", "conversion_percent")},
        ),
        ({"state": "settled"}, {("old", "accepted"), ("old", "conversion")}),
        (
            {"posted_to": (timezone.localdate() - timedelta(days=1)).isoformat()},
            {("old", "accepted"), ("old", "conversion"), ("old", "conversion_percent")},
        ),
        (
            {"due_from": (timezone.localdate() + timedelta(days=1)).isoformat(), "currency": "EUR", "kind": "accepted"},
            {("new", "accepted")},
        ),
    ],
)
def test_ledger_filters(finance_client, books, params, expected):
    old, new, _ = books
    names = {old.pk: "old", new.pk: "new"}

    response = finance_client.get(URL, params)

    assert {(names.get(referral, "gbp"), kind) for referral, kind in kinds(response)} == expected


def test_ledger_filters_open_rows_and_by_partner(finance_client, books, partner):
    response = finance_client.get(URL, {"state": "open", "partner": partner.pk})

    assert len(kinds(response)) == 4
    assert response.context["totals"] == [("EUR", D("525.00"))]


def test_ledger_finds_a_tracking_code(finance_client, books):
    _, new, _ = books

    response = finance_client.get(URL, {"q": new.tracking_code.lower()})

    assert {referral for referral, _ in kinds(response)} == {new.pk}


def test_ledger_htmx_table_request_returns_only_the_table(finance_client, books, htmx_headers):
    response = finance_client.get(URL, headers=htmx_headers("ledger-table-region"))

    assert response.text.lstrip().startswith('<div id="ledger-table-region"')
    assert '<nav class="navbar' not in response.text


def test_ledger_refuses_post(finance_client):
    assert finance_client.post(URL).status_code == 405


@pytest.mark.parametrize("referrals", [1, 5])
def test_ledger_query_count_does_not_grow_with_rows(finance_client, partner, django_assert_num_queries, referrals):
    for _ in range(referrals):
        converted_referral(partner=partner)
    finance_client.get(URL)

    # session, user, 2 x permissions, roles, partner choices (count + rows), row count, totals, the page's rows (what
    # is open on each row's fee as subqueries)
    with django_assert_num_queries(10):
        finance_client.get(URL)


# A fee's page and its corrections -----------------------------------------------------------------------------------


def test_accrual_page_shows_corrections_payments_and_audit(finance_client, books):
    old, _, _ = books
    conversion = fee(old, "conversion")
    services.accrual_adjust(accrual=conversion, amount=D("20.00"), reason="Extra onboarding")

    response = finance_client.get(reverse("finance:accrual", args=[conversion.pk]))

    history = response.context["history"]
    assert (history["net"], history["paid"], history["open"]) == (D("120.00"), D("100.00"), D("20.00"))
    assert "Adjustment: Extra onboarding" in response.text
    assert "Adjust the fee" in response.text
    assert [entry.action for entry in response.context["audit"]] == ["correction"]


def test_accrual_page_of_a_correction_shows_its_fee(finance_client, books):
    conversion = fee(books[0], "conversion")
    row = services.accrual_adjust(accrual=conversion, amount=D("5.00"), reason="Rounding")

    response = finance_client.get(reverse("finance:accrual", args=[row.pk]))

    assert response.context["item"] == conversion
    assert f"Row FEE-{row.pk} (adjustment) corrects this fee." in response.text


def test_accrual_page_is_read_only_for_managers(manager_client, books):
    response = manager_client.get(reverse("finance:accrual", args=[fee(books[0], "conversion").pk]))

    assert response.status_code == 200
    assert "Adjust the fee" not in response.text


def test_accrual_page_of_a_missing_row_is_404(finance_client):
    assert finance_client.get(reverse("finance:accrual", args=[999999])).status_code == 404


def test_adjust_appends_a_row_read_in_the_partners_convention(finance_client, finance_user, books, partner):
    partner.decimal_separator = ","
    partner.save(update_fields=["decimal_separator"])
    item = fee(books[1], "conversion_percent")

    response = finance_client.post(
        reverse("finance:accrual_adjust", args=[item.pk]), {"adjust-amount": "-12,50", "adjust-reason": "Discount"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("finance:accrual", args=[item.pk])
    row = item.corrections.get()
    assert (row.kind, row.amount, row.created_by) == ("adjustment", D("-12.50"), finance_user)


def test_adjust_refuses_going_below_zero_on_the_amount_field(finance_client, books):
    item = fee(books[1], "accepted")

    response = finance_client.post(
        reverse("finance:accrual_adjust", args=[item.pk]), {"adjust-amount": "-30.00", "adjust-reason": "Too much"}
    )

    assert response.status_code == 422
    assert response.context["adjust"].errors["amount"] == [
        "That would take the fee below zero: it stands at 25.00 EUR, so the most it can go down by is 25.00 EUR."
    ]
    assert not item.corrections.exists()


def test_adjust_refuses_text_that_is_not_an_amount(finance_client, books):
    item = fee(books[1], "accepted")

    response = finance_client.post(
        reverse("finance:accrual_adjust", args=[item.pk]), {"adjust-amount": "ten", "adjust-reason": "Typo"}
    )

    assert response.status_code == 422
    assert response.context["adjust"].errors["amount"]
    assert not item.corrections.exists()


def test_write_off_writes_off_what_is_open(finance_client, books):
    item = fee(books[0], "conversion_percent")

    response = finance_client.post(
        reverse("finance:accrual_write_off", args=[item.pk]), {"writeoff-reason": "Partner went bust"}
    )

    assert response.status_code == 302
    row = item.corrections.get()
    assert (row.kind, row.amount, row.basis) == ("write_off", D("-100.00"), "Write-off: Partner went bust")
    assert services.item_open(item) == D("0.00")
    assert AuditEntry.objects.filter(action="correction", subject_id=item.pk).count() == 1


def test_write_off_refuses_more_than_is_open(finance_client, books):
    item = fee(books[0], "conversion")  # paid

    response = finance_client.post(
        reverse("finance:accrual_write_off", args=[item.pk]), {"writeoff-amount": "5", "writeoff-reason": "Bad debt"}
    )

    assert response.status_code == 422
    assert "Nothing is open on this fee: there is nothing to write off." in response.text


def test_corrections_are_refused_to_managers(manager_client, books):
    item = fee(books[0], "conversion_percent")

    response = manager_client.post(
        reverse("finance:accrual_write_off", args=[item.pk]), {"writeoff-reason": "Not mine to do"}
    )

    assert response.status_code == 403
    assert not FeeAccrual.objects.filter(kind="write_off").exists()


# Statement of account --------------------------------------------------------------------------------------------


@pytest.fixture
def account_books(partner):
    """A fee in March 2026 (before the period), a fee and a payment in April, a hostile write-off reason."""
    march = timezone.make_aware(timezone.datetime(2026, 3, 10, 12))
    april = timezone.make_aware(timezone.datetime(2026, 4, 5, 12))
    first = converted_referral(partner=partner, deal_value="1000", at=march)  # 225.00
    second = converted_referral(partner=partner, deal_value="2000", at=april)  # 325.00
    payment = services.payment_record(partner=partner, amount=D("200.00"), currency="EUR",
                                      received_on=april.date(), reference="=HYPERLINK(1)", now=april)  # fmt: skip
    services.accrual_write_off(accrual=fee(second, "accepted"), reason="=cmd|' /C calc'!A0", now=april)
    return first, second, payment


def test_statement_of_account_page(finance_client, account_books, partner):
    response = finance_client.get(
        reverse("finance:account", args=[partner.pk]), {"start": "2026-04-01", "end": "2026-04-30"}
    )

    section = response.context["sections"][0]
    assert (section.currency, section.opening, section.charged, section.credited, section.closing) == (
        "EUR",
        D("225.00"),
        D("325.00"),
        D("225.00"),
        D("325.00"),
    )
    assert [(line.kind, line.charged, line.credited, line.balance) for line in section.lines] == [
        ("Referral accepted", D("25.00"), None, D("250.00")),
        ("Conversion (flat)", D("100.00"), None, D("350.00")),
        ("Conversion (share of deal)", D("200.00"), None, D("550.00")),
        ("Write-off", None, D("25.00"), D("525.00")),
        ("Received", None, D("200.00"), D("325.00")),
    ]
    assert "Balance carried forward (owed to us)" in response.text


def test_statement_of_account_refuses_a_backwards_period(finance_client, partner):
    response = finance_client.get(
        reverse("finance:account", args=[partner.pk]), {"start": "2026-04-30", "end": "2026-04-01"}
    )

    assert response.status_code == 422
    assert "The last day is before the first day." in response.text


def test_statement_of_account_csv_is_formula_safe(finance_client, account_books, partner):
    response = finance_client.get(
        reverse("finance:account_csv", args=[partner.pk]), {"start": "2026-04-01", "end": "2026-04-30"}
    )

    assert response["Content-Disposition"] == f'attachment; filename="statement-{partner.slug}-20260401-20260430.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == [
        "Date",
        "Entry",
        "Type",
        "Reference",
        "Description",
        "Charged",
        "Paid or credited",
        "Balance",
        "Currency",
    ]
    assert rows[1] == ["2026-04-01", "", "Balance brought forward", "", "", "", "", "225.00", "EUR"]
    second, payment = account_books[1], account_books[2]
    write_off = second.accruals.get(kind="write_off")
    assert rows[5] == ["2026-04-05", f"FEE-{write_off.pk}", "Write-off", second.tracking_code,
                       "Write-off: =cmd|' /C calc'!A0", "", "25.00", "525.00", "EUR"]  # fmt: skip
    assert rows[6] == [
        "2026-04-05",
        f"PAY-{payment.pk}",
        "Received",
        "'=HYPERLINK(1)",
        "Payment received",
        "",
        "200.00",
        "325.00",
        "EUR",
    ]  # fmt: skip  (the reference is escaped: never a formula)
    assert rows[-1] == ["2026-04-30", "", "Balance carried forward", "", "", "325.00", "225.00", "325.00", "EUR"]


def test_statement_of_account_xlsx_reads_back_with_numbers_as_numbers(finance_client, account_books, partner):
    response = finance_client.get(
        reverse("finance:account_xlsx", args=[partner.pk]), {"start": "2026-04-01", "end": "2026-04-30"}
    )

    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][2:] == ("Balance brought forward", None, None, None, None, 225, "EUR")
    assert rows[6][3] == "=HYPERLINK(1)"  # text, never a formula
    assert sheet.cell(row=7, column=4).data_type == "s"
    assert rows[-1][5:8] == (325, 225, 325)


def test_statement_of_account_of_a_missing_partner_is_404(finance_client):
    assert finance_client.get(reverse("finance:account", args=[999999])).status_code == 404
    assert finance_client.get(reverse("finance:account_csv", args=[999999])).status_code == 404
