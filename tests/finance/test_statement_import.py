"""Importing a partner's statement: whole or not at all, every bad row named, the same file refused, the partner's
columns and conventions remembered, CSV and XLSX alike."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from finance.models import AuditEntry, DateOrder, PartnerStatement, StatementLine, StatementSettings
from finance.services import FinanceError
from finance.services.statements import StatementRejected, statement_import, statement_read
from finance.statements.cells import Conventions, email_hash
from tests.factories import FeeAgreementFactory
from tests.factories.statements import DOT, line, statement_csv, statement_xlsx

pytestmark = pytest.mark.django_db
JAN = date(2026, 1, 15)


def test_statement_import_stores_every_line_and_audits_it(partner, finance_user):
    rows = [
        line("PT-ABCD2345", "125.00", day=JAN, kind="conversion"),
        line("", "(25.00)", reference="INV-7", email="Ada@Example.com", day=date(2026, 1, 31)),
    ]

    statement = statement_import(
        partner=partner, data=statement_csv(rows), name="acme-jan.csv", conventions=DOT, actor=finance_user,
        reconcile=False,
    )  # fmt: skip

    assert (statement.period_start, statement.period_end) == (JAN, date(2026, 1, 31))  # from the lines' dates
    assert (statement.line_count, statement.status, statement.imported_by) == (2, "imported", finance_user)
    assert (statement.decimal_separator, statement.date_order, statement.original_name) == (".", "dmy", "acme-jan.csv")
    lines = list(statement.lines.values_list("row_number", "tracking_code", "partner_reference", "email_hash",
                                             "line_date", "amount", "currency", "fee_kind"))  # fmt: skip
    assert lines == [
        (4, "PT-ABCD2345", "", "", JAN, D("125.00"), "EUR", "conversion"),
        (5, "", "INV-7", email_hash("ada@example.com"), date(2026, 1, 31), D("-25.00"), "EUR", ""),
    ]
    assert statement.file.read() == statement_csv(rows)
    entry = AuditEntry.objects.get(action="statement_imported")
    assert (entry.actor, entry.subject_id, entry.partner) == (finance_user, statement.pk, partner)
    assert (
        entry.summary
        == f"Statement {statement.pk} of Acme Lending imported from acme-jan.csv: 2 lines, 2026-01-15 to 2026-01-31"
    )


def test_a_statement_with_bad_rows_is_refused_whole_and_every_row_is_named(partner):
    rows = [
        line("PT-ABCD2345", "125.00", day=JAN),
        line("PT-ABCD2346", "1,5", day=JAN),
        line("PT-ABCD2347", "12.00", day="31/13/2026"),
        line("", "3.00", day=JAN),
    ]

    with pytest.raises(StatementRejected) as caught:
        statement_import(partner=partner, data=statement_csv(rows), name="bad.csv", conventions=DOT)

    assert caught.value.message == (
        "3 rows cannot be read, so nothing was imported: correct them (or the conventions) and upload the file again."
    )
    assert [(e.row, e.column) for e in caught.value.rows] == [(5, "Amount"), (6, "Date"), (7, "")]
    assert "With ',' as the decimal mark it would read 1.50" in caught.value.rows[0].reason
    assert not PartnerStatement.objects.exists()
    assert not StatementLine.objects.exists()
    assert not StatementSettings.objects.exists()  # nothing remembered either


def test_the_same_file_twice_is_refused_naming_the_first_import(partner, finance_user):
    data = statement_csv([line("PT-ABCD2345", "125.00", day=JAN)])
    first = statement_import(partner=partner, data=data, name="jan.csv", conventions=DOT, actor=finance_user)

    with pytest.raises(FinanceError) as caught:
        statement_import(partner=partner, data=data, name="jan-again.csv", conventions=DOT)

    assert caught.value.errors == {"file": [caught.value.message]}
    assert caught.value.message.startswith(
        f"This file was imported already: statement {first.pk} (jan.csv, 2026-01-15 to 2026-01-15), by finance on "
    )
    assert PartnerStatement.objects.count() == 1
    other = FeeAgreementFactory().partner
    assert statement_import(partner=other, data=data, name="jan.csv", conventions=DOT).partner == other


def test_columns_and_conventions_are_mapped_once_and_remembered(partner):
    headers = ["Ref X", "Betrag", "Datum"]
    mapping = {"Ref X": "tracking_code", "Betrag": "amount", "Datum": "line_date"}
    conventions = Conventions(decimal_separator=",", date_order=DateOrder.MDY, default_currency="CHF")
    first = statement_csv([["PT-ABCD2345", "1.234,50", "01/31/2026"]], headers=headers)

    statement_import(partner=partner, data=first, name="a.csv", mapping=mapping, conventions=conventions)
    second = statement_read(
        partner=partner, data=statement_csv([["PT-ABCD2346", "CHF 1'234,50", "02/28/2026"]], headers=headers),
        name="b.csv",
    )  # fmt: skip

    settings = StatementSettings.objects.get(partner=partner)
    assert settings.column_mapping == mapping
    assert (settings.decimal_separator, settings.date_order, settings.default_currency) == (",", "mdy", "CHF")
    assert second.mapping_remembered
    assert second.mapping == mapping
    assert second.conventions == conventions
    assert [(ln.amount, ln.currency, ln.line_date) for ln in second.parsed.lines] == [
        (D("1234.50"), "CHF", date(2026, 2, 28))
    ]


def test_without_dates_the_period_must_be_given(partner):
    data = statement_csv([line("PT-ABCD2345", "125.00")])

    with pytest.raises(FinanceError) as caught:
        statement_import(partner=partner, data=data, name="nodates.csv", conventions=DOT)
    statement = statement_import(
        partner=partner, data=data, name="nodates.csv", conventions=DOT, period_start=date(2026, 2, 1),
        period_end=date(2026, 2, 28),
    )  # fmt: skip

    assert caught.value.errors == {"period_start": ["The lines have no dates: give the period the statement covers."]}
    assert (statement.period_start, statement.period_end) == (date(2026, 2, 1), date(2026, 2, 28))


def test_a_period_that_ends_before_it_starts_is_refused(partner):
    data = statement_csv([line("PT-ABCD2345", "125.00", day=JAN)])

    with pytest.raises(FinanceError) as caught:
        statement_import(
            partner=partner, data=data, name="p.csv", conventions=DOT, period_start=JAN, period_end=JAN - timedelta(1)
        )

    assert caught.value.errors == {"period_end": ["The period ends before it starts."]}


def test_a_mapping_without_an_amount_is_refused(partner):
    data = statement_csv([line("PT-ABCD2345", "125.00", day=JAN)])

    with pytest.raises(FinanceError) as caught:
        statement_import(
            partner=partner, data=data, name="m.csv", conventions=DOT, mapping={"Tracking code": "tracking_code"}
        )

    assert caught.value.message == "Column mapping: No column is mapped to Amount."


def test_an_xlsx_statement_on_its_second_sheet_is_imported(partner):
    rows = [["PT-ABCD2345", "", "", date(2026, 1, 31), "accepted", 25, "EUR"], line("PT-ABCD2346", "1,234.00", day=JAN)]

    statement = statement_import(
        partner=partner, data=statement_xlsx(rows), name="acme.xlsx", conventions=DOT, reconcile=False
    )

    assert list(statement.lines.values_list("row_number", "tracking_code", "line_date", "amount", "fee_kind")) == [
        (4, "PT-ABCD2345", date(2026, 1, 31), D("25.00"), "accepted"),
        (5, "PT-ABCD2346", JAN, D("1234.00"), ""),
    ]


def test_an_empty_statement_is_refused(partner):
    with pytest.raises(FinanceError) as caught:
        statement_import(partner=partner, data=statement_csv([]), name="empty.csv", conventions=DOT)

    assert caught.value.message == "The statement has no lines below its header."


def test_total_rows_are_skipped_and_said_so(partner):
    rows = [line("PT-ABCD2345", "125.00", day=JAN), ["Total", "", "", "", "", "125.00", ""]]

    statement = statement_import(partner=partner, data=statement_csv(rows), name="t.csv", conventions=DOT)

    assert statement.line_count == 1
    assert AuditEntry.objects.get(action="statement_imported").summary.endswith("; 1 total row(s) skipped")


def test_an_import_reconciles_by_default(partner):
    today = timezone.localdate()

    statement = statement_import(
        partner=partner, data=statement_csv([line("PT-NOPE2345", "5.00", day=today)]), name="r.csv", conventions=DOT
    )

    assert statement.status == "reconciled"
    assert list(statement.items.values_list("category", flat=True)) == ["unknown_referral"]
