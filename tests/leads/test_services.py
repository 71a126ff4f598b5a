from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from leads import services
from leads.models import Evaluation, ICPVersion, Lead, LeadEvent, LeadStatus
from tests.factories import LeadFactory, LeadSourceFactory


def intake(source, **data):
    return services.lead_intake(
        source=source, data={"external_id": "A-1", "email": "a@example.com", **data}, actor_label="test"
    )


def test_lead_intake_creates_and_evaluates(bank_source):
    lead, created, evaluation = intake(bank_source, credit_score=550, budget=Decimal("50000.00"), budget_currency="GBP")

    assert created is True
    assert lead.status == LeadStatus.DISQUALIFIED
    assert evaluation.band == "disqualified"
    assert lead.respond_by == lead.received_at + timezone.timedelta(hours=bank_source.sla_hours)
    assert list(lead.events.values_list("verb", flat=True)) == ["received", "evaluated", "status_changed"]


def test_lead_intake_repeat_updates_instead_of_duplicating(bank_source):
    intake(bank_source, credit_score=550)

    lead, created, _ = intake(bank_source, credit_score=700, budget=Decimal("20000"), budget_currency="GBP")

    assert created is False
    assert Lead.objects.count() == 1
    assert lead.status == LeadStatus.QUALIFIED
    assert Evaluation.objects.filter(lead=lead).count() == 2
    assert lead.events.filter(verb="updated").get().data == {"fields": ["budget", "budget_currency", "credit_score"]}


def test_lead_intake_same_data_twice_writes_nothing_new(bank_source):
    intake(bank_source, credit_score=700)
    events = LeadEvent.objects.count()

    intake(bank_source, credit_score=700)

    assert LeadEvent.objects.count() == events
    assert Evaluation.objects.count() == 1


def test_lead_intake_missing_data_goes_to_review_not_disqualified(bank_source):
    lead, _, evaluation = intake(bank_source)  # no credit score: the knock-out cannot be judged

    assert evaluation.band == "needs_review"
    assert lead.status == LeadStatus.NEEDS_REVIEW
    criteria = list(ICPVersion.objects.get().criteria.values_list("field", flat=True))
    assert evaluation.outcomes[criteria.index("credit_score")] == "u"  # one letter per criterion, in order


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"external_id": ""}, "external_id"),
        ({"budget": Decimal("10")}, "budget_currency"),
        ({"latitude": Decimal("51.5")}, "longitude"),
        ({"shoe_size": 9}, "shoe_size"),
    ],
)
def test_lead_intake_rejects_bad_data_by_field(bank_source, data, field):
    with pytest.raises(services.LeadDataError) as raised:
        intake(bank_source, **data)

    assert field in raised.value.errors
    assert Lead.objects.count() == 0


def test_lead_without_published_icp_goes_to_review(db):
    source = LeadSourceFactory(slug="no-icp")

    lead, _, evaluation = services.lead_intake(
        source=source, data={"external_id": "1", "email": "x@example.com"}, actor_label="test"
    )

    assert evaluation is None
    assert lead.status == LeadStatus.NEEDS_REVIEW


def test_lead_transition_refuses_illegal_move(db):
    lead = LeadFactory(status=LeadStatus.CLOSED)

    with pytest.raises(services.LeadTransitionError, match="cannot become"):
        services.lead_transition(lead=lead, to=LeadStatus.REFERRED)

    lead.refresh_from_db()
    assert lead.status == LeadStatus.CLOSED


def test_lead_transition_records_event(db):
    lead = LeadFactory(status=LeadStatus.DISQUALIFIED)

    services.lead_transition(lead=lead, to=LeadStatus.HELPED, actor_label="test", data={"note": "sent guide"})

    event = lead.events.get()
    assert (event.verb, event.data) == (
        "status_changed",
        {"from": "disqualified", "to": "helped", "note": "sent guide"},
    )


def test_leads_evaluate_bulk_matches_single_evaluation(bank_source):
    rows = [(550, "1000"), (700, "50000"), (None, "50000"), (700, "100")]
    leads = [LeadFactory(source=bank_source, credit_score=c, budget=Decimal(b), budget_currency="GBP") for c, b in rows]

    counts = services.leads_evaluate_bulk(queryset=Lead.objects.all(), actor_label="bulk")

    assert counts == {"qualified": 1, "needs_review": 1, "disqualified": 2}
    statuses = dict(Lead.objects.values_list("pk", "status"))
    assert [statuses[lead.pk] for lead in leads] == ["disqualified", "qualified", "needs_review", "disqualified"]
    for lead in Lead.objects.all():
        evaluation = lead.evaluations.get()
        single = services.engine.evaluate(
            services.engine.rule_set_from_version(evaluation.version), services.engine.lead_values(lead)
        )
        assert (evaluation.band, evaluation.score, lead.icp_band) == (single.band, single.score, single.band)
        assert evaluation.outcomes == single.codes()
    assert LeadEvent.objects.filter(verb="status_changed").count() == 4


def test_leads_evaluate_bulk_query_count_does_not_grow(bank_source, django_assert_num_queries):
    queries = 17 if connection.vendor == "postgresql" else 15  # PostgreSQL: JIT off for the verdict, then back
    for n in range(3):
        LeadFactory(source=bank_source, credit_score=600 + n)

    with django_assert_num_queries(queries):
        services.leads_evaluate_bulk(queryset=Lead.objects.all(), actor_label="bulk")
    LeadFactory.create_batch(20, source=bank_source, credit_score=700)
    with django_assert_num_queries(queries):
        services.leads_evaluate_bulk(queryset=Lead.objects.all(), actor_label="bulk")


def test_icp_publish_freezes_draft_and_retires_previous(bank_source, django_capture_on_commit_callbacks):
    current = ICPVersion.objects.get()
    draft = services.icp_draft_create(profile=current.profile)

    with django_capture_on_commit_callbacks() as callbacks:
        services.icp_version_publish(version=draft, reason="Credit scores from the new bureau", user=None)

    current.refresh_from_db()
    draft.refresh_from_db()
    assert (current.status, draft.status) == ("retired", "published")
    assert draft.criteria.count() == 2
    assert len(callbacks) == 1  # the re-qualification task is enqueued after commit
    assert draft.notes == f"Published {timezone.localtime(draft.published_at):%Y-%m-%d %H:%M} by the system: " + (
        "Credit scores from the new bureau"
    )


def test_icp_publish_needs_a_reason(bank_source):
    draft = services.icp_draft_create(profile=ICPVersion.objects.get().profile)

    with pytest.raises(services.ICPError, match="Say why this version is published"):
        services.icp_version_publish(version=draft, reason="  ")

    draft.refresh_from_db()
    assert (draft.status, draft.notes) == ("draft", "")


def test_icp_publish_refuses_a_published_version(bank_source):
    with pytest.raises(services.ICPError, match="Only a draft"):
        services.icp_version_publish(version=ICPVersion.objects.get(), reason="Publish it once more")


def test_icp_whatif_counts_moves_between_bands(bank_source):
    LeadFactory(source=bank_source, credit_score=650, budget=Decimal("500"), budget_currency="GBP")
    services.leads_evaluate_bulk(queryset=Lead.objects.all(), actor_label="t")
    draft = services.icp_draft_create(profile=ICPVersion.objects.get().profile)
    draft.criteria.filter(field="credit_score").update(value=700)

    whatif = services.icp_whatif(draft=draft)

    assert whatif["total"] == 1
    assert whatif["moves"] == [{"current_band": "disqualified", "verdict_band": "disqualified", "n": 1}]


def test_leads_requalify_moves_nurturing_lead_that_now_qualifies(bank_source):
    lead = LeadFactory(
        source=bank_source,
        credit_score=700,
        budget=Decimal("20000"),
        budget_currency="GBP",
        status=LeadStatus.NURTURING,
    )

    services.leads_requalify(version=ICPVersion.objects.get())

    lead.refresh_from_db()
    assert lead.status == LeadStatus.QUALIFIED
    assert lead.events.get(verb="status_changed").data["from"] == "nurturing"
