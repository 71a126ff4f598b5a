"""common.money: amounts as people type them, ISO 4217 codes, the one rounding rule — as tables."""

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.money import (
    CURRENCY_CODES,
    AmountError,
    currency_code,
    format_amount,
    minor_units,
    money_round,
    parse_amount,
    read_amount,
)
from partners import fees

NNBSP = "\u202f"  # narrow no-break space, how French and Swiss software groups thousands
NBSP = "\u00a0"


# What is read, with no convention given (inferred) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.500,50", D("12500.50")),
        ("1.234,56", D("1234.56")),
        ("1.234.567,89", D("1234567.89")),
        ("1,234,567.89", D("1234567.89")),
        ("1,234,567", D("1234567.00")),
        ("1.234.567", D("1234567.00")),
        ("$1,234.56", D("1234.56")),
        ("£1,234", D("1234.00")),  # pounds are written with a decimal point: the comma can only group
        ("1,234 GBP", D("1234.00")),
        ("€ 1.234,56", D("1234.56")),
        ("€1.234,56", D("1234.56")),
        ("1.234,56 €", D("1234.56")),
        ("1 234,56", D("1234.56")),
        (f"1{NNBSP}234,56", D("1234.56")),
        (f"1{NBSP}234,56", D("1234.56")),
        ("1 234 567", D("1234567.00")),
        ("(12.00)", D("-12.00")),
        ("($12.00)", D("-12.00")),
        ("$(12.00)", D("-12.00")),
        ("(12.00) EUR", D("-12.00")),
        ("12.00-", D("-12.00")),
        ("12.00 -", D("-12.00")),
        ("−12.00", D("-12.00")),  # U+2212 MINUS SIGN
        ("–12.00", D("-12.00")),  # U+2013 EN DASH, as word processors turn a hyphen
        ("-12", D("-12.00")),
        ("+12", D("12.00")),
        ("-$12", D("-12.00")),
        ("$-12", D("-12.00")),
        ("- € 5", D("-5.00")),
        ("CHF 1'234.50", D("1234.50")),
        ("1’234.50", D("1234.50")),  # U+2019 as the Swiss grouping apostrophe
        ("1'234'567", D("1234567.00")),
        ("EUR 12", D("12.00")),
        ("12 EUR", D("12.00")),
        ("eur 12", D("12.00")),
        ("US$ 12", D("12.00")),
        ("R$ 1.234,56", D("1234.56")),
        ("12.5", D("12.50")),
        ("12,5", D("12.50")),
        ("1,5", D("1.50")),
        (".5", D("0.50")),
        (",5", D("0.50")),
        ("0,500", D("0.50")),  # a leading zero cannot be a thousands group; trailing zeros lose nothing
        ("12.3400", D("12.34")),
        ("1,23,456.00", D("123456.00")),  # the Indian lakh grouping
        ("12,34,56,789", D("123456789.00")),
        ("007", D("7.00")),
        ("0", D("0.00")),
        ("-0", D("0.00")),  # never a negative zero
        ("  42  ", D("42.00")),
        ("\t42\n", D("42.00")),
        ("999999999999.99", D("999999999999.99")),
    ],
)
def test_parse_amount_reads(text, expected):
    amount = parse_amount(text)

    assert amount == expected
    assert str(amount) == str(expected)  # exactly two places, never -0.00


# Refused, with no convention given ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Give an amount."),
        ("   ", "Give an amount."),
        ("1,234", "'1,234' is ambiguous: 1234 or 1.234? Write 1234 or 1,234.00."),
        ("1.234", "'1.234' is ambiguous: 1234 or 1.234? Write 1234 or 1.234,00."),
        ("€1,234", "'€1,234' is ambiguous: 1234 or 1.234? Write 1234 or 1,234.00."),
        ("$1,234", "'$1,234' is ambiguous: 1234 or 1.234? Write 1234 or 1,234.00."),  # pesos use a decimal comma
        ("-12-", "'-12-' is not an amount: it has more than one sign."),
        ("(-12)", "'(-12)' is not an amount: it has more than one sign."),
        ("-(12)", "'-(12)' is not an amount: it has more than one sign."),
        ("+-12", "'+-12' is not an amount: it has more than one sign."),
        ("--12", "'--12' is not an amount: it has more than one sign."),
        ("(12", "'(12' is not an amount: put the whole amount in parentheses, or none of it."),
        ("1.2.3,4,5", "'1.2.3,4,5' has the decimal mark ',' more than once."),
        ("1,234.567,89", "'1,234.567,89' has the decimal mark ',' more than once."),
        ("12a", "'12a' is not an amount: 'a' is not a currency code or symbol we know."),
        ("twelve", "'twelve' is not an amount: it has no digits."),
        ("12 pounds", "'12 pounds' is not an amount: 'pounds' is not a currency code or symbol we know."),
        ("1x2", "'1x2' is not an amount: it has letters among the digits."),
        ("1e5", "'1e5' is not an amount: write all the digits, not an exponent."),
        ("1E-2", "'1E-2' is not an amount: write all the digits, not an exponent."),
        ("NaN", "'NaN' is not an amount: it has no digits."),
        ("Infinity", "'Infinity' is not an amount: it has no digits."),
        ("-inf", "'-inf' is not an amount: it has no digits."),
        ("12.", "'12.' ends with its decimal mark '.': write the decimals, or leave the mark out."),
        ("12,-", "'12,-' ends with its decimal mark ',': write the decimals, or leave the mark out."),
        (".", "'.' is not an amount: it has no digits."),
        ("1_000", "'1_000' is not an amount: it has '_' among the digits."),
        ("1/2", "'1/2' is not an amount: it has '/' among the digits."),
        ("١٢٣", "'١٢٣' is not an amount: write its digits as 0-9."),
        ("12 34", "'12 34' is not an amount: ' ' separates thousands in groups of three digits (like 1 500)."),
        ("1,2,3", "'1,2,3' is not an amount: ',' separates thousands in groups of three digits (like 1,500)."),
        ("1.234 567,00", "'1.234 567,00' is not an amount: it separates thousands in more than one way."),
        ("EUR 12 EUR", "'EUR 12 EUR' is not an amount: it names a currency twice."),
        ("# 12", "'# 12' is not an amount: '#' is not a currency symbol we know."),
        (
            "1,234.567",
            "'1,234.567' read as 1234.567 with '.' as the decimal mark, which has 3 decimals; "
            "amounts have at most 2 decimals.",
        ),
        (
            "1 234.567",
            "'1 234.567' read as 1234.567 with '.' as the decimal mark, which has 3 decimals; "
            "amounts have at most 2 decimals.",
        ),
        ("12.3456", "'12.3456' read as 12.3456 with '.' as the decimal mark, which has 4 decimals; amounts have"),
        ("1" * 19, "is too large for an amount."),
        ("1" * 65, "is too long for an amount (65 characters)."),
    ],
)
def test_parse_amount_refuses_with_a_message_that_says_how_it_was_read(text, message):
    with pytest.raises(AmountError) as refused:
        parse_amount(text)

    assert message in str(refused.value)
    assert isinstance(refused.value, ValueError)  # pydantic validators and the import take it as a ValueError


# With the partner's / agreement's convention ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "separator", "expected"),
    [
        ("12.500,50", ",", D("12500.50")),
        ("12500,50", ",", D("12500.50")),
        ("1.234", ",", D("1234.00")),  # unambiguous once the convention is known
        ("1,234", ".", D("1234.00")),
        ("12,000", ".", D("12000.00")),
        ("1,5", ",", D("1.50")),
        ("1.5", ".", D("1.50")),
        ("1 234,56", ",", D("1234.56")),
        ("1'234.50", ".", D("1234.50")),
        ("1.234.567", ",", D("1234567.00")),
        ("€ 1.234,56", ",", D("1234.56")),
        ("(1.234,56)", ",", D("-1234.56")),
        ("1.234,56-", ",", D("-1234.56")),
        ("12.340", ".", D("12.34")),  # the third decimal is a zero: nothing is rounded away
        ("12", ",", D("12.00")),
    ],
)
def test_parse_amount_reads_with_the_convention(text, separator, expected):
    assert parse_amount(text, decimal_separator=separator) == expected


@pytest.mark.parametrize(
    ("text", "separator", "message"),
    [
        (
            "1,5",
            ".",
            "'1,5' is not an amount with '.' as the decimal mark: ',' separates thousands in groups of three digits "
            "(like 1,500). With ',' as the decimal mark it would read 1.50; check the convention.",
        ),
        (
            "12.500,50",
            ".",
            "'12.500,50' has separators after the decimal mark '.'. "
            "With ',' as the decimal mark it would read 12500.50; check the convention.",
        ),
        (
            "1,234.56",
            ",",
            "'1,234.56' has separators after the decimal mark ','. "
            "With '.' as the decimal mark it would read 1234.56; check the convention.",
        ),
        (
            "1.234.567",
            ".",
            "'1.234.567' has the decimal mark '.' more than once. "
            "With ',' as the decimal mark it would read 1234567; check the convention.",
        ),
        (
            "1,234",
            ",",
            "'1,234' read as 1.234 with ',' as the decimal mark, which has 3 decimals; amounts have at most 2 "
            "decimals. With '.' as the decimal mark it would read 1234; check the convention.",
        ),
        (
            "12.345",
            ".",
            "'12.345' read as 12.345 with '.' as the decimal mark, which has 3 decimals; amounts have at most 2 "
            "decimals. With ',' as the decimal mark it would read 12345; check the convention.",
        ),
        ("1,2,3", ",", "'1,2,3' has the decimal mark ',' more than once."),
        ("abc", ",", "'abc' is not an amount: it has no digits."),
    ],
)
def test_parse_amount_with_the_convention_refuses_and_shows_the_other_reading(text, separator, message):
    with pytest.raises(AmountError) as refused:
        parse_amount(text, decimal_separator=separator)

    assert str(refused.value) == message


def test_parse_amount_refuses_an_unknown_convention():
    with pytest.raises(ValueError, match="decimal_separator must be"):
        parse_amount("1", decimal_separator="'")


# Currencies in the text ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("€12", "EUR", D("12.00")),
        ("12 eur", "EUR", D("12.00")),
        ("$12", "CAD", D("12.00")),  # "$" is written for every dollar and peso
        ("$1,234", "USD", D("1234.00")),  # and with the currency known, US dollars take a decimal point
        ("5 kr", "SEK", D("5.00")),
        ("Fr. 12.50", "CHF", D("12.50")),
        ("¥1,234", "JPY", D("1234")),  # no minor unit
        ("1234", "JPY", D("1234")),
        ("KWD 1.5", "KWD", D("1.500")),  # three decimals
        ("12 kr.", "DKK", D("12.00")),
        ("12", "eur", D("12.00")),
    ],
)
def test_parse_amount_with_a_currency(text, currency, expected):
    assert parse_amount(text, currency=currency) == expected


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("€12", "GBP", "'€12' is in EUR, but this amount is in GBP."),
        ("12 USD", "EUR", "'12 USD' is in USD, but this amount is in EUR."),
        ("$12", "EUR", "'$12' is not in EUR: '$' is not a symbol of EUR."),
        ("¥12", "GBP", "'¥12' is not in GBP: '¥' is not a symbol of GBP."),
        (
            "1.5",
            "JPY",
            "'1.5' read as 1.5 with '.' as the decimal mark, which has 1 decimal; JPY amounts have no decimals.",
        ),
        (
            "1.2345",
            "KWD",
            "'1.2345' read as 1.2345 with '.' as the decimal mark, which has 4 decimals; "
            "KWD amounts have at most 3 decimals.",
        ),
        ("12", "POU", "'POU' is not an ISO 4217 currency code"),
        ("12", "CLF", "'CLF' is the ISO 4217 code of Unidad de Fomento, not a currency amounts are paid in."),
    ],
)
def test_parse_amount_refuses_a_currency_that_disagrees(text, currency, message):
    with pytest.raises(AmountError) as refused:
        parse_amount(text, currency=currency)

    assert message in str(refused.value)


def test_read_amount_tells_the_currency_and_mark_it_read():
    reading = read_amount("€ 1.234,56")

    assert (reading.amount, reading.currency, reading.decimal_mark) == (D("1234.56"), "EUR", ",")
    assert reading.describe() == "'€ 1.234,56' read as 1234.56 with ',' as the decimal mark"
    assert read_amount("12").decimal_mark is None
    assert read_amount("$12").currency == ""  # "$" alone does not say which dollar
    assert read_amount("$12", currency="AUD").currency == "AUD"


def test_parse_amount_places_overrides_the_minor_unit():
    assert parse_amount("1.2345", places=4) == D("1.2345")
    assert parse_amount("12", places=0) == D("12")
    with pytest.raises(AmountError, match="which has 1 decimal; amounts have no decimals"):
        parse_amount("12.5", places=0)


def test_parse_amount_never_rounds_what_it_refuses():
    """The fast path (plain digits) and the full path agree: a third decimal is refused by both."""
    for text in ("12.345", "1 212.345", "12,345 EUR"):
        with pytest.raises(AmountError, match="which has 3 decimals"):
            parse_amount(text, decimal_separator="." if "," not in text else ",")


# Currency codes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("EUR", "EUR"), ("eur", "EUR"), (" gbp ", "GBP"), ("JPY", "JPY"), ("CHF", "CHF"), ("XOF", "XOF")],
)
def test_currency_code_accepts_iso_4217(text, expected):
    assert currency_code(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pounds", "'pounds' is not an ISO 4217 currency code: use its three letters (GBP for pounds?)."),
        ("POU", "'POU' is not an ISO 4217 currency code: use its three letters, such as EUR, GBP or USD."),
        ("Euros", "'Euros' is not an ISO 4217 currency code: use its three letters (EUR for Euros?)."),
        ("£", "'£' is not an ISO 4217 currency code: use its three letters (GBP for £?)."),
        ("EU", "'EU' is not an ISO 4217 currency code"),
        ("EURO", "'EURO' is not an ISO 4217 currency code: use its three letters (EUR for EURO?)."),
        ("E1R", "'E1R' is not an ISO 4217 currency code"),
        ("XAU", "'XAU' is the ISO 4217 code of Gold, not a currency amounts are paid in."),
        ("XXX", "not a currency amounts are paid in."),
        ("XTS", "not a currency amounts are paid in."),
        ("", "Give a currency code, such as EUR."),
    ],
)
def test_currency_code_refuses(text, message):
    with pytest.raises(AmountError) as refused:
        currency_code(text)

    assert message in str(refused.value)


def test_currency_codes_are_the_iso_list_without_metals_and_funds():
    assert {"EUR", "GBP", "USD", "JPY", "CHF", "INR", "BRL"} <= CURRENCY_CODES
    assert not {"POU", "XAU", "XXX", "XTS", "USN"} & CURRENCY_CODES
    assert all(len(code) == 3 and code.isupper() for code in CURRENCY_CODES)


@pytest.mark.parametrize(("code", "places"), [("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("GBP", 2)])
def test_minor_units(code, places):
    assert minor_units(code) == places


# Rounding and writing back ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (D("1234.565"), D("1234.57")),  # half up, not half even
        (D("2.675"), D("2.68")),
        (D("0.125"), D("0.13")),
        (D("-0.125"), D("-0.13")),  # away from zero for negatives
        (D("0.004"), D("0.00")),
        ("10", D("10.00")),
        (7, D("7.00")),
    ],
)
def test_money_round_half_up_to_the_cent(value, expected):
    assert money_round(value) == expected
    assert str(money_round(value)) == str(expected)


def test_money_round_other_places_and_no_floats():
    assert money_round(D("1.5"), places=0) == D("2")
    with pytest.raises(TypeError, match="never a float"):
        money_round(1.005)


def test_fees_round_with_the_same_function():
    assert fees.money is money_round


@pytest.mark.parametrize(
    ("amount", "separator", "expected"),
    [
        (D("12500.50"), ",", "12500,50"),
        (D("12500.5"), ".", "12500.50"),
        (D("12500"), ",", "12500"),
        (D("-3.10"), ",", "-3,10"),
    ],
)
def test_format_amount_writes_what_reads_back(amount, separator, expected):
    text = format_amount(amount, separator)

    assert text == expected
    assert parse_amount(text, decimal_separator=separator) == amount


# Property: whatever way an amount is written in a convention, it reads back the same -------------------------

GROUPS = {".": [",", " ", NNBSP, "'", ""], ",": [".", " ", NNBSP, "’", ""]}


def write(amount: D, mark: str, group: str, sign: str, currency: str) -> str:
    whole, fraction = f"{abs(amount):.2f}".split(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    number = f"{group.join(groups)}{mark}{fraction}"
    number = f"€ {number}" if currency == "€ " else f"{number} EUR" if currency == " EUR" else number
    if amount >= 0:
        return number
    return {"-": f"-{number}", "()": f"({number})", "trailing": f"{number}-", "−": f"−{number}"}[sign]


@given(
    amount=st.decimals(min_value=D("-999999999999.99"), max_value=D("999999999999.99"), places=2),
    mark=st.sampled_from([".", ","]),
    group_index=st.integers(min_value=0, max_value=4),
    sign=st.sampled_from(["-", "()", "trailing", "−"]),
    currency=st.sampled_from(["", "€ ", " EUR"]),
)
def test_parse_amount_reads_back_any_amount_written_in_a_convention(amount, mark, group_index, sign, currency):
    text = write(amount, mark, GROUPS[mark][group_index], sign, currency)

    assert parse_amount(text, decimal_separator=mark, currency="EUR") == amount
    assert parse_amount(text) == amount  # two decimals written: never ambiguous, so inference agrees
