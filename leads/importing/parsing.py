"""Rows -> records: each data row becomes a Record (the lead's values by field, its attributes, its key) or the
list of its problems, each on its column. A converter is bound per column once per file: everyday cells take a
short path, anything else the full parser (`values`), and both give the same value or the same message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from common.money import CURRENCY_CODES, currency_code
from leads.fields import RULES, LeadField, lead_rules_problems
from leads.importing.base import KEY_MAX_LENGTH, Record, RowError
from leads.importing.mapping import ATTRIBUTE_PREFIX, DEFAULT_CONSENT_VERSION, FIELDS_BY_NAME, validate_mapping
from leads.importing.reading import CsvFile, RawRow
from leads.importing.values import (
    _BOOLEANS,
    _EMAIL,
    _PLAIN_NUMBER,
    _as_fragment,
    _attribute_value,
    _currency_symbol,
    _parse_bool,
    _parse_country,
    _parse_datetime,
    _parse_decimal,
    _parse_int,
)
from leads.services.base import date_problem

# Where a broken rule is reported when its own field has no column (a budget without a currency column: on the
# budget's), and how the import's messages go on.
_RULE_FIELDS = {rule.field: (rule.field, *rule.fields) for rule in RULES}
_RULE_HINTS = {"budget_currency": " (add a currency column or write the budget as £12,000)"}


class RowParser:
    """Turns raw cells into a Record or a list of RowErrors, by the mapping. Built once per file."""

    def __init__(self, csv_file: CsvFile, mapping: dict[str, str]):
        self.mapping = validate_mapping(mapping, csv_file.headers)
        self.width = len(csv_file.headers)
        self.headers = csv_file.headers
        self.columns = [
            (index, header, self.mapping[header])
            for index, header in enumerate(csv_file.headers)
            if self.mapping.get(header)
        ]
        self.tz = timezone.get_current_timezone()
        self.now = timezone.now()
        self.has_external_id = "external_id" in self.mapping.values()
        # (index, header, target, attribute key or None, converter) per mapped column, decided once.
        self.converters = [
            (index, header, target, target.removeprefix(ATTRIBUTE_PREFIX), _attribute_value)
            if target.startswith(ATTRIBUTE_PREFIX)
            else (index, header, target, None, self._converter(FIELDS_BY_NAME[target]))
            for index, header, target in self.columns
        ]
        self._headers = {target: header for _, header, target in self.columns}

    def parse(self, raw: RawRow) -> tuple[Record | None, list[RowError]]:
        cells = raw.cells
        if len(cells) > self.width and any(cell.strip() for cell in cells[self.width :]):
            return None, [
                RowError(
                    raw.row,
                    "",
                    f"{len(cells)} values but the header has {self.width} columns "
                    "(an unquoted delimiter inside a value?)",
                )
            ]
        if len(cells) < self.width:
            return None, [RowError(raw.row, "", f"{len(cells)} values but the header has {self.width} columns")]
        if "\x00" in "".join(cells):  # no database column can hold it
            column = next(h for h, cell in zip(self.headers, cells, strict=False) if "\x00" in cell)
            return None, [RowError(raw.row, column, "contains a NUL character (binary data in a text file?)")]
        values: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        errors: list[RowError] = []
        for index, header, target, key, convert in self.converters:
            cell = cells[index]
            if not cell or cell.isspace():
                continue
            try:
                if key is not None:
                    attributes[key] = convert(cell)
                else:
                    values[target] = convert(cell)
                    if target == "budget" and not cell.isdigit() and (symbol := _currency_symbol(cell)):
                        values["_budget_symbol"] = symbol
            except ValueError as exc:
                errors.append(RowError(raw.row, header, str(exc)))
        self._combine(values, raw.row, errors)
        if errors:
            return None, errors
        email = values["email"]
        external_id = values.pop("external_id", "")
        received_at = values.pop("received_at", None)
        key = external_id or f"email:{email.lower()}"
        if len(key) > KEY_MAX_LENGTH:  # the key is stored as the lead's external id
            message = f"too long to identify the lead by (at most {KEY_MAX_LENGTH - 6} characters without an id)"
            return None, [RowError(raw.row, self._header_of("email"), message)]
        return Record(raw.row, key, values, attributes, received_at), []

    def _combine(self, values: dict[str, Any], row: int, errors: list[RowError]) -> None:
        first, last = values.pop("first_name", ""), values.pop("last_name", "")
        if (first or last) and not values.get("name"):
            values["name"] = f"{first} {last}".strip()[:200]
        if "email" not in values and not any(e.column == self._header_of("email") for e in errors):
            errors.append(RowError(row, self._header_of("email"), "required: every lead needs an email address"))
        received_at = values.get("received_at")
        if received_at is not None and (problem := date_problem("received_at", received_at, self.now)):
            errors.append(RowError(row, self._header_of("received_at"), _as_fragment(problem)))
        symbol = values.pop("_budget_symbol", None)
        if values.get("budget") is not None and not values.get("budget_currency") and symbol:
            values["budget_currency"] = symbol  # "£12,000": the currency is in the cell
        for field, messages in lead_rules_problems(values).items():  # the rules the API, the form and Lead hold
            columns = [self._header_of(f) for f in _RULE_FIELDS[field] if self._header_of(f)]
            if any(error.column in columns for error in errors):
                continue  # a cell of the rule's is already wrong (a currency that is not ISO 4217): that says it
            column = columns[0] if columns else field
            errors.extend(
                RowError(row, column, _as_fragment(message) + _RULE_HINTS.get(field, "")) for message in messages
            )
        for kind in ("marketing", "partner_sharing"):
            given = values.pop(f"{kind}_consent", None)
            if given is True:
                values[f"{kind}_consent_at"] = received_at or self.now
            elif isinstance(given, datetime):
                if problem := date_problem("consent", given, self.now):  # the dates the API and edits accept too
                    errors.append(RowError(row, self._header_of(f"{kind}_consent"), _as_fragment(problem)))
                values[f"{kind}_consent_at"] = given
            if f"{kind}_consent_at" in values:
                values.setdefault(f"{kind}_consent_version", DEFAULT_CONSENT_VERSION)
            else:
                values.pop(f"{kind}_consent_version", None)  # a wording version without consent means nothing

    def _header_of(self, target: str) -> str:
        return self._headers.get(target, "")

    def _converter(self, spec: LeadField) -> Callable[[str], Any]:
        """The cell -> value function for a field: the everyday shapes (plain digits, ISO dates, two-letter
        codes) take a short path; anything else goes through `_value`, so both give the same result."""
        kind, slow = spec.kind, (lambda cell: self._value(spec, cell))
        if kind == "int":
            low, high = spec.low, spec.high

            def whole(cell: str) -> int:
                if cell.isdigit() and cell.isascii() and len(cell) < 16:
                    number = int(cell)
                    if (low is None or number >= low) and (high is None or number <= high):
                        return number
                return slow(cell)

            return whole
        if kind == "decimal" or kind in ("latitude", "longitude"):
            low, high, places = spec.low, spec.high, spec.places

            def number(cell: str) -> Decimal:
                if _PLAIN_NUMBER.fullmatch(cell):
                    value = Decimal(cell)
                    if low <= value <= high:
                        return round(value, places)
                return slow(cell)

            return number
        tz = self.tz

        def iso(text: str, cell: str) -> datetime:  # what `_parse_datetime` makes of an ISO date, sooner
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                return slow(cell)
            return value if value.utcoffset() is not None else timezone.make_aware(value, tz)

        if kind == "datetime":
            return lambda cell: iso(cell.strip(), cell) if "Z" not in cell else slow(cell)
        if kind == "bool":
            return lambda cell: _BOOLEANS[cell] if cell in _BOOLEANS else slow(cell)
        if kind == "consent":

            def consent(cell: str) -> bool | datetime:
                if cell in _BOOLEANS:
                    return _BOOLEANS[cell]
                return iso(cell, cell) if cell[:1].isdigit() and "Z" not in cell else slow(cell)

            return consent
        if kind == "country":
            return lambda cell: cell.upper() if len(cell) == 2 and cell.isalpha() else slow(cell)
        if kind == "currency":
            return lambda cell: cell if cell in CURRENCY_CODES else slow(cell)
        if kind == "text":
            limit = spec.max_length

            def text(cell: str) -> str:
                value = cell.strip()
                if limit and len(value) > limit:
                    return slow(cell)
                return value

            return text
        return slow

    def _value(self, spec: LeadField, cell: str) -> Any:
        kind = spec.kind
        if kind == "text":
            text = cell.strip()
            if spec.max_length and len(text) > spec.max_length:
                raise ValueError(f"too long ({len(text)} characters; at most {spec.max_length})")
            return text
        if kind == "email":
            text = cell.strip()
            if len(text) > 254 or not _EMAIL.match(text):
                raise ValueError(f"“{text}” is not an email address")
            return text
        if kind == "int":
            return _parse_int(cell, spec)
        if kind in ("decimal", "latitude", "longitude"):
            return _parse_decimal(cell, spec.low, spec.high, spec.places)
        if kind == "bool":
            return _parse_bool(cell)
        if kind == "datetime":
            return _parse_datetime(cell, self.tz)
        if kind == "country":
            return _parse_country(cell)
        if kind == "currency":
            return currency_code(cell)  # ISO 4217; its AmountError (a ValueError) says why, e.g. "POU" or "pounds"
        if kind == "consent":
            try:
                return _parse_bool(cell)
            except ValueError:
                try:
                    return _parse_datetime(cell, self.tz)
                except ValueError:
                    raise ValueError(f"“{cell}” is neither yes/no nor the date consent was given") from None
        raise AssertionError(kind)
