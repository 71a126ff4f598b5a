"""The enrollments page: table, filters, counts per status, and the row actions pause / resume / stop."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import LeadStatus
from nurture import services
from nurture.models import Enrollment, EnrollmentStatus
from tests.nurture.views.conftest import hx

LIST = reverse("nurture:enrollments")
TABLE = "enrollment-table-region"


def action_url(enrollment: Enrollment, action: str) -> str:
    return reverse("nurture:enrollment_action", args=[enrollment.pk, action])


def shown(response) -> set[str]:
    return {row.record.lead.name for row in response.context["table"].page.object_list}


# The list ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_enrollment_list_shows_lead_track_step_and_who_enrolled(sales_client, sales_user, enroll):
    enrollment = enroll(name="Ada Lovelace")
    services.enrollment_stop(enrollment=enroll(name="Bob Stopped"), reason="Asked to wait")
    services.nurture_run_due(now=timezone.now(), enrollment_ids=[enrollment.pk])  # the first email is out
    Enrollment.objects.filter(pk=enrollment.pk).update(enrolled_by=sales_user)

    response = sales_client.get(LIST)

    html = response.text
    assert response.status_code == 200
    assert '<nav class="navbar' in html  # the whole page
    assert f'<a href="{reverse("leads:detail", args=[enrollment.lead_id])}">Ada Lovelace</a>' in html
    assert "Budget and timing: ready when you are" in html
    assert "2 of 4: Email the lead" in html
    assert "1 of 4 done" in html  # the stopped one: its first email went out when it was enrolled
    assert "sales_ops" in html  # enrolled by
    assert 'data-testid="count-active">1<' in html
    assert 'data-testid="count-stopped">1<' in html
    assert 'data-testid="count-paused">0<' in html


@pytest.fixture
def three(enroll, waiting, tracks):
    """Ada (budget track, due in 14 days), Bob (paused), Cleo (decision-maker kit, its second email due now)."""
    enroll(name="Ada Lovelace", email="ada@example.com")  # each track's first email goes out on enrolling
    services.enrollment_pause(enrollment=enroll(name="Bob Babbage"))
    cleo = enroll(name="Cleo Patra", track="decision-maker-kit")
    Enrollment.objects.filter(pk=cleo.pk).update(next_run_at=timezone.now() - timedelta(minutes=1))
    return tracks


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"status": "paused"}, {"Bob Babbage"}),
        ({"due": "on"}, {"Cleo Patra"}),
        ({"q": "ada@exa"}, {"Ada Lovelace"}),
        ({"q": "babb"}, {"Bob Babbage"}),
        ({}, {"Ada Lovelace", "Bob Babbage", "Cleo Patra"}),
    ],
)
def test_enrollment_list_filters(sales_client, three, params, names):
    response = sales_client.get(LIST, params)

    assert shown(response) == names


@pytest.mark.django_db
def test_enrollment_list_filters_by_track(sales_client, three):
    response = sales_client.get(LIST, {"track": three["decision-maker-kit"].pk})

    assert shown(response) == {"Cleo Patra"}


@pytest.mark.django_db
def test_enrollment_list_htmx_table_request_returns_only_the_table(sales_client, three):
    response = sales_client.get(LIST, {"status": "paused", "sort": "lead"}, headers=hx(TABLE))

    html = response.text
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="enrollment-table-region"')
    assert "Bob Babbage" in html
    assert "Ada Lovelace" not in html
    assert 'hx-get="?status=paused&amp;sort=-lead&amp;page=1"' in html  # sorting keeps the filter, swaps the table
    assert '<nav class="navbar' not in html
    assert 'id="enrollment-counts"' not in html


@pytest.mark.django_db
def test_enrollment_list_htmx_counts_request_returns_only_the_counts(sales_client, three):
    response = sales_client.get(LIST, headers=hx("enrollment-counts"))

    assert response.text.lstrip().startswith('<div id="enrollment-counts"')
    assert 'data-testid="count-active">2<' in response.text
    assert 'data-testid="count-paused">1<' in response.text
    assert "enrollment-table" not in response.text


@pytest.mark.django_db
def test_enrollment_list_offers_actions_by_status(sales_client, three):
    html = sales_client.get(LIST).text

    ada, bob = Enrollment.objects.get(lead__name="Ada Lovelace"), Enrollment.objects.get(lead__name="Bob Babbage")
    assert f'action="{action_url(ada, "pause")}?"' in html
    assert f'action="{action_url(ada, "resume")}?"' not in html
    assert f'action="{action_url(bob, "resume")}?"' in html
    assert f'action="{action_url(bob, "stop")}?"' in html


@pytest.mark.django_db
def test_enrollment_list_is_read_only_for_managers(client_for, three):
    response = client_for("Manager").get(LIST)

    assert response.status_code == 200
    assert "Ada Lovelace" in response.text
    assert "/pause/" not in response.text
    assert "Stop…" not in response.text


@pytest.mark.django_db
def test_enrollment_list_refuses_finance(client_for):
    assert client_for("Finance").get(LIST).status_code == 403


@pytest.mark.django_db
def test_enrollment_list_sends_anonymous_to_login(client):
    response = client.get(LIST)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_enrollment_list_refuses_post(sales_client):
    assert sales_client.post(LIST).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [1, 5])
def test_enrollment_list_query_count_does_not_grow_with_rows(
    sales_client, sales_user, enroll, django_assert_num_queries, rows
):
    for i in range(rows):
        enrollment = enroll(track="budget-timing" if i % 2 else "decision-maker-kit")
        Enrollment.objects.filter(pk=enrollment.pk).update(enrolled_by=sales_user)
    sales_client.get(LIST)  # warm the session/permission caches

    # session, user, 2× permissions, roles, track choices, counts per status, enrollment count, one page of
    # rows with lead, track, enrolling user and step numbers joined in
    with django_assert_num_queries(9):
        sales_client.get(LIST)


# Actions -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pause_without_javascript_redirects_back_to_the_list_as_it_was(sales_client, sales_user, enroll):
    enrollment = enroll(name="Ada Lovelace")

    response = sales_client.post(action_url(enrollment, "pause") + "?status=active&sort=lead")

    enrollment.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?status=active&sort=lead"
    assert enrollment.status == EnrollmentStatus.PAUSED
    assert enrollment.lead.events.get(verb="nurture_paused").actor == sales_user
    followed = sales_client.get(response["Location"])
    assert "Ada Lovelace is paused in “Budget and timing: ready when you are”." in followed.text


@pytest.mark.django_db
def test_pause_with_htmx_rerenders_the_table_with_the_message_and_an_event(sales_client, enroll):
    enrollment = enroll(name="Ada Lovelace")

    response = sales_client.post(action_url(enrollment, "pause") + "?sort=lead", headers=hx(TABLE))

    html = response.text
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="enrollment-table-region"')
    assert f'action="{action_url(enrollment, "resume")}?sort=lead"' in html  # the row shows its new state
    assert '<div id="messages" hx-swap-oob="true"' in html
    assert "Ada Lovelace is paused" in html
    assert response["HX-Trigger"] == '{"enrollmentChanged": {}}'
    assert '<nav class="navbar' not in html


@pytest.mark.django_db
def test_resume_carries_on_with_the_time_left(sales_client, enroll):
    enrollment = enroll(name="Ada Lovelace")
    Enrollment.objects.filter(pk=enrollment.pk).update(
        status=EnrollmentStatus.PAUSED, paused_at=timezone.now() - timedelta(days=2)
    )

    response = sales_client.post(action_url(enrollment, "resume"))

    before = enrollment.next_run_at
    enrollment.refresh_from_db()
    assert response.status_code == 302
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert enrollment.next_run_at - before >= timedelta(days=2)


@pytest.mark.django_db
def test_stop_with_a_reason_ends_it_and_returns_the_lead_to_triage(sales_client, enroll):
    enrollment = enroll(name="Ada Lovelace")

    response = sales_client.post(action_url(enrollment, "stop"), {"reason": "Bought elsewhere"})

    enrollment.refresh_from_db()
    assert response.status_code == 302
    assert (enrollment.status, enrollment.end_reason) == (EnrollmentStatus.STOPPED, "Bought elsewhere")
    assert enrollment.lead.status == LeadStatus.DISQUALIFIED  # its ICP band: back in the triage queue
    assert enrollment.lead.events.get(verb="nurture_stopped").data["reason"] == "Bought elsewhere"


@pytest.mark.django_db
def test_stop_returns_a_lead_enrolled_from_needs_review_to_review(sales_client, enroll):
    enrollment = enroll(status="needs_review")

    response = sales_client.post(action_url(enrollment, "stop"), {"reason": "Bought elsewhere"})

    enrollment.refresh_from_db()
    assert response.status_code == 302
    assert enrollment.lead.status == LeadStatus.NEEDS_REVIEW


@pytest.mark.django_db
def test_stop_requires_a_reason(sales_client, enroll):
    enrollment = enroll(name="Ada Lovelace")

    response = sales_client.post(action_url(enrollment, "stop"), {"reason": "  "})

    enrollment.refresh_from_db()
    assert response.status_code == 422
    assert "Say why the enrollment is stopped." in response.text
    assert '<nav class="navbar' in response.text  # without JavaScript: the whole page, with the message
    assert enrollment.status == EnrollmentStatus.ACTIVE


@pytest.mark.django_db
def test_stop_without_a_reason_with_htmx_is_422_with_the_table_and_message(sales_client, enroll):
    enrollment = enroll(name="Ada Lovelace")

    response = sales_client.post(action_url(enrollment, "stop"), headers=hx(TABLE))

    assert response.status_code == 422
    assert response.text.lstrip().startswith('<div id="enrollment-table-region"')
    assert "Say why the enrollment is stopped." in response.text
    assert "HX-Trigger" not in response
    assert Enrollment.objects.get().status == EnrollmentStatus.ACTIVE


@pytest.mark.django_db
def test_resume_of_an_active_enrollment_is_refused_with_422(sales_client, enroll):
    enrollment = enroll()

    response = sales_client.post(action_url(enrollment, "resume"))

    assert response.status_code == 422
    assert "Only a paused enrollment can be resumed; this one is active." in response.text


@pytest.mark.django_db
def test_enrollment_action_of_missing_enrollment_or_unknown_action_is_404(sales_client, enroll):
    enrollment = enroll()

    assert sales_client.post(reverse("nurture:enrollment_action", args=[999999, "pause"])).status_code == 404
    assert sales_client.post(action_url(enrollment, "delete")).status_code == 404
    assert Enrollment.objects.get().status == EnrollmentStatus.ACTIVE


@pytest.mark.django_db
def test_enrollment_action_refuses_get(sales_client, enroll):
    assert sales_client.get(action_url(enroll(), "pause")).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["Finance", "Manager"])
def test_enrollment_action_refuses_roles_without_change_enrollment(client_for, enroll, role):
    enrollment = enroll()

    response = client_for(role).post(action_url(enrollment, "pause"))

    assert response.status_code == 403
    assert Enrollment.objects.get().status == EnrollmentStatus.ACTIVE
