"""Cell values: the full parsers behind each kind of field (yes/no, numbers written any everyday way, dates,
countries by name, currency symbols, attributes as JSON values). `parsing.RowParser` binds them per column."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from leads.fields import LeadField

_TRUE = {"yes", "y", "true", "t", "1", "x", "ja", "oui", "si", "sí", "✓", "✔"}
_FALSE = {"no", "n", "false", "f", "0", "nein", "non", "-"}
_BOOLEANS = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}  # exact cells: the short path
_PLAIN_NUMBER = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[^@\s<>()\[\],;:\"]+@{_LABEL}(?:\.{_LABEL})+$")
_CURRENCY_SYMBOLS = {"£": "GBP", "€": "EUR", "$": "USD", "¥": "JPY", "₹": "INR", "CHF": "CHF", "kr": "SEK"}
_NUMBER_JUNK = re.compile(r"[\s'£€$¥₹]|CHF|kr|GBP|EUR|USD", re.IGNORECASE)
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d-%m-%Y",
    "%d %b %Y",
    "%d %B %Y",
)
COUNTRY_NAMES = {
    "united kingdom": "GB", "uk": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "northern ireland": "GB", "britain": "GB", "ireland": "IE", "republic of ireland": "IE", "united states": "US",
    "united states of america": "US", "usa": "US", "us": "US", "america": "US", "canada": "CA", "mexico": "MX",
    "brazil": "BR", "argentina": "AR", "chile": "CL", "colombia": "CO", "peru": "PE", "germany": "DE",
    "deutschland": "DE", "france": "FR", "spain": "ES", "espana": "ES", "españa": "ES", "portugal": "PT",
    "italy": "IT", "italia": "IT", "netherlands": "NL", "the netherlands": "NL", "holland": "NL", "belgium": "BE",
    "luxembourg": "LU", "switzerland": "CH", "austria": "AT", "denmark": "DK", "sweden": "SE", "norway": "NO",
    "finland": "FI", "iceland": "IS", "poland": "PL", "czech republic": "CZ", "czechia": "CZ", "slovakia": "SK",
    "hungary": "HU", "romania": "RO", "bulgaria": "BG", "greece": "GR", "croatia": "HR", "slovenia": "SI",
    "serbia": "RS", "estonia": "EE", "latvia": "LV", "lithuania": "LT", "ukraine": "UA", "turkey": "TR",
    "turkiye": "TR", "türkiye": "TR", "israel": "IL", "united arab emirates": "AE", "uae": "AE",
    "saudi arabia": "SA", "qatar": "QA", "egypt": "EG", "morocco": "MA", "nigeria": "NG", "kenya": "KE",
    "ghana": "GH", "south africa": "ZA", "india": "IN", "pakistan": "PK", "bangladesh": "BD", "sri lanka": "LK",
    "china": "CN", "hong kong": "HK", "taiwan": "TW", "japan": "JP", "south korea": "KR", "korea": "KR",
    "singapore": "SG", "malaysia": "MY", "indonesia": "ID", "thailand": "TH", "vietnam": "VN", "viet nam": "VN",
    "philippines": "PH", "australia": "AU", "new zealand": "NZ", "cyprus": "CY", "malta": "MT",
}  # fmt: skip


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"“{raw}” is not yes or no")


def _clean_number(raw: str) -> str:
    text = _NUMBER_JUNK.sub("", raw.strip())
    if "," in text and "." in text:  # 1,234.50 or 1.234,50: the last one is the decimal point
        text = text.replace(",", "") if text.rfind(".") > text.rfind(",") else text.replace(".", "").replace(",", ".")
    elif "," in text:
        whole, _, fraction = text.rpartition(",")
        text = f"{whole.replace(',', '')}.{fraction}" if len(fraction) != 3 else text.replace(",", "")
    return text


def _parse_int(raw: str, spec: LeadField) -> int:
    stripped = raw.strip()
    text = stripped.replace(".", "") if re.fullmatch(r"\d{1,3}(\.\d{3})+", stripped) else _clean_number(raw)
    try:
        number = Decimal(text)
    except InvalidOperation:
        if re.fullmatch(r"\d+\s*[-–]\s*\d+", raw.strip()):
            raise ValueError(f"“{raw}” is a range; give one number") from None
        raise ValueError(f"“{raw}” is not a whole number") from None
    if number != number.to_integral_value():
        raise ValueError(f"“{raw}” is not a whole number")
    if (spec.low is not None and number < spec.low) or (spec.high is not None and number > spec.high):
        raise ValueError(f"{raw.strip()} is out of range ({spec.low}–{spec.high:,})")
    return int(number)


def _parse_decimal(raw: str, low: Decimal, high: Decimal, places: int) -> Decimal:
    try:
        number = Decimal(_clean_number(raw))
    except InvalidOperation:
        raise ValueError(f"“{raw}” is not a number") from None
    if not number.is_finite() or not low <= number <= high:
        raise ValueError(f"{raw.strip()} is out of range ({low} to {high})")
    return round(number, places)


def _parse_datetime(raw: str, default_tz) -> datetime:
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in _DATE_FORMATS:
            try:
                value = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"“{raw}” is not a date (use 2026-11-23, 2026-11-23 14:30 or 23/11/2026)") from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, default_tz)
    return value


def _as_fragment(sentence: str) -> str:
    """A service's sentence ("Must be from …") as the import words its messages ("must be from …")."""
    return sentence[:1].lower() + sentence[1:].removesuffix(".")


def _parse_country(raw: str) -> str:
    text = raw.strip()
    if len(text) == 2 and text.isalpha():
        return text.upper()
    code = COUNTRY_NAMES.get(" ".join(text.lower().replace(".", "").split()))
    if code is None:
        raise ValueError(f"“{raw}” is not a country we know; use its two-letter code (e.g. GB)")
    return code


def _currency_symbol(raw: str) -> str | None:
    return next((code for symbol, code in _CURRENCY_SYMBOLS.items() if symbol in raw), None)


def _attribute_value(raw: str) -> Any:
    text = raw.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if re.fullmatch(r"-?\d{1,15}", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+", text) and len(text.lstrip("-").replace(".", "").lstrip("0")) <= 15:
        # A JSON number (what ICP number criteria test). With at most 15 significant digits the float
        # carries exactly the decimal written in the file; a longer one stays text rather than be rounded.
        return float(text)
    return text
