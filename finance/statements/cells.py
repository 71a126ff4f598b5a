"""One cell of a statement read in the partner's conventions: an amount through `common.money` (the one parser), a
date in the partner's order, a fee kind as partners write it, our tracking code as partners copy it, and the hash a
line keeps of a lead's email. Each reading is pure and cached per distinct text (statements repeat their values);
what cannot be read raises CellError, whose message says why.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from common.money import AmountError, read_amount
from finance.models import DateOrder
from leads.importing import normalise_header
from partners.models import BILLABLE_KINDS, AccrualKind

MAX_AMOUNT = Decimal("1e12")
EARLIEST_DATE = date(1990, 1, 1)
LATEST_DATE = date(2100, 12, 31)


@dataclass(frozen=True)
class Conventions:
    decimal_separator: str = "."
    date_order: str = DateOrder.DMY
    default_currency: str = ""


# What partners write for a fee kind; blank (or "all") = the line covers the referral's fees together.
KIND_WORDS = {
    AccrualKind.SENT: ("sent", "referral", "referral sent", "per referral", "lead", "introduction", "intro"),
    AccrualKind.ACCEPTED: ("accepted", "acceptance", "accepted referral", "per accepted referral", "qualified"),
    AccrualKind.CONVERSION: ("conversion", "converted", "conversion flat", "flat", "sale", "won", "new customer"),
    AccrualKind.CONVERSION_PERCENT: ("conversion share", "share", "share of deal", "percent", "percentage",
                                     "revenue share", "rev share", "conversion percent", "commission"),
    "": ("", "all", "all fees", "several", "various", "mixed", "total", "fees"),
}  # fmt: skip
_KINDS = (
    {normalise_header(word): kind for kind, words in KIND_WORDS.items() for word in words}
    | {normalise_header(kind.label): kind.value for kind in BILLABLE_KINDS}
    | {kind.value.replace("_", " "): kind.value for kind in BILLABLE_KINDS}
)


class CellError(ValueError):
    """One cell that cannot be read; the message says why."""


# Values -------------------------------------------------------------------------------------------------------


def email_hash(email: str) -> str:
    """SHA-256 (hex) of the trimmed, lower-cased address: what a line keeps of a lead's email."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_TRACKING = re.compile(r"PT[\s-]?([A-Z0-9]{8})")


def tracking_code(text: str) -> str:
    """Our tracking code as partners copy it: "pt-abcd2345", "PT ABCD2345" -> "PT-ABCD2345"."""
    code = " ".join(text.split()).upper()
    if match := _TRACKING.fullmatch(code):
        return f"PT-{match[1]}"
    return code


def number_text(value: int | float | Decimal) -> str:
    """A spreadsheet's number cell as text for the one amount parser (a float by its shortest repr)."""
    if isinstance(value, bool):
        raise CellError(f"“{value}” is not an amount.")
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise CellError("This cell is not a finite number.")
        return format(Decimal(repr(value)), "f")
    return format(Decimal(value), "f")


def parse_amount_cell(value, conventions: Conventions, currency: str) -> tuple[Decimal, str]:
    """(amount, currency the text named or ""), read in the partner's decimal mark; a number cell as it is."""
    if isinstance(value, int | float | Decimal):
        return _amount(number_text(value), ".", currency)
    return _amount(str(value), conventions.decimal_separator, currency)


@lru_cache(maxsize=4096)
def _amount(text: str, mark: str, currency: str) -> tuple[Decimal, str]:
    try:
        reading = read_amount(text, decimal_separator=mark, currency=currency or None)
    except AmountError as exc:
        raise CellError(str(exc)) from None
    if abs(reading.amount) >= MAX_AMOUNT:
        raise CellError(f"{reading.describe()}, which is too large for a fee.")
    return reading.amount, reading.currency


_ORDER_NAMES = {DateOrder.DMY: "day/month/year", DateOrder.MDY: "month/day/year", DateOrder.YMD: "year-month-day"}
_NUMERIC_DATE = re.compile(r"(\d{1,4})[./\- ](\d{1,2})[./\- ](\d{1,4})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_WORD_FORMATS = ("%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y", "%d-%b-%Y", "%d-%B-%Y", "%d %b, %Y", "%b %d, %Y",
                 "%B %d, %Y", "%d. %B %Y", "%d. %b %Y")  # fmt: skip


def parse_date_cell(value, order: str) -> date:
    """A date in the partner's order (or ISO year-first, or with the month in words); a workbook's date as it is."""
    if isinstance(value, datetime):
        return _in_range(value.date(), str(value))
    if isinstance(value, date):
        return _in_range(value, str(value))
    if isinstance(value, int | float):
        raise CellError(f"“{value}” is a number, not a date: format the column as dates, or write them as text.")
    return _date_text(" ".join(str(value).split()), order)


@lru_cache(maxsize=4096)
def _date_text(text: str, order: str) -> date:
    if match := _NUMERIC_DATE.fullmatch(text):
        first, second, third = match.groups()
        if len(first) == 4:
            year, month, day = first, second, third  # 2026-01-31 is year-first whatever the partner's order
        elif len(third) == 4:
            if order == DateOrder.YMD:
                raise CellError(f"“{text}” is not year-month-day, the partner's order for dates.")
            day, month = (first, second) if order == DateOrder.DMY else (second, first)
            year = third
        else:
            raise CellError(f"“{text}”: write the year with four digits (a two-digit year could be either century).")
        try:
            day_read = date(int(year), int(month), int(day))
        except ValueError:
            raise CellError(_impossible(text, int(day), int(month), order)) from None
        return _in_range(day_read, text)
    for fmt in _WORD_FORMATS:
        try:
            return _in_range(datetime.strptime(text, fmt).date(), text)
        except ValueError:
            continue
    raise CellError(f"“{text}” is not a date ({_ORDER_NAMES.get(order, order)}, like {_example(order)}).")


def _example(order: str) -> str:
    return {DateOrder.DMY: "31/01/2026", DateOrder.MDY: "01/31/2026", DateOrder.YMD: "2026-01-31"}[order]


def _impossible(text: str, day: int, month: int, order: str) -> str:
    name = _ORDER_NAMES[order]
    if month > 12 and day <= 12 and order != DateOrder.YMD:
        other = "month/day/year" if order == DateOrder.DMY else "day/month/year"
        return f"“{text}” has no month {month}: the partner's dates are {name}; is this file {other}?"
    return f"“{text}” is not a day of the calendar (read as {name})."


def _in_range(day: date, text: str) -> date:
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise CellError(f"“{text}” is outside the years {EARLIEST_DATE.year}–{LATEST_DATE.year}.")
    return day


def parse_kind(value) -> str:
    return _kind(str(value or ""))


@lru_cache(maxsize=256)
def _kind(value: str) -> str:
    text = normalise_header(value)
    if text in _KINDS:
        return str(_KINDS[text])
    raise CellError(
        f"“{value}” is not a fee kind we know: write sent, accepted, conversion or conversion share, "
        "or leave it blank when the line covers all of the referral's fees."
    )


def cell_text(value) -> str:
    if type(value) is str:  # every CSV cell: the short path
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return number_text(value)
    return str(value).strip()
