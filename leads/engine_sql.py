"""The ICP rule engine compiled to SQL: evaluates many leads in one statement.

Same semantics as `leads/engine.py` (read its docstring); the property test proves they agree.
Works on PostgreSQL and SQLite.
"""

from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    DecimalField,
    Expression,
    F,
    FloatField,
    Func,
    IntegerField,
    JSONField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import ASin, Cast, Cos, Least, Lower, Power, Radians, Sin, Sqrt, Trim
from django.db.models.lookups import (
    Contains,
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
    LessThanOrEqual,
)

from leads.engine import BOOLEAN, EARTH_RADIUS_KM, FIELD_TYPES, NUMBER, Rule, RuleSet, _expected, fields_tested

NUMERIC = DecimalField(max_digits=30, decimal_places=10)


class ToNumeric(Cast):
    """A cast to an exact number. PostgreSQL gets plain `numeric`: no precision to round to per row, which
    costs more than the comparison itself over a million leads, and the value is the same."""

    def __init__(self, expression):
        super().__init__(expression, NUMERIC)

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql})::numeric", params


TEXT_OUT = CharField()


class JSONKeyType(Func):
    """The JSON type of attributes[key], normalised: 'number', 'string', 'true', 'false', 'null' or NULL."""

    output_field = CharField()

    def __init__(self, field: str, key: str):
        super().__init__(F(field))
        self.key = key

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.source_expressions[0])
        sql = (
            f"CASE jsonb_typeof({column} -> %s) WHEN 'boolean' THEN ({column} ->> %s) "
            f"ELSE jsonb_typeof({column} -> %s) END"
        )
        return sql, (*params, self.key, *params, self.key, *params, self.key)

    def as_sqlite(self, compiler, connection):
        column, params = compiler.compile(self.source_expressions[0])
        path = '$."{}"'.format(self.key.replace('"', '\\"'))
        sql = (
            f"CASE json_type({column}, %s) WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number' "
            f"WHEN 'text' THEN 'string' ELSE json_type({column}, %s) END"
        )
        return sql, (*params, path, *params, path)


class StoredValue(Func):
    """A tested field's value as an Evaluation's `actual` keeps it: an attribute as its JSON value (not
    text), a yes/no as a JSON boolean on SQLite too (which stores it as 0/1); the column itself otherwise."""

    def __init__(self, field: str):
        self.lead_field = field
        self.key = field.removeprefix("attributes.") if field.startswith("attributes.") else None
        column = "attributes" if self.key is not None else field
        super().__init__(F(column), output_field=JSONField() if self.key is not None else None)

    def _resolve_output_field(self):
        return self.source_expressions[0].output_field

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.source_expressions[0])
        if self.key is not None:
            return f"({column} -> %s)", (*params, self.key)
        return column, params

    def as_sqlite(self, compiler, connection):
        column, params = compiler.compile(self.source_expressions[0])
        if self.key is not None:
            return f"({column} -> %s)", (*params, '$."{}"'.format(self.key.replace('"', '\\"')))
        if FIELD_TYPES.get(self.lead_field) == BOOLEAN:
            return f"CASE WHEN {column} IS NULL THEN NULL WHEN {column} THEN json('true') ELSE json('false') END", (
                *params, *params, *params)  # fmt: skip
        return column, params


def _stored_value(field: str) -> Expression:
    """`StoredValue`, or JSON null for a field the engine does not know (a broken criterion: no such column)."""
    if field.startswith("attributes.") or field in FIELD_TYPES:
        return StoredValue(field)
    return Value(None, output_field=JSONField())


def _number(value) -> Expression:
    return ToNumeric(Value(str(Decimal(str(value)))))


def _value_and_missing(rule: Rule) -> tuple[Expression | None, Q | Expression]:
    """The normalised value expression and the condition under which it is missing."""
    if rule.field == "location":
        return None, Q(latitude__isnull=True) | Q(longitude__isnull=True)
    if rule.field.startswith("attributes."):
        key = rule.field.removeprefix("attributes.")
        kind = JSONKeyType("attributes", key)
        raw = KT(f"attributes__{key}")
        if rule.value_type == NUMBER:
            is_number = Exact(kind, "number")
            value = Case(When(is_number, then=ToNumeric(raw)), default=Value(None), output_field=NUMERIC)
            return value, Q(IsNull(kind, True)) | ~Q(is_number)
        if rule.value_type == BOOLEAN:
            return kind, Q(IsNull(kind, True)) | ~Q(In(kind, ["true", "false"]))
        text = Lower(Trim(Case(When(Exact(kind, "string"), then=raw), default=Value(None), output_field=TEXT_OUT)))
        return text, Q(IsNull(text, True)) | Q(Exact(text, ""))
    if rule.type == NUMBER:
        return ToNumeric(F(rule.field)), Q(**{f"{rule.field}__isnull": True})
    if rule.type == BOOLEAN:
        return F(rule.field), Q(**{f"{rule.field}__isnull": True})
    text = Lower(Trim(F(rule.field)))  # blank or not does not depend on case: no LOWER() in the missing test
    return text, Q(**{f"{rule.field}__isnull": True}) | Q(Exact(Trim(F(rule.field)), ""))


def _constant(rule: Rule, value) -> Expression:
    expected = _expected(rule, value)
    if rule.type == NUMBER:
        return _number(expected)
    if rule.type == BOOLEAN:
        if rule.field.startswith("attributes."):
            return Value("true" if expected else "false")
        return Value(expected)
    return Value(expected, output_field=TEXT_OUT)


def _distance_km(point: dict) -> Expression:
    lat1, lon1 = Radians(Cast(F("latitude"), FloatField())), Cast(F("longitude"), FloatField())
    lat2 = Radians(Value(float(point["lat"]), output_field=FloatField()))
    lon2 = Value(float(point["lon"]), output_field=FloatField())
    half_dlat = Sin((lat2 - lat1) / Value(2.0))
    half_dlon = Sin(Radians(lon2 - lon1) / Value(2.0))
    a = Power(half_dlat, 2) + Cos(lat1) * Cos(lat2) * Power(half_dlon, 2)
    return Value(2 * EARTH_RADIUS_KM) * ASin(Least(Sqrt(a), Value(1.0)))


def _pass_condition(rule: Rule, value: Expression | None) -> tuple[Expression, bool]:
    """(condition, negate): the outcome is pass when condition holds (or does not, when negate)."""
    op = rule.operator
    if op == "within_km":
        return LessThanOrEqual(_distance_km(rule.value), Value(float(rule.value["km"]))), False
    if op in ("in", "not_in"):
        options = [_constant(rule, v) for v in rule.value or []]
        return In(value, options), op == "not_in"
    if op == "between":
        low, high = (_constant(rule, v) for v in rule.value)
        return Q(GreaterThanOrEqual(value, low)) & Q(LessThanOrEqual(value, high)), False
    if op == "contains":
        return Contains(value, str(_expected(rule, rule.value))), False
    lookup = {
        "eq": Exact,
        "ne": Exact,
        "lt": LessThan,
        "lte": LessThanOrEqual,
        "gt": GreaterThan,
        "gte": GreaterThanOrEqual,
    }[op]
    return lookup(value, _constant(rule, rule.value)), op == "ne"


def outcome_expression(rule: Rule, *, letters: bool = False) -> Expression:
    """ "pass", "fail" or "unknown" for the rule; with `letters`, the stored one-letter form (p, f, u)."""
    pass_, fail, unknown = ("p", "f", "u") if letters else ("pass", "fail", "unknown")
    if rule.defect:  # cannot be checked as written: unknown for every lead, as in engine.py
        return Value(unknown, output_field=TEXT_OUT)
    value, missing = _value_and_missing(rule)
    if rule.operator in ("is_set", "is_missing"):
        on_missing, otherwise = (fail, pass_) if rule.operator == "is_set" else (pass_, fail)
        return Case(When(missing, then=Value(on_missing)), default=Value(otherwise), output_field=TEXT_OUT)
    condition, negate = _pass_condition(rule, value)
    when_true, when_false = (fail, pass_) if negate else (pass_, fail)
    return Case(
        When(missing, then=Value(unknown)),
        When(condition, then=Value(when_true)),
        default=Value(when_false),
        output_field=TEXT_OUT,
    )


def _any(rules: list[Rule], outcome: str) -> Q | None:
    condition = None
    for rule in rules:
        q = Q(**{f"icp_o_{rule.id}": outcome})
        condition = q if condition is None else condition | q
    return condition


def annotate_verdict(queryset: QuerySet, rule_set: RuleSet) -> QuerySet:
    """Annotate icp_o_<id> (pass/fail/unknown), verdict_score, icp_band and icp_reason, all computed in SQL."""
    outcomes = {f"icp_o_{rule.id}": outcome_expression(rule) for rule in rule_set.rules}
    queryset = queryset.annotate(**outcomes)
    hard = [r for r in rule_set.rules if r.hard]
    soft = [r for r in rule_set.rules if not r.hard]
    total = sum(r.weight for r in soft)
    if total:
        passed = sum(
            (
                Case(
                    When(**{f"icp_o_{r.id}": "pass"}, then=Value(r.weight)),
                    default=Value(0),
                    output_field=IntegerField(),
                )
                for r in soft
            ),
            start=Value(0, output_field=IntegerField()),
        )
        score = (Value(100, output_field=IntegerField()) * passed) / Value(total, output_field=IntegerField())
    else:
        score = Value(100, output_field=IntegerField())
    queryset = queryset.annotate(verdict_score=score)
    whens = []
    if any_hard_fail := _any(hard, "fail"):
        whens.append(When(any_hard_fail, then=Value("disqualified")))
    if any_hard_unknown := _any(hard, "unknown"):
        whens.append(When(any_hard_unknown, then=Value("needs_review")))
    whens.append(When(verdict_score__gte=rule_set.qualified_min, then=Value("qualified")))
    if any_soft_unknown := _any(soft, "unknown"):
        whens.append(When(any_soft_unknown, then=Value("needs_review")))
    whens.append(When(verdict_score__gte=rule_set.review_min, then=Value("needs_review")))
    reason_whens = [
        When(**{f"icp_o_{r.id}": "fail"}, then=Value(r.reason_code or None, output_field=TEXT_OUT)) for r in hard + soft
    ]
    return queryset.annotate(
        verdict_band=Case(*whens, default=Value("disqualified"), output_field=TEXT_OUT),
        verdict_reason=Case(*reason_whens, default=Value(None), output_field=TEXT_OUT)
        if reason_whens
        else Value(None, output_field=TEXT_OUT),
    )


def verdict_sql(queryset: QuerySet, rule_set: RuleSet, reason_ids: dict[str, int], vendor: str) -> tuple[str, list]:
    """One SELECT of pk, icp_score, icp_band, icp_reason_id, icp_outcomes and icp_actual for every row of
    `queryset` (Lead, or StagedLead rows being imported), in the form an Evaluation stores: the outcomes as
    one letter per rule ("ppfu…") and the actual values as a JSON array in `fields_tested()` order.

    Same verdict as `annotate_verdict`, but nothing is computed twice: each criterion's outcome letter in an
    inner query, the score over those in a middle one (both fenced with OFFSET 0 so the planner cannot
    inline and repeat them), and the band, reason and outcome string are plain expressions on top."""
    from django.db.models.functions import JSONArray

    rules = rule_set.rules
    fields = fields_tested(rule_set)
    inner = queryset.order_by().annotate(
        **{f"icp_o_{rule.id}": outcome_expression(rule, letters=True) for rule in rules},
        icp_actual=JSONArray(*(_stored_value(field) for field in fields)),
    )
    inner_sql, params = inner.values("pk", *(f"icp_o_{r.id}" for r in rules), "icp_actual").query.sql_with_params()

    def any_outcome(subset: list[Rule], letter: str) -> str:
        return " OR ".join(f"w.icp_o_{r.id} = '{letter}'" for r in subset)

    hard = [r for r in rules if r.hard]
    soft = [r for r in rules if not r.hard]
    total = sum(r.weight for r in soft)
    if total:
        passed = " + ".join(f"CASE WHEN v.icp_o_{r.id} = 'p' THEN {int(r.weight)} ELSE 0 END" for r in soft)
        score = f"((100 * ({passed})) / {int(total)})"
    else:
        score = "100"
    whens = []
    if hard:
        whens += [f"WHEN {any_outcome(hard, 'f')} THEN 'disqualified'",
                  f"WHEN {any_outcome(hard, 'u')} THEN 'needs_review'"]  # fmt: skip
    whens.append(f"WHEN w.score >= {int(rule_set.qualified_min)} THEN 'qualified'")
    if soft:
        whens.append(f"WHEN {any_outcome(soft, 'u')} THEN 'needs_review'")
    whens.append(f"WHEN w.score >= {int(rule_set.review_min)} THEN 'needs_review'")
    band = f"CASE {' '.join(whens)} ELSE 'disqualified' END"
    reason_whens = " ".join(
        f"WHEN w.icp_o_{r.id} = 'f' THEN {int(reason_ids[r.reason_code]) if r.reason_code in reason_ids else 'NULL'}"
        for r in hard + soft
    )
    reason = f"CAST(CASE {reason_whens} ELSE NULL END AS BIGINT)" if reason_whens else "CAST(NULL AS BIGINT)"
    letters = " || ".join(f"w.icp_o_{r.id}" for r in rules) or "''"
    fence = " OFFSET 0" if vendor == "postgresql" else " LIMIT -1 OFFSET 0"  # SQLite wants a LIMIT first
    sql = (
        f"SELECT w.pk AS pk, w.score AS icp_score, {band} AS icp_band, {reason} AS icp_reason_id, "  # noqa: S608
        f"{letters} AS icp_outcomes, w.icp_actual AS icp_actual "
        f"FROM (SELECT v.*, {score} AS score FROM ({inner_sql}{fence}) v{fence}) w"
    )
    return sql, list(params)


__all__ = ["annotate_verdict", "outcome_expression", "verdict_sql"]
