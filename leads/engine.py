"""The ICP rule engine, pure: data in, verdict and explanation out. No database access.

`engine_sql.py` compiles the same rules to SQL; the two must agree (tests/leads/test_engine_property.py).

Semantics, shared by both back ends:
- A value is *missing* when None, blank text, an absent attributes key, JSON null, or (for an
  attribute) not of the criterion's value type.
- is_set / is_missing are always decided; any other operator on a missing value is *unknown*.
- Text compares case-insensitively, spaces around the lead's value stripped.
- A rule that cannot be checked as written (`Rule.defect`: an unknown field, an operator its type does not
  have, a value of the wrong shape) is *unknown* for every lead, in every back end: never passed or failed
  silently, and its requirement says why. The admin refuses to save one (`rule_problems`).
- score = 100 * (weight of passing soft rules) // (weight of all soft rules), 100 without soft rules.
- Band: a hard rule fails -> disqualified; a hard rule unknown -> needs review; score >= qualified_min
  -> qualified; a soft rule unknown -> needs review; score >= review_min -> needs review; else disqualified.
"""

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
# An evaluation stores its outcomes as one letter per criterion, in the version's order ("ppfu…").
OUTCOME_CODES = {PASS: "p", FAIL: "f", UNKNOWN: "u"}
OUTCOMES_BY_CODE = {code: outcome for outcome, code in OUTCOME_CODES.items()}
QUALIFIED, NEEDS_REVIEW, DISQUALIFIED = "qualified", "needs_review", "disqualified"
EARTH_RADIUS_KM = 6371.0088

TEXT, NUMBER, BOOLEAN, POINT = "text", "number", "boolean", "point"
FIELD_TYPES: dict[str, str] = {
    **dict.fromkeys(
        [
            "email",
            "name",
            "company",
            "title",
            "phone",
            "country",
            "postal_code",
            "industry",
            "product_interest",
            "timeline",
            "message",
            "budget_currency",
        ],
        TEXT,
    ),
    **dict.fromkeys(["employees", "budget", "credit_score", "latitude", "longitude"], NUMBER),
    "is_decision_maker": BOOLEAN,
    "location": POINT,
}
OPERATORS_BY_TYPE: dict[str, set[str]] = {
    TEXT: {"eq", "ne", "in", "not_in", "contains", "is_set", "is_missing"},
    NUMBER: {"eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "between", "is_set", "is_missing"},
    BOOLEAN: {"eq", "ne", "is_set", "is_missing"},
    POINT: {"within_km", "is_set", "is_missing"},
}
SYMBOLS = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥"}
MAX_NUMBER = Decimal(10) ** 15  # a criterion's numbers stay below this (every lead number column does too)


@dataclass(frozen=True)
class Rule:
    id: int
    field: str
    operator: str
    value: Any = None
    value_type: str = TEXT
    hard: bool = False
    weight: int = 10
    label: str = ""
    reason_code: str = ""
    what_would_qualify: str = ""

    @property
    def type(self) -> str:
        if self.field.startswith("attributes."):
            return self.value_type
        return FIELD_TYPES.get(self.field, TEXT)

    @cached_property
    def defect(self) -> str:
        """Why the rule cannot be checked as written, "" when it can. Every back end then says unknown."""
        return "; ".join(problem.message for problem in rule_problems(self) if problem.blocking)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    qualified_min: int
    review_min: int


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    outcome: str
    actual: Any
    required: str


@dataclass(frozen=True)
class Verdict:
    band: str
    score: int
    results: tuple[RuleResult, ...]

    @property
    def failed(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.outcome == FAIL)

    @property
    def unknown(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.outcome == UNKNOWN)

    @property
    def primary_reason_code(self) -> str | None:
        failed = self.failed
        for result in [r for r in failed if r.rule.hard] + [r for r in failed if not r.rule.hard]:
            return result.rule.reason_code or None
        return None

    def outcomes(self) -> dict[str, str]:
        return {str(r.rule.id): r.outcome for r in self.results}

    def codes(self) -> str:
        """The outcomes as stored on an Evaluation: one letter per rule, in the rule set's order."""
        return "".join(OUTCOME_CODES[r.outcome] for r in self.results)


def outcomes_from_codes(rule_set: RuleSet, codes: str) -> dict[str, str]:
    """Criterion id -> outcome from an Evaluation's stored letters (rules of its own, immutable version)."""
    return {str(rule.id): OUTCOMES_BY_CODE[code] for rule, code in zip(rule_set.rules, codes, strict=False)}


# Building rule sets and values ---------------------------------------------------------------------------


def rule_set_from_version(version) -> RuleSet:
    rules = tuple(
        Rule(
            id=c.pk,
            field=c.field,
            operator=c.operator,
            value=c.value,
            value_type=c.value_type,
            hard=c.hard,
            weight=c.weight,
            label=c.label,
            reason_code=c.reason.code if c.reason_id else "",
            what_would_qualify=c.what_would_qualify,
        )
        for c in version.criteria.all()
    )
    return RuleSet(rules=rules, qualified_min=version.qualified_min, review_min=version.review_min)


def lead_values(lead) -> dict[str, Any]:
    values = {field: getattr(lead, field) for field in FIELD_TYPES if field != "location"}
    values["attributes"] = lead.attributes or {}
    return values


def fields_tested(rule_set: RuleSet) -> list[str]:
    """The lead fields the rules read, in rule order: an Evaluation's `actual` lists their values in this order."""
    fields: list[str] = []
    for rule in rule_set.rules:
        for field in ("latitude", "longitude") if rule.field == "location" else (rule.field,):
            if field not in fields:
                fields.append(field)
    return fields


# Reading a value the way both back ends do ---------------------------------------------------------------


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):  # lead fields may hold numeric text after a form edit
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    return stripped.lower() if stripped else None


def _attributes(values: Mapping[str, Any]) -> Mapping[str, Any]:
    attributes = values.get("attributes")
    return attributes if isinstance(attributes, dict) else {}  # not an object (a bad stored row): nothing in it


def read_value(rule: Rule, values: Mapping[str, Any]) -> Any:
    """The lead's value for the rule, normalised for comparison, or None when missing."""
    if rule.field == "location":
        lat, lon = _number(values.get("latitude")), _number(values.get("longitude"))
        return None if lat is None or lon is None else (lat, lon)
    if rule.field.startswith("attributes."):
        raw = _attributes(values).get(rule.field.removeprefix("attributes."))
        if rule.value_type == NUMBER:
            return None if isinstance(raw, bool) or not isinstance(raw, int | float) else _number(raw)
        if rule.value_type == BOOLEAN:
            return raw if isinstance(raw, bool) else None
        return _text(raw)
    raw = values.get(rule.field)
    kind = FIELD_TYPES.get(rule.field, TEXT)
    if kind == NUMBER:
        return _number(raw)
    if kind == BOOLEAN:
        return raw if isinstance(raw, bool) else None
    return _text(raw) if isinstance(raw, str) else (None if raw is None else _text(str(raw)))


def _expected(rule: Rule, value: Any) -> Any:
    if rule.type == NUMBER:
        return _number(value)
    if rule.type == BOOLEAN:
        return bool(value)
    return str(value).strip().lower()


def distance_km(lat1: Decimal, lon1: Decimal, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lon2) - float(lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


# Evaluating ----------------------------------------------------------------------------------------------


def _outcome(rule: Rule, actual: Any) -> str:
    if rule.defect:
        return UNKNOWN
    op = rule.operator
    if op == "is_set":
        return PASS if actual is not None else FAIL
    if op == "is_missing":
        return PASS if actual is None else FAIL
    if actual is None:
        return UNKNOWN
    if op == "within_km":
        point = rule.value or {}
        return PASS if distance_km(*actual, point["lat"], point["lon"]) <= float(point["km"]) else FAIL
    if op in ("in", "not_in"):
        inside = actual in {_expected(rule, v) for v in rule.value or []}
        return PASS if inside == (op == "in") else FAIL
    if op == "between":
        low, high = (_expected(rule, v) for v in rule.value)
        return PASS if low <= actual <= high else FAIL
    if op == "contains":
        return PASS if _expected(rule, rule.value) in actual else FAIL
    expected = _expected(rule, rule.value)
    passed = {
        "eq": actual == expected,
        "ne": actual != expected,
        "lt": actual < expected,
        "lte": actual <= expected,
        "gt": actual > expected,
        "gte": actual >= expected,
    }[op]
    return PASS if passed else FAIL


def _display(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | Decimal):
        return f"{Decimal(str(value)).normalize():f}"
    return str(value)


def describe_requirement(rule: Rule) -> str:
    if rule.defect:
        return f"cannot be checked: {rule.defect}"
    op, value = rule.operator, rule.value
    if op == "is_set":
        return "is given"
    if op == "is_missing":
        return "is not given"
    if op in ("in", "not_in"):
        listed = ", ".join(_display(v) for v in value or [])
        return f"one of {listed}" if op == "in" else f"none of {listed}"
    if op == "between":
        return f"between {_display(value[0])} and {_display(value[1])}"
    if op == "contains":
        return f"contains “{value}”"
    if op == "within_km":
        return f"within {_display(value['km'])} km of {_display(value['lat'])}, {_display(value['lon'])}"
    return f"{SYMBOLS[op]} {_display(value)}"


def _actual_for_display(rule: Rule, values: Mapping[str, Any], actual: Any) -> Any:
    if rule.field == "location":
        if actual is None:
            return None
        if rule.defect:
            return f"{actual[0]}, {actual[1]}"
        point = rule.value or {}
        km = distance_km(*actual, point.get("lat", 0), point.get("lon", 0))
        return {"lat": str(actual[0]), "lon": str(actual[1]), "km_away": round(km, 1)}
    if actual is None:
        return None
    raw = (
        _attributes(values).get(rule.field.removeprefix("attributes."))
        if rule.field.startswith("attributes.")
        else values.get(rule.field)
    )
    return str(raw) if isinstance(raw, Decimal) else raw


def evaluate(rule_set: RuleSet, values: Mapping[str, Any]) -> Verdict:
    results = []
    for rule in rule_set.rules:
        actual = read_value(rule, values)
        results.append(
            RuleResult(
                rule=rule,
                outcome=_outcome(rule, actual),
                actual=_actual_for_display(rule, values, actual),
                required=describe_requirement(rule),
            )
        )
    soft = [r for r in results if not r.rule.hard]
    total = sum(r.rule.weight for r in soft)
    passed = sum(r.rule.weight for r in soft if r.outcome == PASS)
    score = (100 * passed) // total if total else 100
    hard_outcomes = {r.outcome for r in results if r.rule.hard}
    if FAIL in hard_outcomes:
        band = DISQUALIFIED
    elif UNKNOWN in hard_outcomes:
        band = NEEDS_REVIEW
    elif score >= rule_set.qualified_min:
        band = QUALIFIED
    elif any(r.outcome == UNKNOWN for r in soft) or score >= rule_set.review_min:
        band = NEEDS_REVIEW
    else:
        band = DISQUALIFIED
    return Verdict(band=band, score=score, results=tuple(results))


# Compiled: the same verdict for many leads at Python speed --------------------------------------------

CompiledVerdict = Callable[[Mapping[str, Any]], tuple[str, int, str, str | None]]
_COMPARE = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


def _compile_reader(rule: Rule) -> Callable[[Mapping[str, Any]], Any]:
    """`read_value` for one rule with its branches decided once (a whole number is compared as it is:
    Python compares int and Decimal exactly, as `_number` would after converting)."""
    field = rule.field
    if field == "location" or field.startswith("attributes."):
        return lambda values: read_value(rule, values)
    kind = FIELD_TYPES.get(field, TEXT)
    if kind == NUMBER:

        def read_number(values):
            raw = values.get(field)
            if raw is None:
                return None
            cls = type(raw)
            return raw if cls is int or cls is Decimal else _number(raw)

        return read_number
    if kind == BOOLEAN:

        def read_boolean(values):
            raw = values.get(field)
            return raw if raw is True or raw is False else None

        return read_boolean

    def read_text(values):
        raw = values.get(field)
        if type(raw) is str:
            stripped = raw.strip()
            return stripped.lower() if stripped else None
        return None if raw is None else _text(str(raw))

    return read_text


def _compile_test(rule: Rule) -> Callable[[Any], str]:
    """The rule's outcome letter (p, f, u) for the value `read_value` gives, as `_outcome` decides it."""
    if rule.defect:
        return lambda actual: "u"
    op = rule.operator
    if op in ("is_set", "is_missing"):
        when_set, when_missing = ("p", "f") if op == "is_set" else ("f", "p")
        return lambda actual: when_missing if actual is None else when_set
    if op == "within_km":
        point = rule.value or {}
        lat, lon, km = point["lat"], point["lon"], float(point["km"])

        def within(actual):
            if actual is None:
                return "u"
            return "p" if distance_km(actual[0], actual[1], lat, lon) <= km else "f"

        return within
    if op in ("in", "not_in"):
        options = frozenset(_expected(rule, v) for v in rule.value or [])
        when_inside, when_outside = ("p", "f") if op == "in" else ("f", "p")

        def member(actual):
            if actual is None:
                return "u"
            return when_inside if actual in options else when_outside

        return member
    if op == "between":
        low, high = (_expected(rule, v) for v in rule.value)

        def between(actual):
            if actual is None:
                return "u"
            return "p" if low <= actual <= high else "f"

        return between
    expected = _expected(rule, rule.value)
    if op == "contains":

        def contains(actual):
            if actual is None:
                return "u"
            return "p" if expected in actual else "f"

        return contains
    compare = _COMPARE[op]

    def compared(actual):
        if actual is None:
            return "u"
        return "p" if compare(actual, expected) else "f"

    return compared


def compile_rule_set(rule_set: RuleSet) -> CompiledVerdict:
    """`evaluate` without the explanation, bound once for many leads (the CSV import): values in,
    (band, score, outcome letters, primary reason code) out. The property test holds it to `evaluate`."""
    rules = rule_set.rules
    # Each distinct field (and, for an attribute, value type) is read once per lead, however many rules test it.
    read_keys = [(rule.field, rule.value_type if rule.field.startswith("attributes.") else "") for rule in rules]
    readers: dict[tuple[str, str], int] = {}
    read_functions = []
    for rule, key in zip(rules, read_keys, strict=True):
        if key not in readers:
            readers[key] = len(read_functions)
            read_functions.append(_compile_reader(rule))
    tests = [(readers[key], _compile_test(rule)) for rule, key in zip(rules, read_keys, strict=True)]
    hard = [i for i, rule in enumerate(rules) if rule.hard]
    soft = [(i, rule.weight) for i, rule in enumerate(rules) if not rule.hard]
    soft_positions = [i for i, _ in soft]
    total = sum(weight for _, weight in soft)
    reasons = [(i, rules[i].reason_code or None) for i in hard + soft_positions]
    qualified_min, review_min = rule_set.qualified_min, rule_set.review_min

    def verdict(values: Mapping[str, Any]) -> tuple[str, int, str, str | None]:
        actuals = [read(values) for read in read_functions]
        codes = [test(actuals[slot]) for slot, test in tests]
        score = (100 * sum(weight for i, weight in soft if codes[i] == "p")) // total if total else 100
        hard_codes = [codes[i] for i in hard]
        if "f" in hard_codes:
            band = DISQUALIFIED
        elif "u" in hard_codes:
            band = NEEDS_REVIEW
        elif score >= qualified_min:
            band = QUALIFIED
        elif score >= review_min or any(codes[i] == "u" for i in soft_positions):
            band = NEEDS_REVIEW
        else:
            band = DISQUALIFIED
        reason = next((code for i, code in reasons if codes[i] == "f"), None)
        return band, score, "".join(codes), reason

    return verdict


# Checking a rule ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    part: str  # the part of the criterion it is about: field, operator, value, value_type or weight
    message: str
    blocking: bool = True  # the rule cannot be checked as written (False: it can, but it is not what was meant)


def rule_problems(rule: Rule) -> list[Problem]:
    """What is wrong with a criterion, in words for the person editing it, each on the part it is about.
    The admin refuses to save a rule with any; a stored rule with a blocking one is `Rule.defect`."""
    problems = _field_problems(rule)
    if not problems:
        allowed = ", ".join(sorted(OPERATORS_BY_TYPE[rule.type]))
        if rule.operator not in OPERATORS_BY_TYPE[rule.type]:
            message = f"“{rule.operator}” does not apply to a {rule.type} field (use one of {allowed})"
            problems.append(Problem("operator", message))
        else:
            problems += _value_problems(rule)
    if not rule.hard and not (isinstance(rule.weight, int) and rule.weight > 0):
        problems.append(Problem("weight", "a soft criterion needs a weight above 0", blocking=False))
    return problems


def validate_rule(rule: Rule) -> list[str]:
    """`rule_problems` as sentences (the version page, publishing)."""
    return [problem.message for problem in rule_problems(rule)]


def _field_problems(rule: Rule) -> list[Problem]:
    if not rule.field.startswith("attributes."):
        if rule.field in FIELD_TYPES:
            return []
        return [Problem("field", f"unknown field “{rule.field}” (use a lead field or attributes.<key>)")]
    problems = []
    key = rule.field.removeprefix("attributes.")
    if not key.strip():
        problems.append(Problem("field", "name the attribute after “attributes.”"))
    elif key.isdigit() or "__" in key or key != key.strip():
        # Both back ends must read the same key: the SQL one takes digits for a list index and “__” for a path.
        problems.append(
            Problem("field", f"“{key}” cannot be an attribute key: not only digits, no “__”, no edge spaces")
        )
    if rule.value_type not in (TEXT, NUMBER, BOOLEAN):
        problems.append(Problem("value_type", f"unknown value type “{rule.value_type}” (use text, number or boolean)"))
    return problems


def _finite(value: Any) -> Decimal | None:
    number = _number(value)
    return number if number is not None and number.is_finite() and abs(number) < MAX_NUMBER else None


def _value_problems(rule: Rule) -> list[Problem]:
    op, value = rule.operator, rule.value
    if op in ("is_set", "is_missing"):
        if value not in (None, "", [], {}):
            return [Problem("value", f"“{op}” takes no value: leave it empty", blocking=False)]
        return []
    if op == "within_km":
        point = value if isinstance(value, dict) else {}
        lat, lon, km = (_finite(point.get(key)) for key in ("lat", "lon", "km"))
        if lat is None or lon is None or km is None:
            return [Problem("value", 'needs a point and a distance: {"lat": 51.5, "lon": -0.12, "km": 50}')]
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return [Problem("value", "the latitude must be within ±90 and the longitude within ±180")]
        return [] if km > 0 else [Problem("value", "the distance (km) must be above 0")]
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            return [Problem("value", 'needs a non-empty list of values, e.g. ["GB", "IE"]')]
        items = value
    elif op == "between":
        if not isinstance(value, list) or len(value) != 2:
            return [Problem("value", "needs two values, [low, high], e.g. [18, 65]")]
        items = value
    else:
        items = [value]
    problems = [Problem("value", message) for item in items if (message := _item_problem(rule.type, item))]
    if op == "between" and not problems and _number(items[0]) > _number(items[1]):
        problems.append(Problem("value", f"the low end ({items[0]}) is above the high end ({items[1]})"))
    return problems


def _item_problem(kind: str, item: Any) -> str:
    if item is None or (isinstance(item, str) and not item.strip()):
        return "needs a value"
    if kind == NUMBER:
        return "" if _finite(item) is not None else f"“{item}” is not a number (or not below 10^15)"
    if kind == BOOLEAN:
        return "" if isinstance(item, bool) else "needs true or false"
    if isinstance(item, bool) or not isinstance(item, str | int | float | Decimal):
        return f"“{item}” is not a text value"
    return ""
