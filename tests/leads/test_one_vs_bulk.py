"""Evaluating one lead and evaluating many agree: for generated ICP versions and leads (in any status a verdict may
meet), `lead_evaluate` one by one, `leads_evaluate_bulk` in SQL and the CSV import (its compiled verdict, COPY on
PostgreSQL, executemany on SQLite) give each lead the same status, band, reason, evaluation and timeline events.

One difference is by design: the one-lead path also writes an "evaluated" event with the failed criteria (the lead
page's explanation); the bulk path records only the status changes (a publish re-checks every lead) and the import
puts the verdict on the lead's "received" event. Those are compared for what they share."""

import csv
import io
import os
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from leads.engine import RuleSet
from leads.importing import import_file
from leads.models import Criterion, DisqualificationReason, Evaluation, ICPProfile, ICPVersion, Lead, LeadStatus
from leads.services import lead_evaluate, leads_evaluate_bulk
from tests.factories import LeadSourceFactory
from tests.leads.test_engine_property import _far_from_boundaries, rules

EXAMPLES = int(os.environ.get("ENGINE_PROPERTY_EXAMPLES", "75")) // 3 or 1
WORDS = ["gb", "ie", "retail", "Retail", "now", "next year", "cto", "Intern", ""]
# Statuses a verdict may meet: open ones move to the band, a nurtured lead that qualifies leaves nurture, the rest stay.
STATUSES = [LeadStatus.NEW, LeadStatus.NEEDS_REVIEW, LeadStatus.DISQUALIFIED, LeadStatus.NURTURING,
            LeadStatus.REFERRED, LeadStatus.HELPED]  # fmt: skip
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def icp_versions(draw):
    count = draw(st.integers(min_value=1, max_value=6))
    chosen = [draw(rules(rule_id=i + 1)) for i in range(count)]
    qualified_min = draw(st.integers(min_value=0, max_value=100))
    return chosen, qualified_min, draw(st.integers(min_value=0, max_value=qualified_min))


@st.composite
def leads(draw):
    """A lead as the services accept it (a budget with its currency, latitude with longitude)."""
    budget = draw(st.one_of(st.none(), st.decimals(min_value=0, max_value=1000, places=2)))
    point = draw(st.booleans())
    return {
        "company": draw(st.sampled_from(WORDS)),
        "industry": draw(st.sampled_from(WORDS)),
        "timeline": draw(st.sampled_from(WORDS)),
        "title": draw(st.sampled_from(WORDS)),
        "employees": draw(st.one_of(st.none(), st.integers(0, 1000))),
        "credit_score": draw(st.one_of(st.none(), st.integers(0, 1000))),
        "budget": budget,
        "budget_currency": "" if budget is None else "GBP",
        "is_decision_maker": draw(st.one_of(st.none(), st.booleans())),
        "latitude": draw(st.decimals(min_value=48, max_value=56, places=6)) if point else None,
        "longitude": draw(st.decimals(min_value=-6, max_value=3, places=6)) if point else None,
        "attributes": {
            key: draw(st.one_of(st.sampled_from(WORDS[:-1]), st.integers(-5, 1000), st.booleans()))
            for key in ("a", "b")
            if draw(st.booleans())
        },
    }


def off_the_edges(spec, rows: list[dict]) -> bool:
    """Floating-point distances may differ in their last bits between Python and SQL: no point on a radius' edge."""
    rule_set = RuleSet(rules=tuple(spec[0]), qualified_min=spec[1], review_min=spec[2])
    return all(_far_from_boundaries(rule_set, row) for row in rows)


def publish(spec) -> ICPProfile:
    chosen, qualified_min, review_min = spec
    reasons = {
        code: DisqualificationReason.objects.get_or_create(code=code, defaults={"label": code})[0]
        for code in ("budget", "geography")
    }
    profile = ICPProfile.objects.create(name="Generated", slug="generated")
    version = ICPVersion.objects.create(
        profile=profile, number=1, status="published", qualified_min=qualified_min, review_min=review_min
    )
    Criterion.objects.bulk_create(
        Criterion(version=version, position=n, label=f"Rule {n}", field=rule.field, operator=rule.operator,
                  value=rule.value, value_type=rule.value_type, hard=rule.hard, weight=rule.weight,
                  reason=reasons.get(rule.reason_code))
        for n, rule in enumerate(chosen)
    )  # fmt: skip
    return profile


def stored_lead(source, n: int, values: dict, status: str) -> Lead:
    now = timezone.now()
    return Lead.objects.create(
        source=source, email=f"l{n}@example.com", external_id=f"L{n}", received_at=now, respond_by=now,
        status=status, **values,
    )  # fmt: skip


def outcome(lead: Lead) -> tuple:
    """What a verdict leaves on a lead: status, band, reason, its latest evaluation, its status changes."""
    lead.refresh_from_db()
    evaluation = Evaluation.objects.filter(lead=lead).order_by("-evaluated_at", "-id").first()
    changes = [(e.verb, e.actor_label, e.data) for e in lead.events.order_by("at", "id") if e.verb == "status_changed"]
    checked = (evaluation.score, evaluation.band, evaluation.primary_reason_id, evaluation.outcomes, evaluation.actual)
    return lead.status, lead.icp_band, lead.primary_reason_id, checked, changes


@pytest.mark.django_db
@SETTINGS
@given(spec=icp_versions(), rows=st.lists(st.tuples(leads(), st.sampled_from(STATUSES)), min_size=1, max_size=6))
def test_one_lead_and_bulk_give_the_same_verdict_and_events(spec, rows):
    assume(off_the_edges(spec, [values for values, _ in rows]))
    with transaction.atomic():
        profile = publish(spec)
        one = LeadSourceFactory(slug="one", icp_profile=profile)
        bulk = LeadSourceFactory(slug="bulk", icp_profile=profile)
        singles = [stored_lead(one, n, values, status) for n, (values, status) in enumerate(rows)]
        many = [stored_lead(bulk, n, values, status) for n, (values, status) in enumerate(rows)]

        for lead in singles:
            lead_evaluate(lead=lead, actor_label="check")
        leads_evaluate_bulk(queryset=Lead.objects.filter(source=bulk), actor_label="check")

        for single, twin in zip(singles, many, strict=True):
            assert outcome(twin) == outcome(single)
            evaluated = single.events.get(verb="evaluated").data
            assert (evaluated["band"], evaluated["score"]) == (single.icp_band, outcome(single)[3][0])
        transaction.set_rollback(True)


def as_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["Email", *(column for column in rows[0] if column != "attributes"), "attributes.a", "attributes.b"]
    )
    for n, values in enumerate(rows):
        cells = [
            "" if value is None else ("yes" if value is True else "no" if value is False else str(value))
            for column, value in values.items()
            if column != "attributes"
        ]
        attributes = values["attributes"]
        writer.writerow([f"l{n}@example.com", *cells, *(str(attributes.get(key, "")) for key in ("a", "b"))])
    return out.getvalue().encode()


@pytest.mark.django_db
@SETTINGS
@given(spec=icp_versions(), rows=st.lists(leads(), min_size=1, max_size=6))
def test_the_import_and_one_lead_give_the_same_verdict(spec, rows):
    assume(off_the_edges(spec, rows))
    with transaction.atomic():
        profile = publish(spec)
        imported_source = LeadSourceFactory(slug="imported", icp_profile=profile)
        one = LeadSourceFactory(slug="one", icp_profile=profile)
        data = as_csv(rows)
        header = data.decode().splitlines()[0].split(",")
        mapping = {column: column for column in header} | {"Email": "email"}

        result = import_file(io.BytesIO(data), source=imported_source, mapping=mapping)

        assert (result.created, result.rejected) == (len(rows), 0), result.errors
        for n, imported in enumerate(Lead.objects.filter(source=imported_source).order_by("email")):
            values = {name: getattr(imported, name) for name in rows[0]}  # what the import made of the cells
            single = stored_lead(one, n, values, LeadStatus.NEW)
            lead_evaluate(lead=single, actor_label="check")
            status, band, reason, checked, _ = outcome(single)
            assert outcome(imported)[:4] == (status, band, reason, checked)
            received = imported.events.get(verb="received").data
            evaluated = single.events.get(verb="evaluated").data
            assert (received["band"], received["score"]) == (evaluated["band"], evaluated["score"])
            changed = single.events.get(verb="status_changed").data
            assert (changed["from"], changed["to"]) == ("new", imported.status)
        transaction.set_rollback(True)


def test_as_csv_writes_what_the_import_reads():
    data = as_csv([{"company": "Acme", "budget": Decimal("1.50"), "is_decision_maker": True, "attributes": {"a": 3}}])

    assert data.decode().splitlines() == [
        "Email,company,budget,is_decision_maker,attributes.a,attributes.b",
        "l0@example.com,Acme,1.50,yes,3,",
    ]
