"""Statement cells read in the partner's conventions, as tables: amounts through common.money (and what it refuses),
dates in the partner's order (and what cannot be read), fee kinds, keys, total rows and the column mapping."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from finance.models import DateOrder
from finance.statements.cells import (
    CellError,
    Conventions,
    email_hash,
    parse_amount_cell,
    parse_date_cell,
    parse_kind,
    tracking_code,
)
from finance.statements.parsing import EMAIL_KEPT_AS, guess_mapping, mapping_problems, parse_rows

DOT = Conventions(decimal_separator=".", default_currency="")
COMMA = Conventions(decimal_separator=",", default_currency="")


@pytest.mark.parametrize(
    ("text", "conventions", "currency", "amount", "named"),
    [
        ("1.234,56", COMMA, "EUR", "1234.56", "EUR"),
        ("$1,234.56", DOT, "", "1234.56", ""),  # "$" names several currencies: the statement's currency decides
        ("$1,234.56", DOT, "USD", "1234.56", "USD"),
        ("(12.00)", DOT, "GBP", "-12.00", "GBP"),
        ("12.00-", DOT, "GBP", "-12.00", "GBP"),
        ("−12.00", DOT, "GBP", "-12.00", "GBP"),
        ("CHF 1'234.50", DOT, "", "1234.50", "CHF"),
        ("CHF 1'234.50", DOT, "CHF", "1234.50", "CHF"),
        ("€ 1.234,56", COMMA, "", "1234.56", "EUR"),
        ("£1,234", DOT, "", "1234.00", "GBP"),
        ("1 234,50", COMMA, "EUR", "1234.50", "EUR"),
        ("0,5", COMMA, "EUR", "0.50", "EUR"),
        ("12", COMMA, "EUR", "12.00", "EUR"),
        (Decimal("99.5"), COMMA, "EUR", "99.50", "EUR"),
        (1234.56, COMMA, "EUR", "1234.56", "EUR"),  # a workbook's number cell is a number, whatever the convention
        (7, DOT, "EUR", "7.00", "EUR"),
    ],
)
def test_amounts_are_read_in_the_partners_convention(text, conventions, currency, amount, named):
    assert parse_amount_cell(text, conventions, currency) == (Decimal(amount), named)


@pytest.mark.parametrize(
    ("text", "conventions", "currency", "reason"),
    [
        ("1,5", DOT, "EUR", "With ',' as the decimal mark it would read 1.50; check the convention."),
        ("1.234,56", DOT, "EUR", "With ',' as the decimal mark it would read 1234.56; check the convention."),
        ("1.234", Conventions(decimal_separator=".", default_currency=""), "EUR", "has 3 decimals"),
        ("12.345", DOT, "EUR", "EUR amounts have at most 2 decimals"),
        ("CHF 12.00", DOT, "EUR", "'CHF 12.00' is in CHF, but this amount is in EUR."),
        ("(12.00)-", DOT, "EUR", "it has more than one sign"),
        ("12 apples", DOT, "EUR", "'apples' is not a currency code or symbol we know"),
        ("abc", DOT, "EUR", "it has no digits"),
        ("1e5", DOT, "EUR", "write all the digits, not an exponent"),
        ("1,23,4", DOT, "EUR", "separates thousands in groups of three digits"),
        ("2000000000000", DOT, "EUR", "too large for a fee"),
        (float("nan"), DOT, "EUR", "not a finite number"),
        (True, DOT, "EUR", "is not an amount"),
    ],
)
def test_amounts_that_do_not_fit_or_are_ambiguous_are_refused_with_how_they_read(text, conventions, currency, reason):
    with pytest.raises(CellError) as caught:
        parse_amount_cell(text, conventions, currency)

    assert reason in str(caught.value)


def test_a_lone_group_of_three_reads_by_the_convention_never_by_a_guess():
    with pytest.raises(CellError) as caught:
        parse_amount_cell("1,234", COMMA, "")

    assert str(caught.value) == (
        "'1,234' read as 1.234 with ',' as the decimal mark, which has 3 decimals; amounts have at most 2 decimals. "
        "With '.' as the decimal mark it would read 1234; check the convention."
    )
    assert parse_amount_cell("1,234", DOT, "") == (Decimal("1234.00"), "")


@pytest.mark.parametrize(
    ("value", "order", "expected"),
    [
        ("31/01/2026", DateOrder.DMY, date(2026, 1, 31)),
        ("01/31/2026", DateOrder.MDY, date(2026, 1, 31)),
        ("03/02/2026", DateOrder.DMY, date(2026, 2, 3)),
        ("03/02/2026", DateOrder.MDY, date(2026, 3, 2)),
        ("3.2.2026", DateOrder.DMY, date(2026, 2, 3)),
        ("2026-01-31", DateOrder.DMY, date(2026, 1, 31)),  # year first is ISO whatever the order
        ("2026-01-31", DateOrder.MDY, date(2026, 1, 31)),
        ("2026/01/31", DateOrder.YMD, date(2026, 1, 31)),
        ("31/01/2026 14:05", DateOrder.DMY, date(2026, 1, 31)),
        ("31 Jan 2026", DateOrder.MDY, date(2026, 1, 31)),
        ("January 31, 2026", DateOrder.DMY, date(2026, 1, 31)),
        ("31-Jan-2026", DateOrder.DMY, date(2026, 1, 31)),
        (datetime(2026, 1, 31, 9, 30), DateOrder.MDY, date(2026, 1, 31)),  # a workbook's date cell
        (date(2026, 1, 31), DateOrder.DMY, date(2026, 1, 31)),
    ],
)
def test_dates_are_read_in_the_partners_order(value, order, expected):
    assert parse_date_cell(value, order) == expected


@pytest.mark.parametrize(
    ("value", "order", "reason"),
    [
        ("01/31/2026", DateOrder.DMY, "has no month 31: the partner's dates are day/month/year; is this file "
                                      "month/day/year?"),
        ("31/01/2026", DateOrder.MDY, "has no month 31: the partner's dates are month/day/year; is this file "
                                      "day/month/year?"),
        ("30/02/2026", DateOrder.DMY, "is not a day of the calendar (read as day/month/year)"),
        ("31/01/26", DateOrder.DMY, "write the year with four digits"),
        ("31/01/2026", DateOrder.YMD, "is not year-month-day, the partner's order for dates"),
        ("yesterday", DateOrder.DMY, "is not a date (day/month/year, like 31/01/2026)"),
        ("01/01/1890", DateOrder.DMY, "is outside the years 1990–2100"),
        (46000, DateOrder.DMY, "is a number, not a date"),
    ],
)  # fmt: skip
def test_dates_that_cannot_be_read_are_refused_with_the_reason(value, order, reason):
    with pytest.raises(CellError) as caught:
        parse_date_cell(value, order)

    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", ""),
        (None, ""),
        ("All", ""),
        ("Referral sent", "sent"),
        ("ACCEPTED", "accepted"),
        ("Conversion", "conversion"),
        ("Conversion (flat)", "conversion"),
        ("Commission", "conversion_percent"),
        ("conversion_percent", "conversion_percent"),
        ("Share of deal", "conversion_percent"),
    ],
)
def test_fee_kinds_as_partners_write_them(text, kind):
    assert parse_kind(text) == kind


def test_an_unknown_fee_kind_is_refused():
    with pytest.raises(CellError, match="“bonus” is not a fee kind we know"):
        parse_kind("bonus")


@pytest.mark.parametrize(
    ("text", "code"),
    [("PT-ABCD2345", "PT-ABCD2345"), ("pt-abcd2345", "PT-ABCD2345"), ("PT ABCD2345", "PT-ABCD2345"),
     (" PTABCD2345 ", "PT-ABCD2345"), ("X-1", "X-1")],
)  # fmt: skip
def test_tracking_codes_as_partners_copy_them(text, code):
    assert tracking_code(text) == code


def test_email_hash_is_of_the_trimmed_lowercased_address():
    assert email_hash(" Ada@Example.COM ") == email_hash("ada@example.com")
    assert len(email_hash("ada@example.com")) == 64


def test_mapping_is_guessed_from_everyday_headers_names_first():
    headers = ["Your Ref", "Invoice No.", "E-mail address", "Booking date", "Fee", "Amount (EUR)", "Ccy", "Memo", "X"]

    mapping = guess_mapping(headers)

    assert mapping == {
        "Your Ref": "tracking_code",
        "Invoice No.": "partner_reference",
        "E-mail address": "email",
        "Booking date": "line_date",
        "Fee": "fee_kind",  # "Amount" names the amount, so "Fee" is the kind
        "Amount (EUR)": "amount",
        "Ccy": "currency",
        "Memo": "description",
        "X": "",
    }
    assert guess_mapping(["Commission", "Tracking"]) == {"Commission": "amount", "Tracking": "tracking_code"}


def test_mapping_problems_are_named():
    headers = ["A", "B", "C"]

    assert mapping_problems({"A": "amount", "B": "tracking_code", "C": ""}, headers) == []
    assert mapping_problems({"A": "amount", "B": "amount"}, headers) == [
        "Columns “A” and “B” are both mapped to Amount.",
        "Map at least one column to match lines by: Tracking code, Partner's reference or Lead's email.",
    ]
    assert mapping_problems({"A": "tracking_code", "Z": "amount"}, headers) == [
        "Column “Z” is not in the file.",
        "No column is mapped to Amount.",
    ]
    assert (
        mapping_problems({"A": "colour", "B": "email"}, headers)[0] == "Column “A”: “colour” is not a statement field."
    )


HEADERS = ["Code", "Email", "Date", "Kind", "Amount", "Currency", "Notes"]
MAPPING = {
    "Code": "tracking_code",
    "Email": "email",
    "Date": "line_date",
    "Kind": "fee_kind",
    "Amount": "amount",
    "Currency": "currency",
    "Notes": "description",
}


def test_rows_become_lines_and_every_bad_row_is_reported_with_row_column_and_reason():
    rows = [
        (5, ["pt-abcd2345", "", "31/01/2026", "", "1.234,56", "eur", "January"]),
        (6, ["", "Ada@Example.com", "2026-01-15", "accepted", "(25,00)", "EUR", ""]),
        (7, ["PT-ABCD2346", "", "13/13/2026", "bonus", "1,2,3", "EUR", ""]),
        (8, ["", "", "", "", "10,00", "EUR", ""]),
        (9, ["PT-ABCD2347", "not-an-email", "", "", "5,00", "POU", ""]),
        (10, ["Total", "", "", "", "1.209,56", "", ""]),
        (11, ["PT-ABCD2348", "", "", "", "", "EUR"]),
    ]

    parsed = parse_rows(rows, HEADERS, MAPPING, Conventions(decimal_separator=",", date_order=DateOrder.DMY))

    assert [
        (line.row_number, line.tracking_code, line.amount, line.currency, line.fee_kind) for line in parsed.lines
    ] == [
        (5, "PT-ABCD2345", Decimal("1234.56"), "EUR", ""),
        (6, "", Decimal("-25.00"), "EUR", "accepted"),
    ]
    first, second = parsed.lines
    assert (first.line_date, first.description, first.email_hash) == (date(2026, 1, 31), "January", "")
    assert second.email_hash == email_hash("ada@example.com")
    assert second.raw["Email"] == EMAIL_KEPT_AS  # the address itself is not kept
    assert [(e.row, e.column, e.field) for e in parsed.errors] == [
        (7, "Amount", "Amount"),
        (7, "Date", "Date"),
        (7, "Kind", "Fee kind"),
        (8, "", ""),
        (9, "Currency", "Currency"),
        (11, "Amount", "Amount"),
    ]
    reasons = {(e.row, e.column): e.reason for e in parsed.errors}
    assert reasons[(7, "Date")] == "“13/13/2026” is not a day of the calendar (read as day/month/year)."
    assert reasons[(8, "")].startswith("nothing to match this line by")
    assert "'POU' is not an ISO 4217 currency code" in reasons[(9, "Currency")]
    assert reasons[(11, "Amount")] == "the amount is blank."
    assert parsed.skipped == [10]
    assert str(parsed.errors[0]).startswith("row 7, column “Amount”: '1,2,3'")


def test_a_line_without_any_currency_is_refused_and_a_default_currency_fills_it():
    rows = [(2, ["PT-ABCD2345", "", "", "", "12.00", "", ""])]

    refused = parse_rows(rows, HEADERS, MAPPING, DOT)
    filled = parse_rows(rows, HEADERS, MAPPING, Conventions(decimal_separator=".", default_currency="GBP"))

    assert [str(e) for e in refused.errors] == [
        "row 2, column “Amount”: no currency: the amount names none, no column is mapped to Currency and the "
        "statement has no default currency."
    ]
    assert [(line.amount, line.currency) for line in filled.lines] == [(Decimal("12.00"), "GBP")]


def test_a_nul_character_in_a_cell_is_refused_naming_the_column():
    parsed = parse_rows([(3, ["PT-ABCD2345", "", "", "", "1.00", "EUR", "bad\x00note"])], HEADERS, MAPPING, DOT)

    assert [(e.row, e.column) for e in parsed.errors] == [(3, "Notes")]
    assert "NUL character" in parsed.errors[0].reason


def test_a_nul_character_in_a_column_we_do_not_read_is_left_out_of_the_stored_row():
    headers = [*HEADERS, "Their notes"]
    row = [(3, ["PT-ABCD2345", "", "", "", "1.00", "EUR", "", "odd\x00cell"])]

    parsed = parse_rows(row, headers, MAPPING, DOT)

    assert parsed.errors == []
    assert parsed.lines[0].raw["Their notes"] == "oddcell"


@pytest.mark.parametrize(
    ("cells", "skipped"),
    [
        (["Total", "", "", "", "1.00", "EUR", ""], True),
        (["", "", "", "", "1.00", "EUR", "Grand total"], True),
        (["Sub-total", "", "", "", "1.00", "EUR", ""], True),
        (["PT-ABCD2345", "", "", "", "1.00", "EUR", "Total"], False),  # it names a referral: a line
        (["Totals", "", "", "", "1.00", "EUR", ""], False),
    ],
)
def test_rows_that_total_the_others_are_skipped(cells, skipped):
    parsed = parse_rows([(9, cells)], HEADERS, MAPPING, DOT)

    assert (parsed.skipped == [9]) is skipped
