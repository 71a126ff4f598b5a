"""Which column of the file is which lead field: guessed from everyday header spellings (the aliases declared in
`leads.fields`), checked before anything is read."""

from __future__ import annotations

import re

from leads.fields import IMPORT_FIELDS, LeadField
from leads.importing.base import ImportFileError

FieldSpec = LeadField  # the import's fields are the lead's, as `leads.fields` declares them
FIELDS: tuple[LeadField, ...] = IMPORT_FIELDS
FIELDS_BY_NAME = {spec.name: spec for spec in FIELDS}
ATTRIBUTE_PREFIX = "attributes."
DEFAULT_CONSENT_VERSION = "csv-import"


def normalise_header(header: str) -> str:
    text = header.strip().lower().replace("nº", "no").replace("#", " no ")
    text = re.sub(r"\([^)]*\)", " ", text)  # "Budget (£)" -> "budget"
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


_SPELLINGS = {normalise_header(s): spec.name for spec in FIELDS for s in (spec.name.replace("_", " "), *spec.aliases)}


def guess_mapping(headers: list[str], attribute_keys: set[str] | frozenset[str] = frozenset()) -> dict[str, str]:
    """{header: field or ""}: each field taken by the first header spelled like it; a header named like an
    attribute the ICP tests maps to `attributes.<key>`; anything else is skipped."""
    mapping, taken = {}, set()
    attributes = {normalise_header(key): key for key in attribute_keys}
    for header in headers:
        norm = normalise_header(header)
        guess = _SPELLINGS.get(norm) or _SPELLINGS.get(norm.removeprefix("lead ").removeprefix("contact "))
        if guess is None and norm in attributes:
            guess = ATTRIBUTE_PREFIX + attributes[norm]
        if guess and guess not in taken:
            mapping[header] = guess
            taken.add(guess)
        else:
            mapping[header] = ""
    return mapping


def field_choices() -> list[tuple[str, str]]:
    return [(spec.name, spec.label) for spec in FIELDS]


def validate_mapping(mapping: dict[str, str], headers: list[str]) -> dict[str, str]:
    """The mapping with skipped columns dropped, or ImportFileError naming the column and the problem."""
    problems, used, clean = [], {}, {}
    for header, target in mapping.items():
        target = (target or "").strip()
        if not target:
            continue
        if header not in headers:
            problems.append(f"column “{header}” is not in the file")
        elif target.startswith(ATTRIBUTE_PREFIX):
            key = target.removeprefix(ATTRIBUTE_PREFIX)
            if not re.fullmatch(r"[A-Za-z0-9_]{1,50}", key):
                problems.append(f"column “{header}”: attribute names use letters, digits and _ (got “{key}”)")
        elif target not in FIELDS_BY_NAME:
            problems.append(f"column “{header}”: “{target}” is not a lead field")
        if target in used:
            problems.append(f"columns “{used[target]}” and “{header}” are both mapped to {target}")
        used.setdefault(target, header)
        clean[header] = target
    if "email" not in used:
        problems.append("no column is mapped to email (every lead needs one)")
    if problems:
        raise ImportFileError("Column mapping: " + "; ".join(problems) + ".")
    return clean
