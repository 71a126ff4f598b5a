"""The triage workspace: the queue (table, filters, counts), access per role, and the lead panel and its claim.
The actions, bulk and what the page does without a script: tests/triage/test_actions.py."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from leads.models import Lead
from leads.services import lead_evaluate
from nurture.models import Step, Track
from tests.conftest import make_user
from tests.factories import ConsentingLeadFactory, LeadFactory
from tests.triage.helpers import ACTIONS, QUEUE, hx, url, waiting
from triage.services import lead_claim

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
