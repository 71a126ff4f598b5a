"""Form fields shared by every app: amounts typed as people type them, ISO currency codes, and the confirm step
with a reason that irreversible actions ask for.

- `AmountField`: a text input (`inputmode="decimal"`) read on the server by `common.money.parse_amount` in a
  convention ("." or ",") that the form sets from the partner or agreement (`amount_convention`); it shows that
  convention (placeholder and help text) and writes initial values back in it.
- `CurrencyField`: an ISO 4217 code ("eur" -> "EUR"; "pounds" and "POU" are refused).
- `ConfirmField` + `ReasonField`: "I understand …" and a reason of a few words, for what cannot be undone.
"""

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

from common.money import EXAMPLES, AmountError, currency_code, format_amount, minor_units, read_amount

CONVENTION_NAMES = {".": "decimal point", ",": "decimal comma"}


def convention_text(decimal_separator: str | None, *, percent: bool = False) -> str:
    """“decimal comma, like 12.500,50” (“decimal comma, like 7,5%” for a percentage); with no convention (None),
    either mark, as long as the amount is not ambiguous."""
    if decimal_separator is None:
        return "decimal point or comma, like 12,500.50 or 12.500,50 (not 1,234 alone: write 1234)"
    example = f"7{decimal_separator}5%" if percent else EXAMPLES[decimal_separator]
    return f"{CONVENTION_NAMES[decimal_separator]}, like {example}"


class AmountInput(forms.TextInput):
    """Text, not type=number: browsers' number inputs drop "12.500,50" or read it by the browser's locale."""

    def __init__(self, attrs: dict | None = None):
        super().__init__({"inputmode": "decimal", "autocomplete": "off", "spellcheck": "false", **(attrs or {})})


class AmountField(forms.Field):
    """An amount read by `parse_amount` in the form's convention; cleans to a Decimal (None when blank).

    `decimal_places` is what the column holds; a currency with fewer (JPY) allows fewer. `percent=True` accepts a
    trailing "%" and refuses a currency."""

    widget = AmountInput

    def __init__(
        self,
        *,
        decimal_separator: str | None = ".",
        currency: str | None = None,
        decimal_places: int = 2,
        max_digits: int = 14,
        min_value: Decimal | int | None = None,
        max_value: Decimal | int | None = None,
        percent: bool = False,
        **kwargs: Any,
    ):
        self.decimal_places, self.max_digits, self.percent = decimal_places, max_digits, percent
        super().__init__(**kwargs)
        if min_value is not None:
            message = "Must not be negative." if min_value == 0 else f"Must be at least {min_value}."
            self.validators.append(MinValueValidator(Decimal(min_value), message))
        if max_value is not None:
            suffix = "%%" if percent else ""  # validator messages are %-formatted
            self.validators.append(MaxValueValidator(Decimal(max_value), f"At most {max_value}{suffix}."))
        self.set_convention(decimal_separator=decimal_separator, currency=currency)

    def set_convention(self, *, decimal_separator: str | None, currency: str | None = None) -> None:
        """`decimal_separator` None: no convention is known, the mark is inferred and ambiguous text refused."""
        self.decimal_separator, self.currency = decimal_separator, currency or None
        mark = decimal_separator or "."
        self.widget.attrs["placeholder"] = "0" + mark + "00" + ("%" if self.percent else "")
        self.widget.attrs["data-decimal-separator"] = decimal_separator or ""
        self.convention = convention_text(decimal_separator, percent=self.percent)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Decimal):
            return format_amount(value, self.decimal_separator or ".")
        return value

    def to_python(self, value: Any) -> Decimal | None:
        if isinstance(value, Decimal):
            return value
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if not text:
            return None
        if self.percent:
            text = text.removesuffix("%").rstrip()
        places = min(minor_units(self.currency), self.decimal_places) if self.currency else self.decimal_places
        try:
            currency = None if self.percent else self.currency
            reading = read_amount(text, decimal_separator=self.decimal_separator, currency=currency, places=places)
        except AmountError as exc:
            raise ValidationError(str(exc), code="invalid") from None
        if self.percent and reading.token:
            raise ValidationError(f"'{text}' is a percentage: leave out the currency.", code="invalid")
        integer_digits = len(str(abs(reading.amount)).split(".")[0].lstrip("0"))
        if integer_digits > self.max_digits - self.decimal_places:
            raise ValidationError(f"'{text}' is too large.", code="max_digits")
        return reading.amount


class CurrencyField(forms.CharField):
    """An ISO 4217 currency code, upper-cased. Typed as text (not a 180-entry select), checked on the server."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("max_length", 20)  # long enough to say why "pounds" is not a code, not to store it
        super().__init__(**kwargs)
        self.widget.attrs.update({"autocomplete": "off", "spellcheck": "false", "class": "text-uppercase"})

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        if text in self.empty_values:
            return ""
        try:
            return currency_code(text)
        except AmountError as exc:
            raise ValidationError(str(exc), code="invalid") from None


class ConfirmField(forms.BooleanField):
    """A checkbox that must be ticked: “I understand …” before something that cannot be undone."""

    def __init__(self, *, label: str, **kwargs: Any):
        kwargs.setdefault("error_messages", {"required": f"Tick “{label}” to confirm."})
        super().__init__(label=label, required=True, **kwargs)


WORD = re.compile(r"[^\W\d_]{2,}")  # a word: two letters or more, in any script


class ReasonField(forms.CharField):
    """Why, in a few real words: at least `min_words` words of two letters or more (“x”, “ok”, “...” are not)."""

    def __init__(self, *, min_words: int = 3, example: str = "", **kwargs: Any):
        kwargs.setdefault("max_length", 300)
        super().__init__(**kwargs)
        self.min_words, self.example = min_words, example

    def validate(self, value: str) -> None:
        super().validate(value)
        if value and len(WORD.findall(value)) < self.min_words:
            like = f", such as “{self.example}”" if self.example else ""
            raise ValidationError(f"Give the reason in a few words (at least {self.min_words}){like}.", code="short")


def amount_convention(form: forms.BaseForm, *, decimal_separator: str | None, currency: str | None = None) -> None:
    """Set the convention (and currency) on every AmountField of a form."""
    for field in form.fields.values():
        if isinstance(field, AmountField):
            field.set_convention(decimal_separator=decimal_separator, currency=currency)


def bound_currency(form: forms.BaseForm, name: str = "currency", default: str | None = None) -> str | None:
    """The currency a bound form was given, when it is a valid code (else `default`): the amounts are read in it
    before the currency field itself is cleaned (its own error says what is wrong with it)."""
    raw = form.data.get(form.add_prefix(name)) if form.is_bound else None
    if not raw:
        return default
    try:
        return currency_code(raw)
    except AmountError:
        return None
