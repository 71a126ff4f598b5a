"""The tracks page (steps, reasons, counts) and the tasks page with its "done" action."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from nurture.models import Enrollment, EnrollmentStatus, NurtureTask, Step, Track
from nurture.task_services import nurture_task_done
from tests.factories import UserFactory
from tests.nurture.views.conftest import hx

TRACKS = reverse("nurture:tracks")
TASKS = reverse("nurture:tasks")


def section(html: str, slug: str) -> str:
    """The card of one track on the tracks page."""
    start = html.index(f'id="track-{slug}"')
    return html[start : html.index("</section>", start)]


# Tracks --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_track_list_shows_reasons_steps_in_order_and_counts(client_for, enroll):
    live = enroll()
    requalified = enroll()
    Enrollment.objects.filter(pk=requalified.pk).update(status=EnrollmentStatus.REQUALIFIED)
    enroll(track="beginner-path")

    response = client_for("Manager").get(TRACKS)

    html = response.text
    assert response.status_code == 200
    assert '<nav class="navbar' in html
    budget = section(html, "budget-timing")
    assert "Budget too small" in budget
    assert "Not ready yet" in budget
    steps = [
        "<td>1</td><td>Email the lead</td><td>at once</td><td>Planning ahead, there?</td>",
        "<td>2</td><td>Email the lead</td><td>14 days later</td><td>Ways to spread the cost</td>",
        "<td>3</td><td>Re-check against the ICP</td><td>30 days later</td><td>—</td>",
        "<td>4</td><td>Email the lead</td><td>45 days later</td><td>Still thinking about it?</td>",
    ]
    positions = [budget.index(step) for step in steps]
    assert positions == sorted(positions)
    assert f'data-testid="live"><a href="{reverse("nurture:enrollments")}?track={live.track_id}">1</a>' in budget
    assert 'data-testid="requalified">1 of 2 ever enrolled' in budget
    beginner = section(html, "beginner-path")
    assert "<td>2</td><td>Task for the owner</td><td>7 days later</td><td>Check in on their foundations progress" in (
        beginner
    )


@pytest.mark.django_db
def test_track_list_marks_inactive_tracks_and_tracks_without_steps(sales_client, db):
    Track.objects.create(name="Retired", slug="retired", active=False)

    html = sales_client.get(TRACKS).text

    assert "inactive: takes no new leads" in html
    assert "No steps yet: the track cannot take leads." in html


@pytest.mark.django_db
def test_track_list_says_hours_when_a_delay_is_not_whole_days(sales_client, db):
    track = Track.objects.create(name="Quick", slug="quick")
    Step.objects.create(track=track, position=1, kind="task", delay_hours=6, body="Call them\nBefore lunch.")
    Step.objects.create(track=track, position=2, kind="requalify", delay_hours=30)

    html = sales_client.get(TRACKS).text

    assert "<td>Task for the owner</td><td>6 h after enrolling</td><td>Call them</td>" in html
    assert "<td>Re-check against the ICP</td><td>1 day 6 h later</td>" in html


@pytest.mark.django_db
def test_track_list_refuses_finance(client_for, db):
    assert client_for("Finance").get(TRACKS).status_code == 403


@pytest.mark.django_db
def test_track_list_sends_anonymous_to_login(client, db):
    assert client.get(TRACKS)["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_track_list_refuses_post(sales_client):
    assert sales_client.post(TRACKS).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [1, 5])
def test_track_list_query_count_does_not_grow_with_tracks(
    sales_client, reasons, django_assert_num_queries, enroll, rows
):
    for n in range(rows):
        track = Track.objects.create(name=f"Track {n}", slug=f"track-{n}")
        track.reasons.set([reasons["budget"], reasons["timing"]])
        Step.objects.create(track=track, position=1, kind="email", subject="Hello {{ lead.name }}", body="Hi")
        Step.objects.create(track=track, position=2, kind="task", delay_hours=48, body="Call")
        enroll(track="budget-timing")
    sales_client.get(TRACKS)  # warm the session/permission caches

    # session, user, 2× permissions, roles, tracks with their counts (one grouped query), reasons, steps
    with django_assert_num_queries(8):
        sales_client.get(TRACKS)


# Tasks ---------------------------------------------------------------------------------------------------


@pytest.fixture
def make_task(enroll):
    """An open task on a new enrollment, for `assigned_to` (None: the team's), due in `due_in` hours."""

    def make(title: str, *, assigned_to=None, due_in: int = 24, **lead_fields) -> NurtureTask:
        enrollment = enroll(track="beginner-path", **lead_fields)
        return NurtureTask.objects.create(
            enrollment=enrollment,
            lead=enrollment.lead,
            assigned_to=assigned_to,
            title=title,
            details=f"{title}\nAsk which module they reached.",
            due_at=timezone.now() + timedelta(hours=due_in),
        )

    return make


def titles(response) -> list[str]:
    return [row.record.title for row in response.context["table"].page.object_list]


@pytest.mark.django_db
def test_task_list_shows_my_open_tasks_by_default(sales_client, sales_user, make_task):
    olive = UserFactory(username="olive", role="Sales Ops")
    mine = make_task("Call Ada", assigned_to=sales_user, due_in=-2, name="Ada Lovelace")
    make_task("Call Olive's lead", assigned_to=olive)
    make_task("Team task")
    done = make_task("Done already", assigned_to=sales_user)
    nurture_task_done(task=done)

    response = sales_client.get(TASKS)

    html = response.text
    assert response.status_code == 200
    assert '<nav class="navbar' in html
    assert titles(response) == ["Call Ada"]
    assert f'<a href="{reverse("leads:detail", args=[mine.lead_id])}">Ada Lovelace</a>' in html
    assert "(overdue)" in html
    assert "Ask which module they reached." in html
    assert "Beginner path: prerequisites first" in html
    assert f'action="{reverse("nurture:task_done", args=[mine.pk])}?"' in html
    assert '<option value="mine" selected>' in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "expected"),
    [("all", ["Soonest", "Mine", "Team task"]), ("unassigned", ["Team task"]), ("mine", ["Mine"])],
)
def test_task_list_filters_by_whose(sales_client, sales_user, make_task, who, expected):
    make_task("Mine", assigned_to=sales_user, due_in=5)
    make_task("Soonest", assigned_to=UserFactory(username="olive", role="Sales Ops"), due_in=1)
    make_task("Team task", due_in=9)

    response = sales_client.get(TASKS, {"who": who})

    assert titles(response) == expected


@pytest.mark.django_db
def test_task_list_htmx_table_request_returns_only_the_table(sales_client, sales_user, make_task):
    make_task("Call Ada", assigned_to=sales_user)

    response = sales_client.get(TASKS, {"who": "all"}, headers=hx("task-table-region"))

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="task-table-region"')
    assert "Call Ada" in response.text
    assert '<nav class="navbar' not in response.text


@pytest.mark.django_db
def test_task_list_is_read_only_for_managers(client_for, make_task):
    make_task("Team task")

    response = client_for("Manager").get(TASKS, {"who": "all"})

    assert response.status_code == 200
    assert "Team task" in response.text
    assert "/done/" not in response.text


@pytest.mark.django_db
def test_task_list_refuses_finance(client_for, db):
    assert client_for("Finance").get(TASKS).status_code == 403


@pytest.mark.django_db
def test_task_list_refuses_post(sales_client):
    assert sales_client.post(TASKS).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [1, 5])
def test_task_list_query_count_does_not_grow_with_rows(
    sales_client, sales_user, make_task, django_assert_num_queries, rows
):
    for n in range(rows):
        make_task(f"Task {n}", assigned_to=sales_user if n % 2 == 0 else None)
    sales_client.get(TASKS)  # warm the session/permission caches

    # session, user, 2× permissions, roles, task count, one page of tasks with lead, track and assignee
    with django_assert_num_queries(7):
        sales_client.get(TASKS, {"who": "all"})


@pytest.mark.django_db
def test_task_done_without_javascript_marks_it_done_and_goes_back(sales_client, sales_user, make_task):
    task = make_task("Call Ada", assigned_to=sales_user, name="Ada Lovelace")

    response = sales_client.post(reverse("nurture:task_done", args=[task.pk]) + "?who=all")

    task.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == f"{TASKS}?who=all"
    assert task.done_at is not None
    event = task.lead.events.get(verb="nurture_task_done")
    assert (event.actor, event.data) == (
        sales_user,
        {"task": "Call Ada", "track": "Beginner path: prerequisites first"},
    )
    assert "Done: “Call Ada” for Ada Lovelace." in sales_client.get(response["Location"]).text


@pytest.mark.django_db
def test_task_done_with_htmx_rerenders_the_table_with_the_message(sales_client, sales_user, make_task):
    task = make_task("Call Ada", assigned_to=sales_user)
    other = make_task("Call Bob", assigned_to=sales_user)

    response = sales_client.post(reverse("nurture:task_done", args=[task.pk]), headers=hx("task-table-region"))

    html = response.text
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="task-table-region"')
    assert f'id="task-row-{task.pk}"' not in html
    assert f'id="task-row-{other.pk}"' in html
    assert '<div id="messages" hx-swap-oob="true"' in html
    assert "Done: “Call Ada”" in html
    assert response["HX-Trigger"] == '{"taskDone": {}}'


@pytest.mark.django_db
def test_task_done_twice_is_refused_with_422(sales_client, make_task):
    task = make_task("Call Ada")
    nurture_task_done(task=task)

    response = sales_client.post(reverse("nurture:task_done", args=[task.pk]))

    assert response.status_code == 422
    assert "“Call Ada” was already done" in response.text
    assert task.lead.events.filter(verb="nurture_task_done").count() == 1


@pytest.mark.django_db
def test_task_done_of_missing_task_is_404(sales_client):
    assert sales_client.post(reverse("nurture:task_done", args=[999999])).status_code == 404


@pytest.mark.django_db
def test_task_done_refuses_get(sales_client, make_task):
    assert sales_client.get(reverse("nurture:task_done", args=[make_task("Call").pk])).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["Finance", "Manager"])
def test_task_done_refuses_roles_without_change_nurturetask(client_for, make_task, role):
    task = make_task("Call Ada")

    response = client_for(role).post(reverse("nurture:task_done", args=[task.pk]))

    task.refresh_from_db()
    assert response.status_code == 403
    assert task.done_at is None
