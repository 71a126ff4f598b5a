"""The one error type and the one htmx helper module every page uses: the fragment a request asks for, a region
with the messages out of band, the redirect after an action, a refusal on the form's fields, the list page."""

import json

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from common import htmx
from common.errors import ServiceError
from config.api import service_errors
from leads.services import ICPError, LeadDataError
from nurture.services import NurtureError
from outbox.services import OutboxError
from partners.services import FeeAgreementError, LedgerError, ReferralError
from triage.services import TriageConflict, TriageError


def request_for(*, target: str | None = None, method: str = "get"):
    headers = {"HX-Request": "true", "HX-Target": target} if target is not None else {}
    request = getattr(RequestFactory(), method)("/somewhere/", headers=headers)
    request.htmx = HtmxDetails(request)
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


class ExampleForm(forms.Form):
    subject = forms.CharField()
    body = forms.CharField(required=False)


def test_every_service_error_is_a_service_error_with_its_status():
    classes = [LeadDataError, ICPError, NurtureError, OutboxError, ReferralError, FeeAgreementError, LedgerError]

    assert all(issubclass(cls, ServiceError) for cls in [*classes, TriageError, TriageConflict])
    assert (ServiceError.status, TriageConflict.status) == (422, 409)


def test_service_error_builds_its_sentence_from_the_field_errors_when_it_has_none():
    exc = LeadDataError({"email": ["Enter a valid email address."], "budget": ["Too large.", "Not a number."]})

    assert str(exc) == "email: Enter a valid email address.; budget: Too large., Not a number."
    assert exc.errors == {"email": ["Enter a valid email address."], "budget": ["Too large.", "Not a number."]}


@pytest.mark.parametrize(
    ("target", "template"),
    [(None, "app/page.html"), ("app-table", "app/page.html#table"), ("elsewhere", "app/page.html")],
)
def test_fragment_is_the_partial_only_for_the_region_htmx_targets(target, template):
    assert htmx.fragment(request_for(target=target), "app/page.html", {"app-table": "table"}) == template


def test_go_is_a_client_redirect_for_htmx_and_a_302_otherwise():
    from_htmx = htmx.go(request_for(target="panel", method="post"), "/next/")
    plain = htmx.go(request_for(method="post"), "/next/")

    assert (from_htmx.status_code, from_htmx["HX-Redirect"]) == (200, "/next/")
    assert (plain.status_code, plain["Location"]) == (302, "/next/")


@pytest.mark.django_db
def test_region_appends_the_messages_out_of_band(rf):
    request = request_for(target="panel", method="post")
    htmx.refuse(request, ServiceError("Not now."))

    response = htmx.region(request, "base.html#messages", {}, status=422)

    html = response.content.decode()
    assert response.status_code == 422
    assert html.count('id="messages" hx-swap-oob="true"') == 2  # the region itself here, then the messages
    assert "Not now." in html


def test_refuse_says_why_and_puts_the_field_errors_on_the_form_once():
    request = request_for(method="post")
    form = ExampleForm({"subject": "", "body": "x"})
    form.is_valid()

    status = htmx.refuse(request, htmx.form_refusal(form), form)
    again = htmx.refuse(
        request, ServiceError("Busy.", {"subject": ["This field is required."], "nope": ["Odd."]}), form
    )

    assert (status, again) == (422, 422)
    assert form.errors == {"subject": ["This field is required."], "__all__": ["Odd."]}
    assert [str(m) for m in get_messages(request)] == ["Subject: This field is required.", "Busy."]


def test_a_refusal_without_field_errors_goes_above_the_form():
    form = ExampleForm({"subject": "Hi"})
    form.is_valid()

    htmx.add_service_errors(form, TriageConflict("Olive got there first."))

    assert form.non_field_errors() == ["Olive got there first."]


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (
            LeadDataError({"email": ["Enter a valid email address."]}),
            422,
            {"detail": "Validation failed", "errors": {"email": ["Enter a valid email address."]}},
        ),
        (
            NurtureError("This lead is already in a nurture track."),
            422,
            {"detail": "This lead is already in a nurture track.", "errors": {}},
        ),
        (TriageConflict("Olive got there first."), 409, {"detail": "Olive got there first.", "errors": {}}),
    ],
)
def test_the_api_answers_a_service_refusal_with_its_status_and_errors(exc, status, body):
    response = service_errors(RequestFactory().post("/api/v1/leads"), exc)

    assert response.status_code == status
    assert json.loads(response.content) == body
