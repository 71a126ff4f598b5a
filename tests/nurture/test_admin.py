"""The nurture admin compiles email templates on save: a syntax error is shown on its field, with the line."""

import pytest
from django.urls import reverse

from leads.models import DisqualificationReason
from nurture.admin_forms import template_problem
from nurture.models import HelpfulReply, Step, Track
from tests.conftest import make_user


@pytest.fixture
def admin_client(client, db):
    client.force_login(make_user("Admin"))
    return client


@pytest.fixture
def reason(db):
    return DisqualificationReason.objects.create(code="budget", label="Budget")


def reply_post(reason, **data) -> dict:
    return {"reason": reason.pk, "title": "Budget: free resources", "subject": "Hello {{ lead.name }}",
            "body": "Dear {{ lead.name }},\nhere is what helps.", "active": "on", "position": 0, **data}  # fmt: skip


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"body": "Dear {{ lead.name }},\n{% if lead.company %}\nat {{ lead.company }}"},
            "body",
            "Template error: Unclosed tag on line 2: 'if'. Looking for one of: elif, else, endif.",
        ),
        (
            {"body": "Hello\n\n{{ lead.name|shout }}"},
            "body",
            "Template error on line 3: Invalid filter: 'shout'",
        ),
        (
            {"subject": "Hi {{ lead.name! }}"},
            "subject",
            "Template error on line 1: Could not parse the remainder: '!' from 'lead.name!'",
        ),
        (
            {"body": "{% load nowhere %}Hi"},
            "body",
            "Template error on line 1: 'nowhere' is not a registered tag library.",
        ),
    ],
)
def test_reply_admin_refuses_a_template_with_a_syntax_error_on_its_field(admin_client, reason, data, field, message):
    response = admin_client.post(reverse("admin:nurture_helpfulreply_add"), reply_post(reason, **data))

    assert response.context["adminform"].form.errors == {field: [message]}
    assert not HelpfulReply.objects.exists()


def test_reply_admin_refuses_a_bad_change_to_a_stored_reply(admin_client, reason):
    reply = HelpfulReply.objects.create(reason=reason, title="Budget", subject="Hi", body="Hello {{ lead.name }}")

    response = admin_client.post(
        reverse("admin:nurture_helpfulreply_change", args=[reply.pk]), reply_post(reason, body="{% for x in %}")
    )

    assert response.context["adminform"].form.errors == {
        "body": ["Template error on line 1: 'for' statements should have at least four words: for x in"]
    }
    reply.refresh_from_db()
    assert reply.body == "Hello {{ lead.name }}"


def test_reply_admin_saves_a_template_with_unknown_variables(admin_client, reason):
    body = "Dear {{ lead.nickname }},\n{% if lead.favourite_colour %}Nice.{% endif %}"

    response = admin_client.post(reverse("admin:nurture_helpfulreply_add"), reply_post(reason, body=body))

    assert response.status_code == 302
    assert HelpfulReply.objects.get().body == body


def track_post(*steps: dict) -> dict:
    data = {"name": "Budget later", "slug": "budget-later", "description": "", "active": "on",
            "steps-TOTAL_FORMS": len(steps), "steps-INITIAL_FORMS": 0, "steps-MIN_NUM_FORMS": 0,
            "steps-MAX_NUM_FORMS": 1000}  # fmt: skip
    for i, step in enumerate(steps):
        row = {"position": i + 1, "kind": "email", "delay_hours": 0, "subject": "Hi", "body": "Hello", **step}
        data.update({f"steps-{i}-{key}": value for key, value in row.items()})
    return data


def step_errors(response) -> list[dict]:
    return [form.errors for form in response.context["inline_admin_formsets"][0].formset.forms]


def test_track_admin_refuses_an_email_step_with_a_syntax_error_on_its_field(admin_client):
    response = admin_client.post(
        reverse("admin:nurture_track_add"),
        track_post({"subject": "Still thinking, {{ lead.name }}?"}, {"body": "Hello\n{% endif %}"}),
    )

    assert step_errors(response) == [
        {},
        {
            "body": [
                "Template error: Invalid block tag on line 2: 'endif'. Did you forget to register or load this tag?"
            ]
        },
    ]
    assert not Track.objects.exists()


def test_track_admin_refuses_an_email_step_without_a_subject_or_body(admin_client):
    response = admin_client.post(reverse("admin:nurture_track_add"), track_post({"subject": "", "body": " "}))

    assert step_errors(response) == [{"subject": ["An email step needs one."], "body": ["An email step needs one."]}]


def test_track_admin_keeps_a_task_step_body_as_plain_text(admin_client):
    response = admin_client.post(
        reverse("admin:nurture_track_add"), track_post({"kind": "task", "subject": "", "body": "Call them {% soon"})
    )

    assert response.status_code == 302
    assert Step.objects.get().body == "Call them {% soon"


def test_template_problem_is_empty_for_a_sound_template():
    assert template_problem("Hi {{ lead.name|default:'there' }}\n{% if lead.company %}x{% endif %}") == ""
