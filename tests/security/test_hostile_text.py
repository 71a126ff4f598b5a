"""Hostile text in every free-text field a page can show never reaches a page as markup.

One world where every field a person, a lead, a CSV or the admin can write holds a payload — script tags, event
handlers, a quote that breaks out of an attribute, template syntax, a javascript: URL — and every page that shows
those fields, rendered as every role that may open it (tests/test_permissions.py's MATRIX decides who), the
htmx fragments, the partner's link page and the admin. Each page must show the payload escaped, and nowhere raw.
"""

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import escape

from leads.models import Criterion, DisqualificationReason, ICPProfile, ICPVersion, ImportJob, ImportRowError
from leads.services import lead_evaluate, lead_event_record
from nurture.models import HelpfulReply, Step, Track
from nurture.services import enrollment_create, enrollment_stop, nurture_run_due, unsubscribe_token
from partners import matching
from partners.links import referral_token
from partners.models import PartnerContact, PartnerCriterion
from partners.services import referral_send
from tests.conftest import make_user
from tests.factories import FeeAgreementFactory, LeadFactory, LeadSourceFactory, PartnerFactory
from tests.test_permissions import MATRIX
from tests.test_permissions import url_for as matrix_url_for

HOSTILE = (
    "<script>alert(1)</script><img src=x onerror=alert(1)>\"'><svg onload=alert(1)>"
    "{{ 3131|add:4242 }}{% now 'U' %} javascript:alert(1)"
)
SHORT = "<img src=x onerror=alert(1)>\"'><svg onload=alert(1)>{{ 3131|add:4242 }}"  # for 100-character fields
TINY = "\"'><svg onload=1>"  # for 20-character fields
KEY = "<b onclick=alert(1)>key\"'{{ 3131|add:4242 }}"  # an attributes key, a CSV header
# Reply templates and steps are templates by design (their {{ }} is meant to run): markup only.
MARKUP = "<script>alert(1)</script><img src=x onerror=alert(1)>\"'><svg onload=alert(1)> javascript:alert(1)"
URL = "javascript:alert(1)"
# What must never be in a page: the payload's markup, raw; a javascript: link; template syntax evaluated (7373).
RAW = ["<script>alert(1)", "<img src=x", "<svg onload", "<b onclick", "\"'>", 'href="javascript:', "7373"]
ESCAPED = escape(SHORT)  # every page shows at least one field, escaped: the navigation's user name, at least

SALES, FINANCE, MANAGER, ADMIN = "Sales Ops", "Finance", "Manager", "Admin"
ROLES = [SALES, FINANCE, MANAGER, ADMIN]


def assert_safe(html: str, where: str) -> None:
    leaks = [raw for raw in RAW if raw in html]
    assert leaks == [], f"{where}: raw hostile text {leaks}"
    assert ESCAPED in html, f"{where}: the hostile text is not shown (escaped) at all"


def _takes_no_arguments(name: str) -> bool:
    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True


@pytest.fixture
def world(db):
    """Every free-text field, hostile: users, source, reason, ICP, a lead (fields, attributes, timeline), a
    partner (notes, contacts, criteria, fee agreement), a referral with its emails, a track (steps, a task, a
    stopped enrollment), a reply template, two imports (a hostile CSV, a failed one)."""
    matching.catalogue_reset()
    users = {}
    for role in ROLES:
        user = make_user(role)
        user.first_name, user.last_name = HOSTILE, TINY
        user.save()
        users[role] = user
    reason = DisqualificationReason.objects.create(
        code="hostile", label=SHORT, description=HOSTILE, redirect_kinds=["refer", "nurture", "help"]
    )
    profile = ICPProfile.objects.create(name=SHORT, slug="hostile", description=HOSTILE)
    versions = [
        ICPVersion.objects.create(profile=profile, number=1, status="published", qualified_min=60, review_min=30),
        ICPVersion.objects.create(profile=profile, number=2, status="draft", qualified_min=60, review_min=30),
    ]
    for version in versions:
        Criterion.objects.create(
            version=version,
            label=HOSTILE,
            field="company",
            operator="eq",
            value=f"not {HOSTILE}",
            hard=True,
            reason=reason,
            what_would_qualify=HOSTILE,
        )
        Criterion.objects.create(
            version=version, label=SHORT, field=f"attributes.{KEY}", operator="eq", value=SHORT, weight=50
        )
    source = LeadSourceFactory(slug="hostile", name=SHORT, icp_profile=profile)
    now = timezone.now()
    consent = {
        "marketing_consent_at": now,
        "marketing_consent_version": TINY,
        "partner_sharing_consent_at": now,
        "partner_sharing_consent_version": TINY,
    }
    fields = {
        "name": HOSTILE,
        "company": HOSTILE,
        "title": HOSTILE,
        "message": HOSTILE,
        "industry": SHORT,
        "product_interest": HOSTILE,
        "timeline": SHORT,
        "postal_code": TINY,
        "phone": TINY,
        "external_id": SHORT,
        "attributes": {KEY: HOSTILE, "plain": SHORT},
        "source": source,
        "owner": users[SALES],
        "country": "GB",
        "received_at": now - timedelta(hours=1),
        "respond_by": now + timedelta(hours=5),
        **consent,
    }
    lead = LeadFactory(email="lead@example.com", **fields)
    lead_evaluate(lead=lead, actor=users[SALES])
    lead_event_record(lead=lead, verb="note", actor=users[SALES], data={KEY: HOSTILE, "why": SHORT})
    nurtured, referred, stopped_lead = (
        LeadFactory(email=f"{kind}@example.com", **(fields | {"external_id": kind}))
        for kind in ("nurtured", "referred", "stopped")
    )
    for other in (nurtured, referred, stopped_lead):
        lead_evaluate(lead=other)

    partner = PartnerFactory(
        name=HOSTILE, slug="hostile", description=HOSTILE, notes=HOSTILE, website=URL, public_phone=TINY, contact=False
    )
    partner.accepted_reasons.add(reason)
    PartnerContact.objects.create(partner=partner, name=HOSTILE, email="pat@partner.example", role=SHORT, phone=TINY)
    PartnerCriterion.objects.create(partner=partner, label=HOSTILE, field="company", operator="is_set")
    FeeAgreementFactory(partner=partner, notes=HOSTILE)
    matching.catalogue_reset()
    referral = referral_send(lead=referred, partner=partner, mode="introduce", actor=users[SALES], note=HOSTILE)

    track = Track.objects.create(name=HOSTILE, slug="hostile", description=HOSTILE)
    track.reasons.add(reason)
    Step.objects.create(track=track, position=1, kind="email", subject=MARKUP, body=f"{MARKUP}\n{{{{ lead.name }}}}")
    Step.objects.create(track=track, position=2, kind="task", delay_hours=1, body=f"{MARKUP}\n{HOSTILE}")
    enrollment = enrollment_create(lead=nurtured, track=track, actor=users[SALES], now=now - timedelta(hours=1))
    nurture_run_due(now=now, enrollment_ids=[enrollment.pk])  # the email, then the task for the owner
    nurture_run_due(now=now, enrollment_ids=[enrollment.pk])
    enrollment_stop(enrollment=enrollment_create(lead=stopped_lead, track=track), reason=HOSTILE)
    reply = HelpfulReply.objects.create(
        reason=reason, title=HOSTILE, subject=MARKUP, body=f"{MARKUP} {{{{ lead.name }}}}"
    )

    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["email", "name", KEY])
    writer.writerow(["csv@example.com", HOSTILE, HOSTILE])
    upload = ImportJob.objects.create(
        source=source,
        original_name=f"{SHORT}.csv",
        mapping={"email": "email", "name": "name", KEY: f"attributes.{KEY}"},
        encoding="utf-8",
        delimiter=",",
        created_by=users[SALES],
    )
    upload.file.save("hostile.csv", ContentFile(rows.getvalue().encode()))
    failed = ImportJob.objects.create(
        source=source, original_name=f"{SHORT}.csv", status="failed", message=HOSTILE, created_by=users[SALES]
    )
    ImportRowError.objects.create(job=failed, row=2, column=SHORT, message=HOSTILE)
    yield {
        "users": users,
        "lead": lead,
        "nurtured": nurtured,
        "partner": partner,
        "referral": referral,
        "track": track,
        "reply": reply,
        "upload": upload,
        "failed": failed,
        "version": versions[1],
        "agreement": partner.agreements.get(),
        "no_args": {name for name in MATRIX if _takes_no_arguments(name)},
    }
    matching.catalogue_reset()


def url_for(name: str, world: dict) -> str:
    """The page for the hostile objects; a page this test does not know yet gets the permission matrix's own
    objects (its navigation still shows the hostile user name)."""
    lead, partner, referral = world["lead"], world["partner"], world["referral"]
    args = {
        "leads:detail": [lead.pk],
        "leads:edit": [lead.pk],
        "leads:icp_version": [world["version"].pk],
        "leads:import_job": [world["upload"].pk],
        "leads:import_progress": [world["failed"].pk],
        "leads:import_errors": [world["upload"].pk],
        "partners:detail": [partner.pk],
        "partners:agreement_create": [partner.pk],
        "partners:agreement_edit": [world["agreement"].pk],
        "partners:referral": [referral.pk],
        "partners:lead_matches": [lead.pk],
        "nurture:lead_enroll": [lead.pk],
        "nurture:lead_reply": [lead.pk],
        "triage:panel": [lead.pk],
    }.get(name)
    return reverse(name, args=args) if args is not None or name in world["no_args"] else matrix_url_for(name)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_page_shows_hostile_text_escaped_to_every_role(client, world, name):
    url = url_for(name, world)
    for role in sorted(MATRIX[name]):
        client.force_login(world["users"][role])

        response = client.get(url)

        assert response.status_code == 200, f"{name} as {role}"
        if not response["Content-Type"].startswith("text/html"):
            continue  # a download (CSV, XLSX): data for a spreadsheet, not a page
        assert_safe(response.text, f"{name} as {role}")


HTMX_REGIONS = [
    ("triage:queue", {}, "triage-table-region"),
    ("triage:queue", {"reason": "hostile"}, "triage-table-region"),
    ("triage:panel", {}, "panel"),
    ("triage:panel", {}, "triage-reply"),
    ("triage:counts", {}, "triage-counts"),
    ("leads:list", {"q": "lead"}, "lead-table-region"),
    ("partners:list", {}, "partner-table-region"),
    ("partners:referral_list", {}, "referral-table-region"),
    ("partners:lead_matches", {}, "partner-matches"),
    ("nurture:enrollments", {}, "enrollment-table-region"),
    ("nurture:tasks", {"who": "all"}, "task-table-region"),
    ("nurture:lead_enroll", {}, "enroll-tracks"),
    ("nurture:lead_reply", {}, "reply-preview"),
    ("leads:import_job", {}, "import-preview"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "query", "target"), HTMX_REGIONS)
def test_htmx_fragment_shows_hostile_text_escaped(client, world, name, query, target):
    client.force_login(world["users"][SALES])

    response = client.get(url_for(name, world), query, headers={"HX-Request": "true", "HX-Target": target})

    assert response.status_code == 200
    leaks = [raw for raw in RAW if raw in response.text]
    assert leaks == [], f"{name} → #{target}: raw hostile text {leaks}"


@pytest.mark.django_db
def test_partner_link_page_shows_hostile_text_escaped(client, world):
    response = client.get(reverse("partner_link", args=[referral_token(world["referral"])]))

    assert response.status_code == 200
    assert_safe(response.text, "partner link")
    assert escape(HOSTILE) in response.text  # the lead's details, introduced


@pytest.mark.django_db
def test_unsubscribe_page_is_safe(client, world):
    response = client.get(reverse("unsubscribe", args=[unsubscribe_token(world["lead"].pk)]))

    assert response.status_code == 200
    assert [raw for raw in RAW if raw in response.text] == []


@pytest.mark.django_db
def test_the_signpost_preview_in_the_triage_panel_is_escaped(client, world):
    """The issue's case: a lead named `<img src=x onerror=…>` ran script when Sales Ops opened its panel."""
    client.force_login(world["users"][SALES])

    html = client.get(url_for("triage:panel", world), headers={"HX-Request": "true", "HX-Target": "panel"}).text

    preview = html.split('<pre class="triage-preview', 1)[1].split("</pre>", 1)[0]
    assert f"Hello {escape(HOSTILE)}," in preview
    assert "<img" not in preview


@pytest.mark.django_db
def test_the_partner_website_is_never_a_javascript_link(client, world):
    client.force_login(world["users"][FINANCE])

    html = client.get(url_for("partners:detail", world)).text

    assert 'href="javascript:' not in html
    assert f'<dd class="col-sm-8">{URL}</dd>' in html


ADMIN_PAGES = [
    ("admin:leads_lead_changelist", None),
    ("admin:leads_lead_change", "lead"),
    ("admin:partners_partner_changelist", None),
    ("admin:partners_partner_change", "partner"),
    ("admin:nurture_track_changelist", None),
    ("admin:nurture_track_change", "track"),
    ("admin:nurture_helpfulreply_changelist", None),
    ("admin:nurture_helpfulreply_change", "reply"),
    ("admin:leads_disqualificationreason_changelist", None),
    ("admin:leads_leadsource_changelist", None),
    ("admin:auth_user_changelist", None),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "key"), ADMIN_PAGES)
def test_admin_pages_show_hostile_text_escaped(client, world, name, key):
    client.force_login(world["users"][ADMIN])

    response = client.get(reverse(name, args=[world[key].pk] if key else []))

    assert response.status_code == 200
    assert_safe(response.text, name)
