"""Nurture in the browser: Sales Ops puts a lead on the suggested track; a lead unsubscribes from the link in a
real nurture email; Sales Ops answers a lead with an edited helpful reply. The database is checked after."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leads.models import Evaluation, ICPVersion, Lead, LeadStatus
from leads.seed import seed_reasons
from nurture import services
from nurture.models import Enrollment, EnrollmentStatus
from nurture.seed import seed_tracks
from outbox import publish
from outbox.models import OutboundMessage
from tests.conftest import make_user
from tests.factories import PASSWORD, ICPVersionFactory, LeadFactory

EMAIL = "ada@lovelace.example"


@pytest.fixture
def workspace(transactional_db, monkeypatch):
    """Reasons, the demo tracks and replies, a Sales Ops user; Celery calls recorded instead of queued."""
    queued = []
    monkeypatch.setattr(publish, "enqueue", lambda task, **kwargs: queued.append(getattr(task, "name", task)) or True)
    reasons = seed_reasons()
    tracks = seed_tracks()
    user = make_user("Sales Ops")
    user.set_password(PASSWORD)
    user.save()
    return {"reasons": reasons, "tracks": tracks, "user": user, "queued": queued}


def disqualified_lead(reasons, **kwargs) -> Lead:
    """A lead the ICP turned down for its budget, who agreed to marketing emails."""
    fields = {
        "name": "Ada Lovelace",
        "email": EMAIL,
        "company": "Analytical Engines",
        "status": LeadStatus.DISQUALIFIED,
        "primary_reason": reasons["budget"],
        "marketing_consent_at": timezone.now(),
        "marketing_consent_version": "2026-01",
    }
    lead = LeadFactory(**(fields | kwargs))
    version = ICPVersion.objects.filter(status="published").first() or ICPVersionFactory(status="published")
    Evaluation.objects.create(lead=lead, version=version, score=20, band="disqualified", evaluated_at=timezone.now())
    lead.icp_band = "disqualified"
    lead.save(update_fields=["icp_band"])
    return lead


def test_sales_ops_enrolls_a_lead_in_the_suggested_track(live_server, page, login, workspace):
    lead = disqualified_lead(workspace["reasons"])
    login(workspace["user"].username, PASSWORD)

    page.goto(f"{live_server.url}/nurture/leads/{lead.pk}/enroll/")

    expect(page.get_by_role("heading", name="Put Ada Lovelace on a nurture track")).to_be_visible()
    suggested = page.get_by_role("listitem").filter(has_text="suggested for “Budget too small”")
    expect(suggested).to_have_count(1)
    expect(suggested).to_contain_text("Budget and timing: ready when you are")
    expect(suggested).to_contain_text("Email the lead, at once: “Planning ahead, Ada Lovelace?”")
    suggested.get_by_role("button", name="Enroll in Budget and timing: ready when you are").click()

    expect(page).to_have_url(f"{live_server.url}/leads/{lead.pk}/")
    expect(page.get_by_role("alert")).to_contain_text(
        "Ada Lovelace is now on the track “Budget and timing: ready when you are”."
    )
    enrollment = Enrollment.objects.get(lead=lead)
    assert (enrollment.track, enrollment.status, enrollment.enrolled_by) == (
        workspace["tracks"]["budget-timing"],
        EnrollmentStatus.ACTIVE,
        workspace["user"],
    )
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NURTURING


def test_a_lead_unsubscribes_from_a_nurture_email(live_server, page, workspace, settings):
    settings.SITE_URL = "https://passthrough.example"
    lead = disqualified_lead(workspace["reasons"])
    enrollment = services.enrollment_create(lead=lead, track=workspace["tracks"]["budget-timing"])
    services.nurture_run_due(now=timezone.now())
    email = OutboundMessage.objects.get(lead=lead, kind="nurture_email")
    path = re.search(r"https://passthrough\.example(/u/\S+/)", email.body).group(1)

    page.goto(live_server.url + path)

    expect(page.get_by_role("heading", name="Stop our emails?")).to_be_visible()
    expect(page.get_by_text(EMAIL)).to_be_visible()
    lead.refresh_from_db()
    assert lead.do_not_contact is False  # opening the link alone changes nothing
    page.get_by_role("button", name="Unsubscribe").click()

    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    expect(page.get_by_text("we have stopped the 1 email series you were in")).to_be_visible()
    lead.refresh_from_db()
    enrollment.refresh_from_db()
    assert lead.do_not_contact is True
    assert enrollment.status == EnrollmentStatus.UNSUBSCRIBED


def test_sales_ops_sends_an_edited_helpful_reply(live_server, page, login, workspace):
    lead = disqualified_lead(workspace["reasons"])
    login(workspace["user"].username, PASSWORD)

    page.goto(f"{live_server.url}/nurture/leads/{lead.pk}/reply/")

    subject = page.get_by_label("Subject")
    template = page.get_by_label("Template", exact=True)
    expect(template).to_have_value(str(lead.primary_reason.helpful_replies.get().pk))  # its reason's first
    expect(subject).to_have_value("Resources while you plan your budget")
    template.select_option(label="Timing: when you are ready")
    expect(subject).to_have_value("When the time is right")  # the preview followed (htmx)
    expect(page.get_by_label(f"Message to {EMAIL}")).to_contain_text("Hello Ada Lovelace,")
    expect(page).to_have_url(re.compile(r"\?reply=\d+$"))
    subject.fill("When the time is right for Analytical Engines")
    page.get_by_role("button", name="Send the reply").click()

    expect(page).to_have_url(f"{live_server.url}/leads/{lead.pk}/")
    expect(page.get_by_role("alert")).to_contain_text(f"Reply queued to {EMAIL}.")
    message = OutboundMessage.objects.get(lead=lead, kind="helpful_reply")
    assert message.subject == "When the time is right for Analytical Engines"
    assert message.body.startswith("Hello Ada Lovelace,\n\nNo rush.")
    assert workspace["queued"] == ["outbox.send_message"]
    lead.refresh_from_db()
    assert lead.first_response_at is not None
    assert lead.status == LeadStatus.HELPED


def test_sales_ops_pauses_and_stops_enrollments_in_place(live_server, page, login, workspace):
    tracks = workspace["tracks"]
    ada = services.enrollment_create(lead=disqualified_lead(workspace["reasons"]), track=tracks["budget-timing"])
    bob = services.enrollment_create(
        lead=disqualified_lead(workspace["reasons"], name="Bob Babbage", email="bob@example.com"),
        track=tracks["decision-maker-kit"],
    )
    login(workspace["user"].username, PASSWORD)
    page.goto(f"{live_server.url}/nurture/?sort=lead")
    active = page.get_by_test_id("count-active")
    expect(active).to_have_text("2")

    # Pause Ada: the table comes back in place with the message, the counts follow, the URL keeps its sort
    page.get_by_role("button", name=f"Pause {EMAIL}").click()
    expect(page.get_by_role("alert")).to_contain_text("Ada Lovelace is paused")
    expect(page.get_by_role("button", name=f"Resume {EMAIL}")).to_be_visible()
    expect(active).to_have_text("1")
    expect(page.get_by_test_id("count-paused")).to_have_text("1")
    expect(page).to_have_url(f"{live_server.url}/nurture/?sort=lead")

    # Stop Bob: a reason is asked for
    row = page.get_by_role("row").filter(has_text="Bob Babbage")
    row.get_by_text("Stop…").click()
    row.get_by_label("Why stop it?").fill("Bought from a competitor")
    row.get_by_role("button", name="Stop bob@example.com").click()
    expect(page.get_by_role("alert")).to_contain_text("Bob Babbage left “Not the decision-maker: a kit for your boss”")
    expect(page.get_by_test_id("count-stopped")).to_have_text("1")

    # Sorting still swaps only the table
    page.get_by_role("link", name="Status").click()
    expect(page).to_have_url(f"{live_server.url}/nurture/?sort=status&page=1")
    ada.refresh_from_db()
    bob.refresh_from_db()
    assert (ada.status, bob.status, bob.end_reason) == ("paused", "stopped", "Bought from a competitor")


def test_enrollment_actions_work_without_javascript(live_server, browser, workspace):
    enrollment = services.enrollment_create(
        lead=disqualified_lead(workspace["reasons"]), track=workspace["tracks"]["budget-timing"]
    )
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/?next=/nurture/%3Fstatus%3Dactive")
    page.get_by_label("Username").fill(workspace["user"].username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.get_by_text("Stop…").click()
    page.get_by_role("button", name=f"Stop {EMAIL}").click()  # `required` is the browser's: it stays
    expect(page).to_have_url(f"{live_server.url}/nurture/?status=active")
    page.get_by_label("Why stop it?").fill("Asked us to wait a year")
    page.get_by_role("button", name=f"Stop {EMAIL}").click()

    expect(page).to_have_url(f"{live_server.url}/nurture/?status=active")
    expect(page.get_by_role("alert")).to_contain_text("Ada Lovelace left “Budget and timing: ready when you are”")
    expect(page.get_by_text("No enrollments match these filters.")).to_be_visible()
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.STOPPED
    context.close()
