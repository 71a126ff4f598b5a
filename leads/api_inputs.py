"""The API's input types, strict and storable: what the OpenAPI schema says is exactly what is accepted (the
schemathesis test holds the two together), and nothing reaches the database that it cannot store.

- `InputSchema`: a request body's base; unknown keys and NUL characters anywhere refused, naming the field.
- `date_time(field)`: an RFC 3339 date-time with its time zone, within leads.services.base.date_range(field).
- `whole(field)`, `coordinate(field)`: numbers within leads.services.base.NUMBER_RANGES.
- `Amount`: a budget in cents (a JSON number or exact text); `AttributeValue`: what `attributes` may hold.
"""

import math
import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from common.limits import problem_sentence, unstorable_json
from leads.services.base import EARLIEST_DATE, NUMBER_RANGES, date_problem, number_problem

# Strings anywhere in a request body: no NUL character (PostgreSQL cannot store it). The schema says so with this
# pattern; `InputSchema` refuses it with a message naming the field.
NO_NUL_PATTERN = "^[^\\u0000]*$"
_PATTERN_FREE = {"pattern", "format", "enum", "const"}


def _no_nul_pattern(node) -> None:
    if isinstance(node, list):
        for child in node:
            _no_nul_pattern(child)
    elif isinstance(node, dict):
        if node.get("type") == "string" and not _PATTERN_FREE & node.keys():
            node["pattern"] = NO_NUL_PATTERN
        if isinstance(node.get("propertyNames"), dict):  # a dict's keys: strings, whether the schema says so or not
            node["propertyNames"].setdefault("pattern", NO_NUL_PATTERN)
        for key in ("anyOf", "oneOf", "allOf", "items", "prefixItems", "additionalProperties"):
            _no_nul_pattern(node.get(key))
        for child in (node.get("properties") or {}).values():
            _no_nul_pattern(child)


class InputSchema(Schema):
    """A request body: unknown keys refused, and no string in it (a dict's keys included) that the database cannot
    store — a 422 naming the field, never a database error."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=lambda schema, model: _no_nul_pattern(schema))

    @field_validator("*", mode="before")
    @classmethod
    def storable(cls, value, info: ValidationInfo):
        found = unstorable_json(value, info.field_name)
        if found:
            where, problem = found
            raise ValueError(problem_sentence(problem, "" if where == info.field_name else where))
        return value


# RFC 3339's date-time, in ASCII digits: its `T` may be `t` or a space; the time zone is required.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def date_time(field: str):
    """A strict RFC 3339 date-time (`format: date-time`, the time zone required) within the dates accepted for
    `field` (leads.services.date_range)."""

    def check(value):
        if not isinstance(value, str) or not _RFC3339.fullmatch(value):
            raise ValueError("Give a date and time with its time zone, like 2026-11-23T14:30:00Z.")
        return value

    def in_range(value: datetime) -> datetime:
        problem = date_problem(field, value)
        if problem:
            raise ValueError(problem)
        return value

    earliest = f"{EARLIEST_DATE:%Y-%m-%d}"
    ahead = "a day" if field == "received_at" else "a few minutes"
    return Annotated[
        AwareDatetime,
        BeforeValidator(check),
        AfterValidator(in_range),
        Field(description=f"RFC 3339 with a time zone; from {earliest} to at most {ahead} ahead of now."),
    ]


def whole(field: str):
    """A JSON integer within leads.services.NUMBER_RANGES[field]: 12 or 12.0 (JSON Schema's integers), never 12.5,
    "12" or true."""
    low, high = NUMBER_RANGES[field]

    def parse(value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("Give a whole number.")
        if not low <= value <= high:
            raise ValueError(number_problem(field, value))
        return value

    return Annotated[int, PlainValidator(parse), WithJsonSchema({"type": "integer", "minimum": low, "maximum": high})]


def coordinate(field: str):
    """A JSON number within NUMBER_RANGES[field], kept to 6 decimal places (about 10 cm)."""
    low, high = NUMBER_RANGES[field]

    def parse(value):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("Give a number.")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("Give a finite number.")
        number = Decimal(repr(value))
        if not low <= number <= high:  # first: a huge number cannot even be rounded to 6 places
            raise ValueError(number_problem(field, number))
        return number.quantize(Decimal("0.000001"), ROUND_HALF_UP)

    return Annotated[
        Decimal,
        PlainValidator(parse),
        WithJsonSchema({"type": "number", "minimum": float(low), "maximum": float(high)}),
        Field(description="Decimal degrees, rounded to 6 places; latitude and longitude come together."),
    ]


BUDGET_MAX = Decimal("999999999999.99")
_AMOUNT_TEXT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")
_CENT = Decimal("0.01")


def _amount(value) -> Decimal:
    """A budget: a JSON number (float noise such as 0.30000000000000004 read as 0.30, a real third decimal
    refused) or text of digits with at most two decimals — the exact way."""
    if isinstance(value, str):
        if not _AMOUNT_TEXT.fullmatch(value):
            raise ValueError('Give the amount as a number, or as text like "12500.50" (at most two decimals).')
        return Decimal(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Give a number.")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("Give a finite number.")
    amount = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    cents = amount.quantize(_CENT, ROUND_HALF_UP) if abs(amount) <= BUDGET_MAX * 10 else amount
    if isinstance(value, float) and cents != amount and abs(float(cents) - value) > 4 * math.ulp(value):
        raise ValueError("At most two decimal places (an amount in cents).")
    if not 0 <= cents <= BUDGET_MAX:
        raise ValueError(f"Must be between 0 and {BUDGET_MAX}.")
    return cents


Amount = Annotated[
    Decimal,
    PlainValidator(_amount),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": float(BUDGET_MAX), "multipleOf": 0.01},
                {"type": "string", "pattern": f"^{_AMOUNT_TEXT.pattern}$"},
            ]
        }
    ),
]
AttributeKey = Annotated[str, Field(min_length=1, max_length=100)]
_SCALARS = [{"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "null"}]


def _scalar(value) -> bool:
    return value is None or isinstance(value, str | int) or (isinstance(value, float) and math.isfinite(value))


def _attribute(value):
    """An attribute's value: text, a (finite) number, true/false or null, or a list of them; one message if not."""
    if _scalar(value) or (isinstance(value, list) and all(_scalar(item) for item in value)):
        return value
    raise ValueError("Give text, a finite number, true/false or null, or a list of them.")


AttributeValue = Annotated[
    Any,
    PlainValidator(_attribute),
    WithJsonSchema({"anyOf": [*_SCALARS, {"type": "array", "items": {"anyOf": _SCALARS}}]}),
]
