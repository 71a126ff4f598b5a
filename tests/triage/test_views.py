"""The triage workspace: the queue (table, filters, counts), the lead panel and its claim, the actions and
their refusals (409 when someone else acted first, 422 when a rule refuses), bulk actions."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from leads.models import Lead, LeadStatus
from leads.seed import seed_reasons
from leads.services import lead_evaluate
from nurture.models import Enrollment, Step, Track
from nurture.seed import seed_tracks
from outbox.models import OutboundMessage
from partners import matching
from partners.models import Referral
from tests.conftest import make_user
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory, LeadFactory, UserFactory
from triage.services import lead_claim, triage_refer

QUEUE = reverse("triage:queue")
ACTIONS = ["refer", "enroll", "reply", "close", "override", "assign"]


@pytest.fixture(autouse=True)
def fresh_catalogue():
    """Matching caches the partner catalogue per process; each test starts from its own partners."""
    matching.catalogue_reset()
    yield
    matching.catalogue_reset()


@pytest.fixture
def reasons(db):
    return seed_reasons()


@pytest.fixture
def tracks(reasons):
    return seed_tracks()


@pytest.fixture
def olive(db):
    return UserFactory(username="olive", role="Sales Ops", first_name="Olive", last_name="Other")


@pytest.fixture
def partner(db):
    return FeeAgreementFactory(partner__name="Acme Lending").partner


def waiting(**kwargs) -> Lead:
    """A disqualified lead who agreed to partner sharing and marketing emails."""
    kwargs.setdefault("marketing_consent_at", timezone.now())
    kwargs.setdefault("marketing_consent_version", "v1")
    return ConsentingLeadFactory(**kwargs)


def url(name: str, lead: Lead) -> str:
    return reverse(f"triage:{name}", args=[lead.pk])


def hx(target: str = "panel") -> dict:
    return {"HX-Request": "true", "HX-Target": target}


# The queue ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_queue_lists_waiting_leads_most_urgent_first(sales_client):
    now = timezone.now()
    later = waiting(name="Later Lee", respond_by=now + timedelta(hours=20), received_at=now - timedelta(hours=1))
    sooner = LeadFactory(
        name="Sooner Sam",
        status="needs_review",
        respond_by=now + timedelta(hours=2),
        received_at=now - timedelta(hours=1),
    )
    LeadFactory(name="Qualified Quinn", status="qualified")
    LeadFactory(name="Referred Rita", status="referred")

    response = sales_client.get(QUEUE)

    html = response.text
    assert response.status_code == 200
    assert '<nav class="navbar' in html  # the whole page
    assert html.index("Sooner Sam") < html.index("Later Lee")
    assert "Qualified Quinn" not in html
    assert "Referred Rita" not in html
    assert f'id="lead-row-{sooner.pk}"' in html
    assert f'hx-get="/triage/{later.pk}/"' in html
    assert f'href="/triage/?lead={later.pk}"' in html  # works without JavaScript too
    assert "js/triage.js" in html


@pytest.mark.django_db
def test_queue_refuses_post(sales_client):
    assert sales_client.post(QUEUE).status_code == 405


@pytest.mark.django_db
def test_queue_htmx_table_request_returns_only_the_table(sales_client):
    waiting(name="Ada Lovelace")

    response = sales_client.get(QUEUE, {"sort": "-respond_by"}, headers=hx("triage-table-region"))

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="triage-table-region"')
    assert 'hx-get="/triage/?sort=-respond_by"' in response.text  # refreshes itself with its own state
    assert "Ada Lovelace" in response.text
    assert '<nav class="navbar' not in response.text
    assert 'id="panel"' not in response.text


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [1, 50])
def test_queue_query_count_does_not_grow_with_rows(
    sales_client, sales_user, olive, reasons, django_assert_num_queries, rows
):
    for i in range(rows):
        lead = waiting(primary_reason=reasons["budget"], owner=sales_user if i % 2 else None)
        if i % 3 == 0:
            lead_claim(lead=lead, user=olive)
    sales_client.get(QUEUE)  # warm the session/permission caches

    # session, user, 2× permissions, roles, the choices of reason, source, owner and bulk track, one page of
    # rows with their source, owner, reason and claim joined in (and no COUNT)
    with django_assert_num_queries(10):
        response = sales_client.get(QUEUE, {"per_page": 50})

    assert response.text.count('class="triage-row') == rows


@pytest.mark.django_db
def test_panel_query_count_does_not_grow_with_tracks(sales_client, reasons, partner):
    def track(n: int) -> None:
        made = Track.objects.create(name=f"Track {n}", slug=f"track-{n}")
        Step.objects.create(track=made, position=1, kind="email", subject="Hi {{ lead.name }}", body="Links.")

    track(1)
    lead = waiting()
    sales_client.get(url("panel", lead), headers=hx())  # warm: the partner catalogue is built once a process
    with CaptureQueriesContext(connection) as one:
        sales_client.get(url("panel", lead), headers=hx())
    for n in range(2, 6):
        track(n)
    with CaptureQueriesContext(connection) as five:
        sales_client.get(url("panel", lead), headers=hx())

    assert len(five) == len(one)


@pytest.mark.django_db
def test_queue_pages_by_25_without_counting_the_queue(sales_client):
    for _ in range(30):
        waiting()

    with CaptureQueriesContext(connection) as queries:
        first = sales_client.get(QUEUE)
    second = sales_client.get(QUEUE, {"page": 2})

    assert first.text.count('class="triage-row') == 25
    assert "more than 25 in all" in first.text
    assert 'href="?page=2"' in first.text
    assert second.text.count('class="triage-row') == 5
    assert "30 in all" in second.text
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


@pytest.mark.django_db
def test_queue_filters_by_reason(sales_client, reasons):
    waiting(name="Budget Bea", primary_reason=reasons["budget"])
    waiting(name="Far Away Fred", primary_reason=reasons["geography"])

    response = sales_client.get(QUEUE, {"reason": reasons["geography"].pk})

    assert "Far Away Fred" in response.text
    assert "Budget Bea" not in response.text


@pytest.mark.django_db
def test_queue_filters_my_overdue(sales_client, sales_user, olive):
    now = timezone.now()
    past = {"received_at": now - timedelta(hours=30), "respond_by": now - timedelta(hours=6)}
    waiting(name="Mine Overdue", owner=sales_user, **past)
    waiting(name="Mine Answered", owner=sales_user, first_response_at=now - timedelta(hours=7), **past)
    waiting(name="Mine In Time", owner=sales_user)
    waiting(name="Olive Overdue", owner=olive, **past)

    response = sales_client.get(QUEUE, {"my_overdue": "on"})

    assert "Mine Overdue" in response.text
    for other in ("Mine Answered", "Mine In Time", "Olive Overdue"):
        assert other not in response.text


@pytest.mark.django_db
def test_queue_filters_band_owner_and_received(sales_client, sales_user):
    now = timezone.now()
    waiting(name="Old Disq", owner=sales_user, received_at=now - timedelta(days=10))
    LeadFactory(name="New Review", status="needs_review")
    waiting(name="New Disq Unowned")

    by_band = sales_client.get(QUEUE, {"band": "needs_review"}).text
    mine = sales_client.get(QUEUE, {"owner": "me"}).text
    unassigned = sales_client.get(QUEUE, {"owner": "unassigned"}).text
    recent = sales_client.get(QUEUE, {"received_from": str(timezone.localdate() - timedelta(days=2))}).text

    assert ("New Review" in by_band, "Old Disq" in by_band) == (True, False)
    assert ("Old Disq" in mine, "New Disq Unowned" in mine) == (True, False)
    assert ("New Disq Unowned" in unassigned, "Old Disq" in unassigned) == (True, False)
    assert ("New Review" in recent, "Old Disq" in recent) == (True, False)


@pytest.mark.django_db
def test_queue_shows_countdown_overdue_rows_and_who_holds_a_lead(sales_client, olive):
    now = timezone.now()
    late = waiting(
        name="Late Lou", received_at=now - timedelta(hours=30), respond_by=now - timedelta(hours=2, minutes=5)
    )
    soon = waiting(name="Soon Sue", respond_by=now + timedelta(hours=3, minutes=10))
    lead_claim(lead=soon, user=olive)

    html = sales_client.get(QUEUE).text

    assert f'<tr id="lead-row-{late.pk}" data-lead-id="{late.pk}" class="triage-row sla-overdue even">' in html
    assert f'<tr id="lead-row-{soon.pk}" data-lead-id="{soon.pk}" class="triage-row odd">' in html
    assert ">overdue 2 h</time>" in html
    assert ">in 3 h</time>" in html
    assert 'title="Olive Other is working on it until' in html


@pytest.mark.django_db
def test_queue_with_lead_opens_its_panel_and_claims_it(sales_client, sales_user):
    lead = waiting(name="Ada Lovelace")

    response = sales_client.get(QUEUE, {"lead": lead.pk})

    assert response.status_code == 200
    assert (
        f'<section id="panel" class="card triage-panel" aria-label="Lead: Ada Lovelace" data-lead-id="{lead.pk}"'
        in response.text
    )
    assert Lead.objects.get(pk=lead.pk).claimed_by == sales_user


@pytest.mark.django_db
def test_queue_with_a_missing_lead_shows_the_queue_without_a_panel(sales_client):
    response = sales_client.get(QUEUE, {"lead": "999999"})

    assert response.status_code == 200
    assert "No lead open" in response.text


# Access ---------------------------------------------------------------------------------------------------


def _urls(lead: Lead) -> dict[str, str]:
    urls = {"queue": QUEUE, "counts": reverse("triage:counts"), "bulk": reverse("triage:bulk")}
    urls.update({name: url(name, lead) for name in ["panel", *ACTIONS]})
    return urls


GETS = ["queue", "counts", "panel"]
POSTS = ["bulk", *ACTIONS]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["Manager", "Finance"])
@pytest.mark.parametrize("name", GETS + POSTS)
def test_triage_is_refused_to_managers_and_finance(client, role, name):
    lead = waiting()
    client.force_login(make_user(role))

    response = client.get(_urls(lead)[name]) if name in GETS else client.post(_urls(lead)[name])

    assert response.status_code == 403
    assert Lead.objects.get(pk=lead.pk).claimed_by is None


@pytest.mark.django_db
@pytest.mark.parametrize("name", GETS + POSTS)
def test_triage_sends_anonymous_visitors_to_login(client, name):
    target = _urls(waiting())[name]

    response = client.get(target) if name in GETS else client.post(target)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize("name", POSTS)
def test_actions_refuse_get(sales_client, name):
    assert sales_client.get(_urls(waiting())[name]).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["counts", "panel"])
def test_reads_refuse_post(sales_client, name):
    assert sales_client.post(_urls(waiting())[name]).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["panel", *ACTIONS])
def test_another_lead_is_404(sales_client, name):
    missing = Lead(pk=999999)

    response = (
        sales_client.get(url(name, missing), headers=hx()) if name == "panel" else sales_client.post(url(name, missing))
    )

    assert response.status_code == 404


# Counts ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_counts_per_reason_link_to_the_filtered_queue(sales_client, reasons):
    waiting(primary_reason=reasons["budget"])
    waiting(primary_reason=reasons["budget"])
    waiting(primary_reason=reasons["geography"])
    LeadFactory(status="qualified")

    response = sales_client.get(reverse("triage:counts"), headers=hx("triage-counts"))

    html = response.text
    assert html.lstrip().startswith('<div id="triage-counts"')
    assert 'hx-trigger="leadChanged from:body"' in html  # loaded: now it only listens
    budget = f'href="/triage/?reason={reasons["budget"].pk}"'
    assert budget in html
    assert html.index("Budget too small") < html.index("Outside our area")
    assert '<span class="badge rounded-pill text-bg-light border tabular">2</span>' in html


@pytest.mark.django_db
def test_counts_without_htmx_is_the_whole_page_with_the_counts(sales_client, reasons):
    waiting(primary_reason=reasons["budget"])

    html = sales_client.get(reverse("triage:counts")).text

    assert '<nav class="navbar' in html
    assert f'href="/triage/?reason={reasons["budget"].pk}"' in html


@pytest.mark.django_db
def test_queue_page_loads_the_counts_lazily(sales_client):
    html = sales_client.get(QUEUE).text

    assert 'hx-get="/triage/counts/" hx-trigger="load, leadChanged from:body"' in html


# The panel ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_panel_htmx_returns_only_the_panel_and_claims_the_lead(sales_client, sales_user, partner, tracks, reasons):
    lead = waiting(name="Ada Lovelace", primary_reason=reasons["budget"])

    response = sales_client.get(url("panel", lead), headers=hx("panel"))

    html = response.text
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="panel"')
    assert '<nav class="navbar' not in html
    assert Lead.objects.get(pk=lead.pk).claimed_by == sales_user
    assert "Introduce to Acme Lending</button>" in html
    assert "Send this signpost</button>" in html
    assert "Enroll in Budget and timing: ready when you are</button>" in html
    assert 'value="Resources while you plan your budget"' in html  # the reply for its reason, ready to edit
    assert "Close the lead</button>" in html
    assert "Override to qualified</button>" in html
    assert "Reassign</button>" in html


@pytest.mark.django_db
def test_panel_without_htmx_is_the_queue_page_with_the_panel(sales_client):
    lead = waiting(name="Ada Lovelace")

    response = sales_client.get(url("panel", lead))

    assert response.status_code == 200
    assert '<nav class="navbar' in response.text
    assert f'<tr id="lead-row-{lead.pk}"' in response.text
    assert (
        f'<section id="panel" class="card triage-panel" aria-label="Lead: Ada Lovelace" data-lead-id="{lead.pk}"'
        in (response.text)
    )
    assert '<base href="/triage/">' in response.text  # the table's query-string links go to the queue


@pytest.mark.django_db
def test_opening_another_lead_releases_the_one_the_panel_showed(sales_client, sales_user):
    first, second = waiting(), waiting()
    sales_client.get(url("panel", first), headers=hx())

    sales_client.get(url("panel", second), {"release": first.pk}, headers=hx())

    assert Lead.objects.get(pk=first.pk).claimed_by is None
    assert Lead.objects.get(pk=second.pk).claimed_by == sales_user


@pytest.mark.django_db
def test_release_never_ends_someone_elses_claim(sales_client, olive):
    held, mine = waiting(), waiting()
    lead_claim(lead=held, user=olive)

    sales_client.get(url("panel", mine), {"release": held.pk}, headers=hx())

    assert Lead.objects.get(pk=held.pk).claimed_by == olive


@pytest.mark.django_db
def test_panel_shows_who_holds_the_lead_and_no_actions(sales_client, olive, partner):
    lead = waiting()
    lead_claim(lead=lead, user=olive)
    until = timezone.localtime(Lead.objects.get(pk=lead.pk).claimed_until)

    response = sales_client.get(url("panel", lead), headers=hx())

    html = response.text
    assert f"Olive Other is working on this lead until {until:%H:%M}." in html
    assert "Introduce to" not in html
    assert "Close the lead" not in html
    assert "Reassign</button>" not in html
    assert Lead.objects.get(pk=lead.pk).claimed_by == olive


@pytest.mark.django_db
def test_panel_explains_the_criteria_it_fails(sales_client, bank_source):
    lead = LeadFactory(source=bank_source, status="new", credit_score=550, budget=Decimal("20000"))
    lead_evaluate(lead=lead)

    html = sales_client.get(url("panel", lead), headers=hx()).text

    assert "<strong>Disqualified</strong>" in html
    assert '<td>Credit score <span class="badge text-bg-danger">knock-out</span></td>' in html
    assert "<td>550</td><td>≥ 600</td><td>600 or more</td>" in html
    assert "1 other criterion passes." in html


@pytest.mark.django_db
def test_panel_disables_introduce_without_consent_but_offers_signpost(sales_client, partner):
    lead = LeadFactory(status="disqualified", name="Nora None")

    html = sales_client.get(url("panel", lead), headers=hx()).text

    assert 'disabled aria-describedby="no-consent-' in html
    assert "Introducing needs their consent to partner sharing" in html
    assert "Send this signpost</button>" in html
    assert "If you contact them, mention the code PT-XXXXXXXX" in html  # the preview of their email


@pytest.mark.django_db
def test_panel_offers_tracks_for_its_reason_first_and_greys_refusals(sales_client, tracks, reasons):
    lead = ConsentingLeadFactory(primary_reason=reasons["prerequisites"])  # no marketing consent

    html = sales_client.get(url("panel", lead), headers=hx()).text

    assert html.index("Beginner path: prerequisites first") < html.index("Budget and timing")
    assert 'class="border rounded p-2 mb-2 small triage-refused" aria-label="Beginner path' in html
    assert "has not agreed to marketing emails" in html


@pytest.mark.django_db
def test_panel_switches_the_reply_template_in_place(sales_client, tracks, reasons):
    lead = waiting(name="Ada", primary_reason=reasons["budget"])
    geography = lead.primary_reason.helpful_replies.model.objects.get(reason=reasons["geography"])

    response = sales_client.get(url("panel", lead), {"reply": geography.pk}, headers=hx("triage-reply"))

    assert response.text.lstrip().startswith('<div id="triage-reply">')
    assert 'value="Someone closer to you"' in response.text
    assert "We do not work in your area yet." in response.text


# Actions --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_refer_introduces_and_returns_the_refreshed_panel(sales_client, partner):
    lead = waiting(name="Ada Lovelace")
    sales_client.get(url("panel", lead), headers=hx())

    response = sales_client.post(
        url("refer", lead), {"partner": partner.pk, "mode": "introduce", "note": "Keen"}, headers=hx()
    )

    referral = Referral.objects.get(lead=lead)
    html = response.text
    assert response.status_code == 200
    assert response["HX-Trigger"] == '{"leadChanged": {}}'
    assert html.lstrip().startswith('<section id="panel"')
    assert '<span class="badge text-bg-success" data-testid="lead-status">Referred</span>' in html
    assert "<strong>referred</strong>" in html  # the timeline entry
    assert '<div id="messages" hx-swap-oob="true"' in html
    assert f"Ada Lovelace introduced to Acme Lending; tracking code {referral.tracking_code}." in html
    assert (referral.mode, referral.note, referral.created_by.username) == ("introduce", "Keen", "sales_ops")


@pytest.mark.django_db
def test_refer_without_htmx_goes_back_to_the_queue_with_a_message(sales_client, partner):
    lead = waiting(name="Ada Lovelace")

    response = sales_client.post(url("refer", lead), {"partner": partner.pk, "mode": "signpost"}, follow=True)

    assert response.redirect_chain == [(f"/triage/?lead={lead.pk}", 302)]
    assert "Ada Lovelace signposted to Acme Lending" in response.text
    assert Referral.objects.get(lead=lead).mode == "signpost"


@pytest.mark.django_db
def test_refer_introduce_without_consent_is_refused_by_the_service(sales_client, partner):
    lead = LeadFactory(status="disqualified")

    response = sales_client.post(
        url("refer", lead), {"partner": partner.pk, "mode": "introduce", "note": "Please call"}, headers=hx()
    )

    assert response.status_code == 422
    assert "has not agreed to their details being shared with partners" in response.text
    assert ">Please call</textarea>" in response.text  # what was typed is kept
    assert not Referral.objects.exists()
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.DISQUALIFIED


@pytest.mark.django_db
def test_refer_while_someone_else_holds_the_lead_is_a_conflict(sales_client, olive, partner):
    lead = waiting()
    lead_claim(lead=lead, user=olive)

    response = sales_client.post(url("refer", lead), {"partner": partner.pk, "mode": "signpost"}, headers=hx())

    assert response.status_code == 409
    assert "Olive Other is working on this lead (until" in response.text  # the message
    assert "Olive Other is working on this lead until" in response.text  # the fresh panel
    assert not Referral.objects.exists()


@pytest.mark.django_db
def test_refer_after_someone_else_handled_it_is_a_conflict_showing_the_fresh_state(sales_client, olive, partner):
    lead = waiting()
    sales_client.get(url("panel", lead), headers=hx())
    Lead.objects.filter(pk=lead.pk).update(claimed_until=timezone.now() - timedelta(minutes=1))  # my claim lapsed
    other = FeeAgreementFactory(partner__name="Other Partner").partner
    triage_refer(lead=lead, partner=other, mode="signpost", user=olive)

    response = sales_client.post(url("refer", lead), {"partner": partner.pk, "mode": "signpost"}, headers=hx())

    assert response.status_code == 409
    assert "Olive Other already handled this lead: it is now referred." in response.text
    assert '<span class="badge text-bg-success" data-testid="lead-status">Referred</span>' in response.text
    assert Referral.objects.filter(lead=lead).count() == 1


@pytest.mark.django_db
def test_refer_needs_a_partner(sales_client):
    lead = waiting()

    response = sales_client.post(url("refer", lead), {"mode": "signpost"}, headers=hx())

    assert response.status_code == 422
    assert "Choose a partner." in response.text


@pytest.mark.django_db
def test_enroll_puts_the_lead_on_the_track(sales_client, tracks, reasons):
    lead = waiting(primary_reason=reasons["budget"])

    response = sales_client.post(url("enroll", lead), {"track": tracks["budget-timing"].pk}, headers=hx())

    assert response.status_code == 200
    assert "is now on the track “Budget and timing: ready when you are”." in response.text
    assert Enrollment.objects.get(lead=lead).track == tracks["budget-timing"]
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.NURTURING


@pytest.mark.django_db
def test_enroll_without_marketing_consent_is_refused(sales_client, tracks):
    lead = ConsentingLeadFactory()

    response = sales_client.post(url("enroll", lead), {"track": tracks["budget-timing"].pk}, headers=hx())

    assert response.status_code == 422
    assert 'data-testid="enroll-error">This lead has not agreed to marketing emails' in response.text
    assert not Enrollment.objects.exists()


@pytest.mark.django_db
def test_reply_sends_the_edited_text(sales_client, tracks, reasons):
    lead = waiting(primary_reason=reasons["budget"])
    template = reasons["budget"].helpful_replies.get()

    response = sales_client.post(
        url("reply", lead),
        {"reply": template.pk, "subject": "Free guides for you", "body": "Here they are."},
        headers=hx(),
    )

    message = OutboundMessage.objects.get(lead=lead, kind="helpful_reply")
    assert response.status_code == 200
    assert (message.subject, message.body) == ("Free guides for you", "Here they are.")
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.HELPED


@pytest.mark.django_db
def test_reply_needs_a_subject_and_keeps_the_body(sales_client):
    lead = waiting()

    response = sales_client.post(url("reply", lead), {"subject": " ", "body": "My careful answer"}, headers=hx())

    assert response.status_code == 422
    assert '<div class="invalid-feedback">Write a subject.</div>' in response.text
    assert ">My careful answer</textarea>" in response.text
    assert not OutboundMessage.objects.exists()


@pytest.mark.django_db
def test_close_needs_a_reason(sales_client):
    lead = waiting()

    response = sales_client.post(url("close", lead), {"kind": "spam", "reason": ""}, headers=hx())

    assert response.status_code == 422
    assert "Closing needs a kind and a reason." in response.text
    assert '<option value="spam" selected>Spam</option>' in response.text  # what was chosen is kept
    assert "Say why (for example: “gibberish message, disposable address”).</div>" in response.text
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.DISQUALIFIED


@pytest.mark.django_db
def test_close_refused_without_htmx_is_the_whole_page_with_the_panel(sales_client):
    lead = waiting(name="Bot")

    response = sales_client.post(url("close", lead), {"kind": "test", "reason": ""})

    assert response.status_code == 422
    assert '<nav class="navbar' in response.text
    assert '<base href="/triage/">' in response.text  # the table's query-string links still reach the queue
    assert '<option value="test" selected>Test entry</option>' in response.text
    assert "Closing needs a kind and a reason." in response.text


@pytest.mark.django_db
def test_close_as_spam_with_a_reason(sales_client):
    lead = waiting(name="Bot")

    response = sales_client.post(url("close", lead), {"kind": "spam", "reason": "Gibberish"}, headers=hx())

    assert response.status_code == 200
    assert "Bot closed as spam." in response.text
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.CLOSED


@pytest.mark.django_db
def test_override_needs_a_note(sales_client):
    lead = waiting()

    response = sales_client.post(url("override", lead), {"note": ""}, headers=hx())

    assert response.status_code == 422
    assert '<div class="invalid-feedback">A note is required for an override.</div>' in response.text
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.DISQUALIFIED


@pytest.mark.django_db
def test_override_qualifies_with_the_note(sales_client):
    lead = waiting(name="Big Co")

    response = sales_client.post(url("override", lead), {"note": "Parent company is a customer"}, headers=hx())

    assert response.status_code == 200
    assert "Big Co is qualified after all." in response.text
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.QUALIFIED
    assert lead.events.get(verb="override_qualified").data == {"note": "Parent company is a customer"}


@pytest.mark.django_db
def test_assign_gives_the_lead_another_owner(sales_client, olive):
    lead = waiting(name="Ada")

    response = sales_client.post(url("assign", lead), {"owner": olive.pk}, headers=hx())

    assert response.status_code == 200
    assert "Ada now belongs to Olive Other." in response.text
    assert response["HX-Trigger"] == '{"leadChanged": {}}'
    assert Lead.objects.get(pk=lead.pk).owner == olive


# Bulk -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_bulk_close_as_spam(sales_client):
    leads = [waiting(), waiting()]

    response = sales_client.post(
        reverse("triage:bulk"),
        {"tick": [lead.pk for lead in leads], "action": "close_spam", "reason": "Bot sign-ups"},
        headers=hx("bulk-form"),
    )

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<form id="bulk-form"')
    assert "2 closed as spam." in response.text
    assert response["HX-Trigger"] == '{"leadChanged": {}}'
    assert set(Lead.objects.values_list("status", flat=True)) == {LeadStatus.CLOSED}


@pytest.mark.django_db
def test_bulk_enroll_reports_the_consent_refusal(sales_client, tracks):
    agreed, refused = waiting(), ConsentingLeadFactory()

    response = sales_client.post(
        reverse("triage:bulk"),
        {"tick": [agreed.pk, refused.pk], "action": "enroll", "track": tracks["budget-timing"].pk},
        headers=hx("bulk-form"),
    )

    assert response.status_code == 200
    assert f"1 enrolled; 1 not: #{refused.pk}: This lead has not agreed to marketing emails" in response.text
    assert list(Enrollment.objects.values_list("lead_id", flat=True)) == [agreed.pk]
    assert Lead.objects.get(pk=refused.pk).status == LeadStatus.DISQUALIFIED


@pytest.mark.django_db
def test_bulk_reply_sends_each_its_reasons_reply(sales_client, tracks, reasons):
    budget, geography = waiting(primary_reason=reasons["budget"]), waiting(primary_reason=reasons["geography"])

    response = sales_client.post(
        reverse("triage:bulk"), {"tick": [budget.pk, geography.pk], "action": "reply"}, headers=hx("bulk-form")
    )

    assert "2 answered with their reason&#x27;s helpful reply." in response.text
    subjects = dict(OutboundMessage.objects.filter(kind="helpful_reply").values_list("lead_id", "subject"))
    assert subjects == {budget.pk: "Resources while you plan your budget", geography.pk: "Someone closer to you"}


@pytest.mark.django_db
def test_bulk_close_needs_a_reason_and_ticked_leads(sales_client):
    lead = waiting()

    no_reason = sales_client.post(
        reverse("triage:bulk"), {"tick": [lead.pk], "action": "close_spam", "reason": ""}, headers=hx("bulk-form")
    )
    nothing_ticked = sales_client.post(reverse("triage:bulk"), {"action": "reply"}, headers=hx("bulk-form"))

    assert no_reason.status_code == 422
    assert '<div class="invalid-feedback">A reason is required.</div>' in no_reason.text
    assert nothing_ticked.status_code == 422
    assert "Tick at least one lead in the table." in nothing_ticked.text
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.DISQUALIFIED


@pytest.mark.django_db
def test_bulk_without_htmx_goes_back_to_the_same_queue(sales_client, reasons):
    lead = waiting(primary_reason=reasons["budget"])

    response = sales_client.post(
        reverse("triage:bulk"),
        {"tick": [lead.pk], "action": "close_spam", "reason": "Test entries", "q": f"reason={reasons['budget'].pk}"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/triage/?reason={reasons['budget'].pk}"
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.CLOSED


# What the page does without a script (htmx attributes, autofocus, the table's own ticks) -----------------------


@pytest.mark.django_db
def test_table_requests_carry_the_ticked_rows_and_get_them_back_ticked(sales_client):
    ticked, other = waiting(name="Ticked Tia"), waiting(name="Other Oz")

    response = sales_client.get(QUEUE, {"sort": "lead", "tick": [ticked.pk, "x"]}, headers=hx("triage-table-region"))

    html = response.text
    assert 'hx-include="#triage-table"' in html  # the region's requests send the ticked boxes along
    assert f'name="tick" value="{ticked.pk}" form="bulk-form" aria-label="Select Ticked Tia" checked>' in html
    assert f'name="tick" value="{other.pk}" form="bulk-form" aria-label="Select Other Oz">' in html
    assert "tick=" not in response.context["table_url"]  # the refresh sends the boxes as they are then


@pytest.mark.django_db
def test_row_links_send_the_open_lead_to_release_and_the_panel_holds_it(sales_client):
    lead = waiting(name="Open Ola")

    page = sales_client.get(QUEUE, {"lead": lead.pk})

    html = page.text
    assert f'hx-push-url="/triage/?lead={lead.pk}" hx-include="#panel-release">Open Ola</a>' in html
    assert f'<input type="hidden" name="release" id="panel-release" value="{lead.pk}">' in html
    assert f'<input type="hidden" name="lead" value="{lead.pk}" form="triage-filter">' in html
    assert f'<tr id="lead-row-{lead.pk}" data-lead-id="{lead.pk}" class="triage-row is-open even">' in html
    assert "autofocus" not in html.split('id="panel"')[1].split(">")[0]  # a page load does not jump to the panel


@pytest.mark.django_db
def test_the_returned_panel_says_where_the_focus_goes(sales_client):
    lead, after = waiting(name="First Fin"), waiting(name="After Al")

    opened = sales_client.get(url("panel", lead), headers=hx())
    refused = sales_client.post(url("close", lead), {"kind": "spam", "reason": ""}, headers=hx())
    done = sales_client.post(url("close", lead), {"kind": "spam", "reason": "A bot"}, headers=hx())

    assert 'tabindex="-1" autofocus>' in opened.text  # the panel, once opened
    assert 'id="close-reason" maxlength="500" class="form-control form-control-sm is-invalid" autofocus value="">' in (
        refused.text
    )
    assert f'hx-include="#panel-release" autofocus>Next lead: {after.name} →</a>' in done.text
