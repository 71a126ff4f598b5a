"""The engine says what is wrong with a criterion (the admin refuses it), and a broken stored one is never
passed or failed: every back end says unknown and the requirement says why."""

import pytest

from leads.engine import (
    NEEDS_REVIEW,
    UNKNOWN,
    Rule,
    RuleSet,
    compile_rule_set,
    describe_requirement,
    evaluate,
    rule_problems,
    validate_rule,
)


def problems(**kwargs) -> list[tuple[str, str, bool]]:
    rule = Rule(id=1, **{"weight": 10, **kwargs})
    return [(p.part, p.message, p.blocking) for p in rule_problems(rule)]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"field": "credit_score", "operator": "between", "value": [600]},
            [("value", "needs two values, [low, high], e.g. [18, 65]", True)],
        ),
        (
            {"field": "credit_score", "operator": "between", "value": [700, 600]},
            [("value", "the low end (700) is above the high end (600)", True)],
        ),
        (
            {"field": "credit_score", "operator": "between", "value": "600-700"},
            [("value", "needs two values, [low, high], e.g. [18, 65]", True)],
        ),
        (
            {"field": "shoe_size", "operator": "gte", "value": 40},
            [("field", "unknown field “shoe_size” (use a lead field or attributes.<key>)", True)],
        ),
        (
            {"field": "country", "operator": "in", "value": []},
            [("value", 'needs a non-empty list of values, e.g. ["GB", "IE"]', True)],
        ),
        (
            {"field": "country", "operator": "in", "value": "GB"},
            [("value", 'needs a non-empty list of values, e.g. ["GB", "IE"]', True)],
        ),
        (
            {"field": "country", "operator": "in", "value": ["GB", {"x": 1}]},
            [("value", "“{'x': 1}” is not a text value", True)],
        ),
        (
            {"field": "budget", "operator": "gte", "value": "lots"},
            [("value", "“lots” is not a number (or not below 10^15)", True)],
        ),
        (
            {"field": "budget", "operator": "gte", "value": "NaN"},
            [("value", "“NaN” is not a number (or not below 10^15)", True)],
        ),
        (
            {"field": "budget", "operator": "gte", "value": 1e300},
            [("value", "“1e+300” is not a number (or not below 10^15)", True)],
        ),
        ({"field": "budget", "operator": "gte", "value": None}, [("value", "needs a value", True)]),
        ({"field": "industry", "operator": "eq", "value": "   "}, [("value", "needs a value", True)]),
        ({"field": "is_decision_maker", "operator": "eq", "value": "yes"}, [("value", "needs true or false", True)]),
        (
            {"field": "industry", "operator": "gte", "value": "retail"},
            [
                (
                    "operator",
                    "“gte” does not apply to a text field "
                    "(use one of contains, eq, in, is_missing, is_set, ne, not_in)",
                    True,
                )
            ],
        ),
        (
            {"field": "location", "operator": "within_km", "value": {"lat": 51.5, "lon": -0.1}},
            [("value", 'needs a point and a distance: {"lat": 51.5, "lon": -0.12, "km": 50}', True)],
        ),
        (
            {"field": "location", "operator": "within_km", "value": {"lat": 91, "lon": 0, "km": 5}},
            [("value", "the latitude must be within ±90 and the longitude within ±180", True)],
        ),
        (
            {"field": "location", "operator": "within_km", "value": {"lat": 51, "lon": 0, "km": 0}},
            [("value", "the distance (km) must be above 0", True)],
        ),
        (
            {"field": "attributes.", "operator": "eq", "value": "x"},
            [("field", "name the attribute after “attributes.”", True)],
        ),
        (
            {"field": "attributes.a__b", "operator": "eq", "value": "x"},
            [("field", "“a__b” cannot be an attribute key: not only digits, no “__”, no edge spaces", True)],
        ),
        (
            {"field": "attributes.age", "operator": "gte", "value": 18, "value_type": "date"},
            [("value_type", "unknown value type “date” (use text, number or boolean)", True)],
        ),
        (
            {"field": "email", "operator": "is_set", "value": "x"},
            [("value", "“is_set” takes no value: leave it empty", False)],
        ),
        (
            {"field": "employees", "operator": "gte", "value": 10, "weight": 0},
            [("weight", "a soft criterion needs a weight above 0", False)],
        ),
    ],
)
def test_rule_problems_names_the_part_and_says_what_is_wrong(kwargs, expected):
    assert problems(**kwargs) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"field": "credit_score", "operator": "between", "value": [600, 700]},
        {"field": "credit_score", "operator": "between", "value": ["600", "700.5"]},
        {"field": "country", "operator": "in", "value": ["GB", "IE"]},
        {"field": "postal_code", "operator": "eq", "value": 10115},
        {"field": "is_decision_maker", "operator": "eq", "value": True},
        {"field": "location", "operator": "within_km", "value": {"lat": 51.5, "lon": -0.1, "km": 25}},
        {"field": "attributes.segment", "operator": "eq", "value": "smb", "value_type": "text"},
        {"field": "attributes.age", "operator": "between", "value": [18, 65], "value_type": "number"},
        {"field": "email", "operator": "is_missing", "value": None},
        {"field": "budget", "operator": "gte", "value": 0, "hard": True, "weight": 0},
    ],
)
def test_rule_problems_accepts_a_sound_rule(kwargs):
    assert problems(**kwargs) == []


def test_validate_rule_lists_every_problem_as_a_sentence():
    rule = Rule(id=1, field="employees", operator="between", value=[5], weight=0)

    assert validate_rule(rule) == [
        "needs two values, [low, high], e.g. [18, 65]",
        "a soft criterion needs a weight above 0",
    ]
    assert rule.defect == "needs two values, [low, high], e.g. [18, 65]"


def test_a_broken_rule_is_unknown_and_says_why_in_every_evaluator():
    broken = Rule(id=1, field="credit_score", operator="between", value=[600], hard=True, weight=0, label="Credit")
    missing_field = Rule(id=2, field="shoe_size", operator="is_missing", value=None, weight=10, label="Shoes")
    rule_set = RuleSet(rules=(broken, missing_field), qualified_min=50, review_min=10)
    values = {"credit_score": 650, "attributes": {}}

    verdict = evaluate(rule_set, values)

    assert [r.outcome for r in verdict.results] == [UNKNOWN, UNKNOWN]
    assert [r.required for r in verdict.results] == [
        "cannot be checked: needs two values, [low, high], e.g. [18, 65]",
        "cannot be checked: unknown field “shoe_size” (use a lead field or attributes.<key>)",
    ]
    assert (verdict.band, verdict.score) == (NEEDS_REVIEW, 0)
    assert compile_rule_set(rule_set)(values) == (NEEDS_REVIEW, 0, "uu", None)
    assert describe_requirement(broken) == "cannot be checked: needs two values, [low, high], e.g. [18, 65]"


def test_attributes_that_are_not_an_object_read_as_missing():
    rule = Rule(id=1, field="attributes.segment", operator="eq", value="smb", hard=True, weight=0)
    rule_set = RuleSet(rules=(rule,), qualified_min=50, review_min=10)

    verdict = evaluate(rule_set, {"attributes": ["smb"]})

    assert [r.outcome for r in verdict.results] == [UNKNOWN]
