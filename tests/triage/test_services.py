"""Triage services: claims, the one-outcome rule under races, closing, overriding, reassigning, bulk, SLA."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from common.errors import ServiceError
from leads.models import Lead, LeadStatus
from nurture.models import Enrollment, Step, Track
from nurture.services import NurtureError
from outbox.models import OutboundMessage
from partners.models import Referral
from partners.services import ConsentError
from tests.conftest import make_user
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory, LeadFactory, UserFactory
from triage import tasks
from triage.services import (
    TriageConflict,
    TriageError,
    bulk_close,
    bulk_enroll,
    lead_claim,
    lead_reassign,
    sla_warn_owners,
    triage_close,
    triage_enroll,
    triage_override,
    triage_refer,
    triage_reply,
)


@pytest.fixture
def sales(db):
    return make_user("Sales Ops")


@pytest.fixture
def other(db):
    return UserFactory(username="other", role="Sales Ops", first_name="Olive", last_name="Other")


@pytest.fixture
def email_track(db):
    track = Track.objects.create(name="Budget", slug="budget")
    Step.objects.create(track=track, position=1, kind="email", subject="Hi {{ lead.name }}", body="Resources.")
    return track


@pytest.fixture
def task_track(db):
    track = Track.objects.create(name="Call later", slug="call-later")
    Step.objects.create(track=track, position=1, kind="task", delay_hours=48, body="Call them")
    return track


def consenting(**kwargs) -> Lead:
    return ConsentingLeadFactory(marketing_consent_at=timezone.now(), marketing_consent_version="v1", **kwargs)


@pytest.mark.django_db
def test_claim_is_exclusive_until_it_lapses(sales, other):
    lead = consenting()
    now = timezone.now()

    assert lead_claim(lead=lead, user=sales, now=now) == (True, sales)
    assert lead_claim(lead=lead, user=other, now=now + timedelta(minutes=1)) == (False, sales)
    assert lead_claim(lead=lead, user=other, now=now + timedelta(minutes=6)) == (True, other)


@pytest.mark.django_db
def test_action_on_a_lead_someone_else_holds_is_refused(sales, other):
    lead = consenting()
    lead_claim(lead=lead, user=other)

    with pytest.raises(TriageConflict, match="Olive Other is working on this lead"):
        triage_close(lead=lead, kind="spam", reason="gibberish", user=sales)
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.DISQUALIFIED


@pytest.mark.django_db
def test_refer_introduce_tells_the_lead_and_releases_the_claim(sales):
    lead = consenting()
    partner = FeeAgreementFactory().partner
    lead_claim(lead=lead, user=sales)

    referral = triage_refer(lead=lead, partner=partner, mode="introduce", user=sales)

    lead.refresh_from_db()
    assert (lead.status, lead.claimed_by_id) == (LeadStatus.REFERRED, None)
    assert lead.first_response_at is not None
    assert set(OutboundMessage.objects.values_list("kind", flat=True)) == {"partner_introduction", "lead_introduced"}
    assert referral.tracking_code in OutboundMessage.objects.get(kind="lead_introduced").body


@pytest.mark.django_db
def test_refer_introduce_without_consent_is_refused_and_nothing_changes(sales):
    lead = LeadFactory(status="disqualified")
    partner = FeeAgreementFactory().partner

    with pytest.raises(ConsentError):
        triage_refer(lead=lead, partner=partner, mode="introduce", user=sales)

    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.DISQUALIFIED
    assert not Referral.objects.exists()
    assert not OutboundMessage.objects.exists()


@pytest.mark.django_db
def test_enroll_in_a_track_that_emails_now_replies_at_once(sales, email_track):
    lead = consenting()

    triage_enroll(lead=lead, track=email_track, user=sales)

    lead.refresh_from_db()
    assert lead.status == LeadStatus.NURTURING
    assert lead.first_response_at is not None
    assert OutboundMessage.objects.get().kind == "nurture_email"
    assert Enrollment.objects.get().steps_done == 1


@pytest.mark.django_db
def test_enroll_in_a_track_that_waits_needs_a_reply_first(sales, task_track):
    lead = consenting()

    with pytest.raises(NurtureError, match="send a helpful reply first"):
        triage_enroll(lead=lead, track=task_track, user=sales)
    triage_reply(lead=lead, subject="Useful links", body="Here you go.", user=sales)

    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.HELPED
    assert not Enrollment.objects.exists()


@pytest.mark.django_db
def test_close_needs_a_kind_and_a_reason(sales):
    lead = consenting()

    with pytest.raises(ServiceError) as refused:
        triage_close(lead=lead, kind="bored", reason=" ", user=sales)
    triage_close(lead=lead, kind="duplicate", reason="Same person as #12", user=sales)

    assert set(refused.value.errors) == {"kind", "reason"}
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CLOSED
    assert lead.events.get(verb="closed").data == {"kind": "duplicate", "reason": "Same person as #12"}


@pytest.mark.django_db
def test_override_needs_a_note_and_qualifies(sales):
    lead = consenting()

    with pytest.raises(ServiceError, match="Say why"):
        triage_override(lead=lead, note="", user=sales)
    triage_override(lead=lead, note="Their parent company is a customer", user=sales)

    lead.refresh_from_db()
    assert (lead.status, lead.primary_reason_id) == (LeadStatus.QUALIFIED, None)
    assert lead.events.filter(verb="override_qualified").exists()


@pytest.mark.django_db
def test_reassign_records_from_and_to(sales, other):
    lead = consenting(owner=sales)

    lead_reassign(lead=lead, owner=other, user=sales)

    assert Lead.objects.get(pk=lead.pk).owner == other
    assert lead.events.get(verb="reassigned").data == {"from": sales.get_username(), "to": "Olive Other"}


@pytest.mark.django_db
def test_bulk_enroll_never_bypasses_consent(sales, email_track):
    with_consent, without = consenting(), ConsentingLeadFactory()

    result = bulk_enroll(lead_ids=[with_consent.pk, without.pk], track=email_track, user=sales)

    assert result.done == [with_consent.pk]
    assert "not agreed to marketing emails" in result.refused[without.pk]
    assert Lead.objects.get(pk=without.pk).status == LeadStatus.DISQUALIFIED


@pytest.mark.django_db
def test_bulk_close_requires_a_reason_and_closes_each(sales):
    leads = [consenting(), consenting()]

    with pytest.raises(TriageError):
        bulk_close(lead_ids=[lead.pk for lead in leads], reason="", user=sales)
    result = bulk_close(lead_ids=[lead.pk for lead in leads], reason="Bot sign-ups", user=sales)

    assert sorted(result.done) == sorted(lead.pk for lead in leads)
    assert set(Lead.objects.values_list("status", flat=True)) == {LeadStatus.CLOSED}


@pytest.mark.django_db
def test_sla_warning_goes_to_each_owner_once(sales):
    now = timezone.now()
    soon = consenting(owner=sales, respond_by=now + timedelta(hours=1), received_at=now - timedelta(hours=20))
    consenting(owner=sales, respond_by=now + timedelta(hours=10))

    assert sla_warn_owners(now=now) == 1
    assert sla_warn_owners(now=now + timedelta(minutes=5)) == 0

    message = OutboundMessage.objects.get(kind="owner_sla_warning")
    assert message.to_email == sales.email
    assert f"/triage/{soon.pk}/" in message.body


@pytest.mark.django_db
@pytest.mark.parametrize("task", [tasks.sla_warn, tasks.sla_warn_leads_alias])
def test_sla_warning_task_runs_under_its_name_and_the_old_leads_alias(sales, task):
    now = timezone.now()
    consenting(owner=sales, respond_by=now + timedelta(hours=1), received_at=now - timedelta(hours=20))

    assert task.run() == 1
    assert {tasks.sla_warn.name, tasks.sla_warn_leads_alias.name} == {"triage.sla_warn", "leads.sla_warn"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_connections_acting_at_once_produce_exactly_one_redirect():
    sales, other = make_user("Sales Ops"), UserFactory(username="racer", role="Sales Ops")
    lead = consenting()
    partners = [FeeAgreementFactory().partner, FeeAgreementFactory().partner]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def act(user, partner):
        try:
            start.wait()
            with transaction.atomic():
                triage_refer(lead=lead, partner=partner, mode="signpost", user=user)
            outcomes.append("referred")
        except TriageConflict as exc:
            outcomes.append(str(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=act, args=pair) for pair in zip([sales, other], partners, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert outcomes.count("referred") == 1
    loser = next(outcome for outcome in outcomes if outcome != "referred")
    assert "already handled this lead: it is now referred." in loser
    assert Referral.objects.filter(lead=lead).count() == 1
