"""Amounts as people type them, read one way everywhere (forms, imports, partner statements).

Interface (issue #14 item 6; finance reuses it for partner statements):

    parse_amount(text, *, decimal_separator=None, currency=None, places=None) -> Decimal
        "1.234,56", "$1,234.56", "(12.00)", "12.00-", "−12.00", "CHF 1'234.50" …
        decimal_separator: "." or "," (the partner's / agreement's convention); None infers it and refuses
        what is ambiguous ("1,234" or "1.234" alone). currency: an ISO code; a symbol or code in the text
        that disagrees is refused. places: the most decimals accepted (default: the currency's minor unit,
        2 without a currency); more is refused, never rounded away. Raises AmountError whose message says
        how the text was read.
    read_amount(...) -> Reading: the same, with the currency the text named and the decimal mark used.
    currency_code(text) -> str: an ISO 4217 code, upper-cased, or AmountError.
    minor_units(code) -> int: decimals of the currency (JPY 0, EUR 2, KWD 3).
    money_round(value, places=2) -> Decimal: the one rounding rule for money, half up.
    format_amount(amount, decimal_separator) -> str: an amount written back in a convention ("12500,50").

How a text is read: surrounding blanks are ignored; one sign, written as "-", "−" (U+2212), "+", a trailing
"-" or parentheses; one currency, as an ISO code or a symbol, before or after the number; the number groups
its thousands with the other mark, an apostrophe ("1'234", "1’234") or a space (also no-break and narrow
no-break spaces), in threes (or the Indian 1,23,456), and has at most one decimal mark.

Without a convention the decimal mark is inferred: with both marks, the last one; a mark repeated is grouping;
a single mark is the decimal mark unless exactly three digits follow it ("1,234" could be either: refused),
except where the text names a currency always written with a decimal point ("£1,234" is 1234).
"""

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pycountry

DECIMAL_MARKS = (".", ",")
DECIMAL_SEPARATOR_CHOICES = [(".", "Decimal point: 1,234.56"), (",", "Decimal comma: 1.234,56")]
EXAMPLES = {".": "12,500.50", ",": "12.500,50"}


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ISO 4217 codes that name no money a partner pays in: precious metals, units of account, funds, test codes.
NOT_MONEY = _codes("XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XTS XUA XXX BOV CHE CHW CLF COU MXV USN UYI UYW")
CURRENCY_CODES = frozenset(c.alpha_3 for c in pycountry.currencies) - NOT_MONEY
_MINOR_UNITS = {
    **dict.fromkeys(_codes("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"), 0),
    **dict.fromkeys(_codes("BHD IQD JOD KWD LYD OMR TND"), 3),
}
_PESOS_AND_DOLLARS = tuple(
    sorted(
        c.alpha_3
        for c in pycountry.currencies
        if ("Dollar" in c.name or "Peso" in c.name) and c.alpha_3 in CURRENCY_CODES
    )
)
# Symbols as written before or after amounts; several currencies may share one ("$", "¥", "kr").
SYMBOLS: dict[str, tuple[str, ...]] = {
    "$": _PESOS_AND_DOLLARS,
    "US$": ("USD",),
    "C$": ("CAD",),
    "CA$": ("CAD",),
    "A$": ("AUD",),
    "AU$": ("AUD",),
    "NZ$": ("NZD",),
    "HK$": ("HKD",),
    "S$": ("SGD",),
    "MX$": ("MXN",),
    "R$": ("BRL",),
    "£": ("GBP",),
    "€": ("EUR",),
    "¥": ("JPY", "CNY"),
    "₹": ("INR",),
    "₩": ("KRW",),
    "₽": ("RUB",),
    "₺": ("TRY",),
    "₪": ("ILS",),
    "₴": ("UAH",),
    "₦": ("NGN",),
    "₱": ("PHP",),
    "₫": ("VND",),
    "zł": ("PLN",),
    "kč": ("CZK",),
    "kr": ("DKK", "ISK", "NOK", "SEK"),
    "kr.": ("DKK", "ISK", "NOK", "SEK"),
    "fr.": ("CHF",),
    "ft": ("HUF",),
}
# Currencies whose amounts are always written with a decimal point: "£1,234" can only be 1234.
DECIMAL_POINT_CURRENCIES = _codes("AUD CNY GBP HKD ILS INR JPY KRW MXN NZD PHP SGD THB TWD USD")
_CURRENCY_WORDS = {
    "pound": "GBP",
    "pounds": "GBP",
    "sterling": "GBP",
    "quid": "GBP",
    "euro": "EUR",
    "euros": "EUR",
    "dollar": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "yen": "JPY",
    "franc": "CHF",
    "francs": "CHF",
    "yuan": "CNY",
    "renminbi": "CNY",
    "rupee": "INR",
    "rupees": "INR",
}

CENT = Decimal("0.01")
MAX_TEXT = 64
MAX_INTEGER_DIGITS = 18

_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-", "\ufe63": "-", "\uff0d": "-"})
_SPACES = "\u0020\u00a0\u202f\u2009\u2007"
_APOSTROPHES = "'\u2019"
_BODY = re.compile(rf"[0-9.,{_SPACES}{_APOSTROPHES}]+")
_PLAIN = re.compile(r"(-?)([0-9]{1,18})(?:([.,])([0-9]{1,2}))?")  # no grouping, at most two decimals: never ambiguous
_EXPONENT = re.compile(r"[0-9][eE][+-]?[0-9]")


class AmountError(ValueError):
    """A text that is not an amount (or not one we can read without guessing); the message says why."""


@dataclass(frozen=True)
class Reading:
    amount: Decimal
    currency: str  # the ISO code the text or the caller named, "" when neither did
    decimal_mark: str | None  # the mark read as decimal; None when the number had no decimals
    text: str
    token: str = ""  # the currency code or symbol as written in the text ("" when it named none)

    def describe(self) -> str:
        """“'1,5' read as 1.5 with ',' as the decimal mark”."""
        how = f" with '{self.decimal_mark}' as the decimal mark" if self.decimal_mark else ""
        return f"'{self.text}' read as {self.amount:f}{how}"


# Currency codes ---------------------------------------------------------------------------------------------


def currency_code(text: str) -> str:
    """An ISO 4217 currency code, upper-cased: "eur" -> "EUR". "pounds", "POU" or "XAU" are refused."""
    raw = (text or "").strip()
    code = raw.upper()
    if code in CURRENCY_CODES:
        return code
    if not raw:
        raise AmountError("Give a currency code, such as EUR.")
    if code in NOT_MONEY:
        name = pycountry.currencies.get(alpha_3=code).name
        raise AmountError(f"'{raw}' is the ISO 4217 code of {name}, not a currency amounts are paid in.")
    hint = _CURRENCY_WORDS.get(raw.lower()) or next(iter(SYMBOLS.get(raw.lower(), SYMBOLS.get(raw, ()))), None)
    suggestion = f" ({hint} for {raw}?)" if hint else ", such as EUR, GBP or USD"
    raise AmountError(f"'{raw}' is not an ISO 4217 currency code: use its three letters{suggestion}.")


def minor_units(code: str) -> int:
    """How many decimals the currency has (ISO 4217's minor unit): JPY 0, EUR 2, KWD 3."""
    return _MINOR_UNITS.get(code, 2)


# Rounding and writing ---------------------------------------------------------------------------------------


def money_round(value: Decimal | int | str, places: int = 2) -> Decimal:
    """The one rounding rule for money: half up, to the cent (or `places`). Floats are refused: build from text."""
    if isinstance(value, float):
        raise TypeError("money is never a float; build the Decimal from a string")
    return Decimal(value).quantize(_quantum(places), rounding=ROUND_HALF_UP)


def format_amount(amount: Decimal, decimal_separator: str = ".") -> str:
    """The amount in a convention, without grouping, so that it reads back the same: 12500.5 -> "12500,50"."""
    text = f"{amount:f}"
    if "." in text and len(text.split(".")[1]) < 2:
        text = f"{amount:.2f}"
    return text.replace(".", decimal_separator)


# Parsing ----------------------------------------------------------------------------------------------------


def parse_amount(
    text: str,
    *,
    decimal_separator: str | None = None,
    currency: str | None = None,
    places: int | None = None,
) -> Decimal:
    """The amount in `text`, exactly; see the module's docstring for what is read and what is refused."""
    return read_amount(text, decimal_separator=decimal_separator, currency=currency, places=places).amount


def read_amount(
    text: str,
    *,
    decimal_separator: str | None = None,
    currency: str | None = None,
    places: int | None = None,
) -> Reading:
    """`parse_amount`, with the currency the text (or the caller) named and the decimal mark it was read with."""
    if decimal_separator not in (None, *DECIMAL_MARKS):
        raise ValueError(f"decimal_separator must be '.', ',' or None, not {decimal_separator!r}")
    return _read(text, decimal_separator, currency_code(currency) if currency else "", places, hints=True)


def _read(text: str, mark: str | None, expected: str, places: int | None, *, hints: bool) -> Reading:
    shown = ("" if text is None else str(text)).strip(_SPACES + "\t\r\n")
    if not shown:
        raise AmountError("Give an amount.")
    if len(shown) > MAX_TEXT:
        raise AmountError(f"'{shown[:20]}…' is too long for an amount ({len(shown)} characters).")
    limit = places if places is not None else minor_units(expected)
    if (
        (plain := _PLAIN.fullmatch(shown))
        and (mark is None or plain[3] in (None, mark))
        and len(plain[4] or "") <= limit
    ):
        sign, integer, used, fraction = plain.groups()  # the common case, read the same, faster
        exact = Decimal(f"{sign}{integer}.{fraction or '0'}").quantize(_quantum(limit))
        return Reading(amount=exact if exact else abs(exact), currency=expected, decimal_mark=used, text=shown)
    negative, token, body = _split(shown)
    named = _currency_of(shown, token, expected)
    code = expected or (named[0] if len(named) == 1 else "")
    limit = places if places is not None else minor_units(code)
    try:
        used = mark or _infer_mark(shown, body, (expected,) if expected else named)
        integer, fraction = _number(shown, body, used, explicit=mark is not None)
        amount = Decimal(f"{'-' if negative else ''}{integer or '0'}.{fraction or '0'}")
        significant = fraction.rstrip("0")
        if len(significant) > limit:
            read = Reading(amount=amount, currency=code, decimal_mark=used, text=shown).describe()
            unit = f"{code} amounts have" if code else "amounts have"
            decimals = f"at most {_decimals(limit)}" if limit else "no decimals"
            raise AmountError(f"{read}, which has {_decimals(len(significant))}; {unit} {decimals}.")
    except AmountError as exc:
        if mark and hints:
            raise AmountError(f"{exc}{_other_reading(shown, mark, expected)}") from None
        raise
    exact = amount.quantize(_quantum(limit))
    amount = exact if exact else abs(exact)
    return Reading(amount=amount, currency=code, decimal_mark=used if fraction else None, text=shown, token=token)


_PARENTHESES = re.compile(r"(?P<pre>[^()0-9]*)\((?P<inner>[^()]*)\)(?P<post>[^()0-9]*)")


def _split(shown: str) -> tuple[bool, str, str]:
    """(negative, currency token, number body) from the whole text; refuses extra signs and stray characters."""
    text = shown.translate(_MINUS)
    parenthesised = False
    if match := _PARENTHESES.fullmatch(text):  # "(12.00)", "($12.00)", "$(12.00)", "(12.00) EUR"
        if any(ch in "+-" for ch in match["pre"] + match["post"]):
            raise AmountError(f"'{shown}' is not an amount: it has more than one sign.")
        parenthesised, text = True, f"{match['pre']}{match['inner']}{match['post']}"
    if "(" in text or ")" in text:
        raise AmountError(f"'{shown}' is not an amount: put the whole amount in parentheses, or none of it.")
    if _EXPONENT.search(text):
        raise AmountError(f"'{shown}' is not an amount: write all the digits, not an exponent.")
    if not any(ch.isdigit() for ch in text):
        raise AmountError(f"'{shown}' is not an amount: it has no digits.")
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    start, end = digits[0], digits[-1] + 1
    if start and text[start - 1] in DECIMAL_MARKS:  # ".5"
        start -= 1
    if end < len(text) and text[end] in DECIMAL_MARKS:  # "12." (refused below, with a reason)
        end += 1
    prefix, body, suffix = text[:start], text[start:end], text[end:]
    signs = [ch for ch in prefix + suffix if ch in "+-"]
    tokens = [t for t in (_strip_signs(shown, prefix), _strip_signs(shown, suffix)) if t]
    if len(signs) + parenthesised > 1:
        raise AmountError(f"'{shown}' is not an amount: it has more than one sign.")
    if len(tokens) > 1:
        raise AmountError(f"'{shown}' is not an amount: it names a currency twice.")
    if not _BODY.fullmatch(body):
        stray = next(ch for ch in body if not _BODY.fullmatch(ch))
        what = "letters" if stray.isalpha() else f"'{stray}'"
        if stray.isdigit():
            raise AmountError(f"'{shown}' is not an amount: write its digits as 0-9.")
        raise AmountError(f"'{shown}' is not an amount: it has {what} among the digits.")
    return parenthesised or signs == ["-"], tokens[0] if tokens else "", body


_QUANTA = tuple(Decimal(1).scaleb(-n) for n in range(7))


def _quantum(places: int) -> Decimal:
    return _QUANTA[places] if 0 <= places < len(_QUANTA) else Decimal(1).scaleb(-places)


def _decimals(n: int) -> str:
    return f"{n} decimal{'' if n == 1 else 's'}"


def _strip_signs(shown: str, part: str) -> str:
    """The currency token of the text before or after the number, without its sign."""
    token = part.strip(_SPACES)
    if token[:1] in ("+", "-"):
        token = token[1:].strip(_SPACES)
    if token[-1:] in ("+", "-"):
        token = token[:-1].strip(_SPACES)
    if any(ch in "+-" for ch in token):
        raise AmountError(f"'{shown}' is not an amount: it has more than one sign.")
    return token


def _currency_of(shown: str, token: str, expected: str) -> tuple[str, ...]:
    """The currencies the token can name (none without a token); refuses one that disagrees with `expected`."""
    if not token:
        return ()
    if token.upper() in CURRENCY_CODES:
        named: tuple[str, ...] = (token.upper(),)
    elif token in SYMBOLS or token.lower() in SYMBOLS:
        named = SYMBOLS.get(token) or SYMBOLS[token.lower()]
    elif any(ch.isalpha() for ch in token):
        raise AmountError(f"'{shown}' is not an amount: '{token}' is not a currency code or symbol we know.")
    else:
        raise AmountError(f"'{shown}' is not an amount: '{token}' is not a currency symbol we know.")
    if expected and expected not in named:
        if len(named) == 1:
            raise AmountError(f"'{shown}' is in {named[0]}, but this amount is in {expected}.")
        raise AmountError(f"'{shown}' is not in {expected}: '{token}' is not a symbol of {expected}.")
    return named


def _infer_mark(shown: str, body: str, named: tuple[str, ...]) -> str:
    """The decimal mark when no convention is given (see the module's docstring)."""
    dots, commas = body.count("."), body.count(",")
    if dots and commas:
        return "." if body.rfind(".") > body.rfind(",") else ","
    if not dots and not commas:
        return "."  # a whole number: the mark does not matter
    mark = "." if dots else ","
    other = "," if dots else "."
    if body.count(mark) > 1:
        return other  # repeated: it groups thousands
    head, tail = body.split(mark)
    grouped_otherwise = any(ch in body for ch in _SPACES + _APOSTROPHES)
    if len(tail) != 3 or grouped_otherwise or head in ("", "0"):
        return mark
    if named and all(code in DECIMAL_POINT_CURRENCIES for code in named):
        return "."
    whole, part = f"{head}{tail}", f"{head}.{tail}"
    raise AmountError(f"'{shown}' is ambiguous: {whole} or {part}? Write {whole} or {head}{mark}{tail}{other}00.")


def _number(shown: str, body: str, mark: str, *, explicit: bool) -> tuple[str, str]:
    """(integer digits, fraction digits) of the body read with `mark` as the decimal mark."""
    if body.count(mark) > 1:
        raise AmountError(f"'{shown}' has the decimal mark '{mark}' more than once.")
    head, _, tail = body.partition(mark)
    if mark in body and not tail:
        raise AmountError(f"'{shown}' ends with its decimal mark '{mark}': write the decimals, or leave the mark out.")
    if tail and not tail.isdigit():
        raise AmountError(f"'{shown}' has separators after the decimal mark '{mark}'.")
    integer = _ungroup(shown, head, mark, explicit=explicit)
    if len(integer.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise AmountError(f"'{shown}' is too large for an amount.")
    return integer, tail


def _ungroup(shown: str, head: str, mark: str, *, explicit: bool) -> str:
    """The digits of the integer part, after checking its grouping: one kind of separator, in threes."""
    if head.isdigit() or not head:
        return head
    kinds = {"space" if ch in _SPACES else "'" if ch in _APOSTROPHES else ch for ch in head if not ch.isdigit()}
    if len(kinds) > 1:
        raise AmountError(f"'{shown}' is not an amount: it separates thousands in more than one way.")
    groups = re.split(r"[^0-9]", head)
    if not _grouped(groups):
        sep = kinds.pop()
        example = "1 500" if sep == "space" else f"1{sep}500"
        where = f" with '{mark}' as the decimal mark" if explicit else ""
        raise AmountError(
            f"'{shown}' is not an amount{where}: '{sep if sep != 'space' else ' '}' separates thousands in groups "
            f"of three digits (like {example})."
        )
    return "".join(groups)


def _grouped(groups: list[str]) -> bool:
    """1,234,567 (threes) or 12,34,567 (the Indian lakh grouping)."""
    first, *middle, last = groups
    if len(last) != 3 or not first or len(first) > 3:
        return False
    if all(len(g) == 3 for g in middle):
        return True
    return len(first) <= 2 and all(len(g) == 2 for g in middle)


def _other_reading(shown: str, mark: str, expected: str) -> str:
    """ " With ',' as the decimal mark it would read 1.5; check the convention." when the text reads that way."""
    other = "," if mark == "." else "."
    try:
        reading = _read(shown, other, expected, 6, hints=False)
    except AmountError:
        return ""
    written = format_amount(reading.amount.normalize())
    return f" With '{other}' as the decimal mark it would read {written}; check the convention."
