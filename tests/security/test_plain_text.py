"""Plain text rendered from templates (emails and their previews) is a plain `str`, never trusted HTML, and a
template that cannot be rendered (saved with an error) is a visible message on the pages that preview it and a
paused enrollment in the step sweep — never a 500, never a stuck sweep."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeData

from common.text import PlainTextError, compile_plain_text, render_plain_text
from leads.seed import seed_reasons
from nurture.models import EnrollmentStatus, HelpfulReply, Step, Track
from nurture.selectors import step_rows, track_options
from nurture.services import enrollment_create, helpful_reply_render, nurture_run_due, track_refusal
from nurture.services.enrollments import NurtureError
from outbox.models import OutboundMessage
from partners import matching
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory, LeadFactory
from triage.services import bulk_reply

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
BROKEN = "Hello {{ lead.name }}{% if lead.company %} from {{ lead.company }}{% endi %}"  # a typo in {% endif %}
SOURCE_ROOTS = ("common", "config", "leads", "nurture", "partners")


# The helper -----------------------------------------------------------------------------------------------


def test_render_plain_text_returns_a_plain_str_with_nothing_escaped():
    template = compile_plain_text("Hello {{ name }} & {{ company }}")

    text = render_plain_text(template, {"name": "Zoë O'Brien", "company": "<Acme & Sons>"})

    assert text == "Hello Zoë O'Brien & <Acme & Sons>"
    assert type(text) is str
    assert not isinstance(text, SafeData)


@pytest.mark.django_db
def test_render_plain_text_renders_a_template_by_name_as_a_plain_str():
    lead = LeadFactory(name=HOSTILE_NAME)
    partner = FeeAgreementFactory(partner__name="Acme & Co").partner

    text = render_plain_text(
        "partners/email/signpost.txt", {"lead": lead, "partner": partner, "referral": {"tracking_code": "PT-1"}}
    )

    assert text.startswith(f"Hello {HOSTILE_NAME},\n\n")
    assert "  Acme & Co\n" in text
    assert not isinstance(text, SafeData)


def test_compile_plain_text_says_what_is_wrong_with_a_broken_template():
    with pytest.raises(PlainTextError) as caught:
        compile_plain_text(BROKEN)

    assert str(caught.value).startswith("Invalid block tag on line 1: 'endi', expected 'elif', 'else' or 'endif'.")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% url 'no-such-page' %}", "It links to a page that does not exist ({% url %})."),
        ("{% include 'no/such.txt' %}", "It uses a template that does not exist: no/such.txt."),
    ],
)
def test_render_plain_text_turns_render_errors_into_a_message(source, message):
    with pytest.raises(PlainTextError) as caught:
        render_plain_text(compile_plain_text(source), {})

    assert str(caught.value) == message


def _python_sources():
    for root in SOURCE_ROOTS:
        yield from (Path(settings.BASE_DIR) / root).rglob("*.py")


def test_no_code_renders_a_plain_text_template_as_html():
    """Every .txt template goes through render_plain_text; render_to_string/get_template would return trusted
    HTML (a SafeString) that a page prints unescaped."""
    html_render = re.compile(r"(render_to_string|get_template|render)\(\s*[\"'][^\"']+\.txt[\"']")

    offenders = [
        f"{path.relative_to(settings.BASE_DIR)}: {match.group(0)}"
        for path in _python_sources()
        for match in html_render.finditer(path.read_text())
    ]

    assert offenders == []


def test_no_code_turns_autoescape_off_for_its_own_templates():
    """Autoescape off belongs to render_plain_text alone (an `autoescape=False` Context elsewhere is how the signpost
    preview became script)."""
    offenders = [
        str(path.relative_to(settings.BASE_DIR))
        for path in _python_sources()
        if "autoescape=False" in path.read_text() and path.name != "text.py"
    ]
    templates = [
        str(path.relative_to(settings.BASE_DIR))
        for path in (Path(settings.BASE_DIR) / "templates").rglob("*.*")
        if "{% autoescape off %}" in path.read_text()
    ]

    assert (offenders, templates) == ([], [])


# Helpful replies saved with an error -------------------------------------------------------------------------


@pytest.fixture
def reasons(db):
    return seed_reasons()


@pytest.fixture
def broken_reply(reasons):
    return HelpfulReply.objects.create(reason=reasons["budget"], title="Broken budget help", subject="Hi", body=BROKEN)


def waiting(reasons, **kwargs):
    kwargs.setdefault("marketing_consent_at", timezone.now())
    kwargs.setdefault("marketing_consent_version", "v1")
    return ConsentingLeadFactory(primary_reason=reasons["budget"], **kwargs)


@pytest.mark.django_db
def test_helpful_reply_render_refuses_a_broken_template_naming_it(reasons, broken_reply):
    with pytest.raises(NurtureError) as caught:
        helpful_reply_render(reply=broken_reply, lead=waiting(reasons))

    assert str(caught.value) == (
        "The reply template “Broken budget help” cannot be used. Invalid block tag on line 1: 'endi', expected "
        "'elif', 'else' or 'endif'. Did you forget to register or load this tag? "
        "Fix it in the admin, or write the reply here."
    )


@pytest.mark.django_db
def test_reply_page_with_a_broken_template_shows_the_problem_and_an_empty_form(sales_client, reasons, broken_reply):
    lead = waiting(reasons, name="Ada")

    response = sales_client.get(reverse("nurture:lead_reply", args=[lead.pk]), {"reply": broken_reply.pk})

    html = response.text
    assert response.status_code == 200
    assert 'data-testid="reply-problem">The reply template “Broken budget help” cannot be used.' in html
    assert 'name="subject" id="reply-subject" maxlength="300" class="form-control form-control-sm" value=""' in html


@pytest.mark.django_db
def test_triage_panel_with_a_broken_reply_template_shows_the_problem(sales_client, reasons, broken_reply):
    matching.catalogue_reset()
    lead = waiting(reasons, name="Ada")

    response = sales_client.get(
        reverse("triage:panel", args=[lead.pk]), headers={"HX-Request": "true", "HX-Target": "panel"}
    )

    assert response.status_code == 200
    assert 'data-testid="reply-problem">The reply template “Broken budget help” cannot be used.' in response.text


@pytest.mark.django_db
def test_bulk_reply_refuses_the_leads_whose_template_is_broken(sales_user, reasons, broken_reply):
    lead = waiting(reasons)

    result = bulk_reply(lead_ids=[lead.pk], user=sales_user)

    assert result.done == []
    assert result.refused[lead.pk].startswith("The reply template “Broken budget help” cannot be used.")
    assert not OutboundMessage.objects.exists()


# Tracks whose email step was saved with an error -------------------------------------------------------------


@pytest.fixture
def broken_track(db):
    """An email now whose body has a typo, then a task."""
    track = Track.objects.create(name="Broken", slug="broken")
    Step.objects.create(track=track, position=1, kind="email", subject="Hi {{ lead.name }}", body=BROKEN)
    Step.objects.create(track=track, position=2, kind="task", delay_hours=48, body="Call them")
    return track


@pytest.mark.django_db
def test_step_rows_show_the_problem_of_a_broken_email(broken_track):
    rows = step_rows(Track.objects.prefetch_related("steps").get(pk=broken_track.pk))

    assert [(row["summary"], row["problem"][:46]) for row in rows] == [
        ("Hi {{ lead.name }}", "This email cannot be sent as it is. Invalid bl"),
        ("Call them", ""),
    ]


@pytest.mark.django_db
def test_track_pages_show_a_broken_step_instead_of_failing(sales_client, reasons, broken_track):
    lead = waiting(reasons)

    tracks_page = sales_client.get(reverse("nurture:tracks"))
    enroll_page = sales_client.get(reverse("nurture:lead_enroll", args=[lead.pk]))

    assert (tracks_page.status_code, enroll_page.status_code) == (200, 200)
    for html in (tracks_page.text, enroll_page.text):
        assert 'data-testid="step-problem">This email cannot be sent as it is. Invalid block tag on line 1' in html


@pytest.mark.django_db
def test_a_track_with_a_broken_email_refuses_new_leads(reasons, broken_track):
    lead = waiting(reasons)

    refusal = track_refusal(lead=lead, track=broken_track)
    options = track_options(lead=lead)

    assert refusal.startswith("The email of step 1 of “Broken” cannot be sent as it is. Invalid block tag on line 1")
    assert refusal.endswith(" Fix it first.")
    assert [option["refusal"] for option in options] == [refusal]


@pytest.mark.django_db
def test_the_sweep_pauses_an_enrollment_whose_email_breaks_and_runs_the_others(reasons):
    tracks = {}
    for slug in ("fine", "breaks"):
        tracks[slug] = Track.objects.create(name=slug.title(), slug=slug)
        Step.objects.create(
            track=tracks[slug], position=1, kind="email", delay_hours=1, subject="Hi {{ lead.name }}", body="Guides."
        )
    start = timezone.now()
    answered = start - timedelta(minutes=5)  # a track that writes later takes leads that were answered already
    ok = enrollment_create(
        lead=waiting(reasons, name="Ok Olga", first_response_at=answered), track=tracks["fine"], now=start
    )
    stuck = enrollment_create(lead=waiting(reasons, first_response_at=answered), track=tracks["breaks"], now=start)
    Step.objects.filter(track=tracks["breaks"]).update(body=BROKEN)  # saved with an error after they joined
    now = start + timedelta(hours=1)

    counts = nurture_run_due(now=now)

    ok.refresh_from_db()
    stuck.refresh_from_db()
    assert (counts["emails"], counts["paused"]) == (1, 1)
    assert OutboundMessage.objects.get().subject == "Hi Ok Olga"
    assert (ok.status, stuck.status, stuck.paused_at, stuck.next_position) == (
        EnrollmentStatus.COMPLETED,
        EnrollmentStatus.PAUSED,
        now,
        1,
    )
    reason = stuck.lead.events.get(verb="nurture_paused").data["reason"]
    assert reason.startswith("The email of step 1 cannot be sent as it is. Invalid block tag on line 1: 'endi'")
    assert reason.endswith("Fix the step in the admin, then resume.")
