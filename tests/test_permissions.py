"""Every URL pattern × every role: anonymous goes to login, each role gets exactly what DESIGN.md gives it.

A new URL that is not listed here fails `test_every_url_pattern_is_in_the_matrix`, so nobody can add
a page without deciding who may use it.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from config.health import BEAT_NAME, heartbeat_record
from config.models import HeartbeatKind
from nurture.models import Enrollment, Track
from nurture.services import unsubscribe_token
from outbox.models import OutboundMessage
from outbox.services import message_queue
from partners import services as partner_services
from partners.links import referral_token
from tests.conftest import ROLES, make_user
from tests.factories import (
    ConsentingLeadFactory,
    FeeAgreementFactory,
    ICPVersionFactory,
    ImportJobFactory,
    LeadFactory,
    PartnerFactory,
)
from tests.factories.finance import PaymentFactory
from tests.factories.statements import line as statement_line
from tests.factories.statements import reconciled_statement

SALES, FINANCE, MANAGER, ADMIN = "Sales Ops", "Finance", "Manager", "Admin"

# url name -> roles that get 200 on GET
MATRIX = {
    "home": {SALES, FINANCE, MANAGER, ADMIN},
    "leads:list": {SALES, MANAGER, ADMIN},
    "leads:detail": {SALES, MANAGER, ADMIN},
    "leads:edit": {SALES, ADMIN},
    "leads:icp_list": {SALES, MANAGER, ADMIN},
    "leads:icp_version": {SALES, MANAGER, ADMIN},
    "leads:import_upload": {SALES, ADMIN},
    "leads:import_job": {SALES, ADMIN},
    "leads:import_progress": {SALES, ADMIN},
    "leads:import_errors": {SALES, ADMIN},
    "partners:list": {SALES, FINANCE, MANAGER, ADMIN},
    "partners:detail": {SALES, FINANCE, MANAGER, ADMIN},
    "partners:agreement_create": {FINANCE, ADMIN},
    "partners:agreement_edit": {FINANCE, ADMIN},
    "partners:referral_list": {SALES, FINANCE, MANAGER, ADMIN},
    "partners:referral": {SALES, FINANCE, MANAGER, ADMIN},
    "partners:lead_matches": {SALES, ADMIN},
    "nurture:enrollments": {SALES, MANAGER, ADMIN},
    "nurture:tracks": {SALES, MANAGER, ADMIN},
    "nurture:tasks": {SALES, MANAGER, ADMIN},
    "nurture:lead_enroll": {SALES, ADMIN},
    "nurture:lead_reply": {SALES, ADMIN},
    "triage:queue": {SALES, ADMIN},
    "triage:counts": {SALES, ADMIN},
    "triage:panel": {SALES, ADMIN},
    "finance:overview": {FINANCE, MANAGER, ADMIN},
    "finance:ledger": {FINANCE, MANAGER, ADMIN},
    "finance:accrual": {FINANCE, MANAGER, ADMIN},
    "finance:account": {FINANCE, MANAGER, ADMIN},
    "finance:account_csv": {FINANCE, MANAGER, ADMIN},
    "finance:account_xlsx": {FINANCE, MANAGER, ADMIN},
    "finance:payments": {FINANCE, MANAGER, ADMIN},
    "finance:payment_create": {FINANCE, ADMIN},
    "finance:payment": {FINANCE, MANAGER, ADMIN},
    "finance:periods": {FINANCE, MANAGER, ADMIN},
    "finance:journal": {FINANCE, MANAGER, ADMIN},
    "finance:journal_csv": {FINANCE, MANAGER, ADMIN},
    "finance:journal_xlsx": {FINANCE, MANAGER, ADMIN},
    "finance:audit": {FINANCE, MANAGER, ADMIN},
    "finance:statements": {FINANCE, MANAGER, ADMIN},
    "finance:statement_upload": {FINANCE, ADMIN},
    "finance:statement": {FINANCE, MANAGER, ADMIN},
    "finance:reconcile_item": {FINANCE, MANAGER, ADMIN},
    "finance:statement_settings": {FINANCE, MANAGER, ADMIN},
}
# Pages open to everyone, and why.
PUBLIC = {
    "login": "the way in",
    "healthz": "load balancers and monitors; shows only up/down",
    "favicon": "the site's icon, which browsers fetch before anyone logs in",
    "partner_link": "a partner answers a referral without an account; the signed token is the credential",
    "unsubscribe": "a lead stops our emails without an account; the signed token names the lead",
}
# url name -> roles allowed to POST (others 403, anonymous to login)
POST_ONLY = {
    "logout": None,
    "leads:icp_publish": {MANAGER, ADMIN},
    "leads:import_start": {SALES, ADMIN},
    "leads:import_rerun": {SALES, ADMIN},
    "partners:referral_outcome": {SALES, ADMIN},
    "nurture:enrollment_action": {SALES, ADMIN},
    "nurture:task_done": {SALES, ADMIN},
    "outbox:message_action": {SALES, ADMIN},
    "triage:bulk": {SALES, ADMIN},
    "triage:refer": {SALES, ADMIN},
    "triage:enroll": {SALES, ADMIN},
    "triage:reply": {SALES, ADMIN},
    "triage:close": {SALES, ADMIN},
    "triage:override": {SALES, ADMIN},
    "triage:assign": {SALES, ADMIN},
    "partners:referral_reverse": {FINANCE, ADMIN},
    "partners:referral_send": {SALES, ADMIN},
    "partners:referral_deal_value": {FINANCE, ADMIN},
    "finance:accrual_adjust": {FINANCE, ADMIN},
    "finance:accrual_write_off": {FINANCE, ADMIN},
    "finance:payment_allocate": {FINANCE, ADMIN},
    "finance:payment_allocate_auto": {FINANCE, ADMIN},
    "finance:payment_bounce": {FINANCE, ADMIN},
    "finance:period_lock": {FINANCE, ADMIN},
    "finance:statement_pay": {FINANCE, ADMIN},
    "finance:reconcile_resolve": {FINANCE, ADMIN},
}


def url_names(patterns=None, namespace=""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in ("admin", "api"):
                continue  # admin checks is_staff itself; the API authenticates by key (tests/leads/api/)
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from url_names(pattern.url_patterns, ns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}"


def _referral():
    return partner_services.referral_send(
        lead=ConsentingLeadFactory(), partner=FeeAgreementFactory().partner, mode="introduce"
    )


def _statement():
    """A reconciled statement with one line no referral matches."""
    return reconciled_statement(PartnerFactory(), [statement_line("PT-NOPE2345", "5.00", day=timezone.localdate())])


def _fee():
    return partner_services.referral_accept(referral=_referral()).accruals.get()


def url_for(name: str) -> str:
    kwargs = {}
    if name == "unsubscribe":
        kwargs = {"token": unsubscribe_token(LeadFactory().pk)}
    elif name == "partner_link":
        kwargs = {"token": referral_token(_referral())}
    elif name == "healthz":  # 200 needs a fresh worker and beat (config/health.py)
        heartbeat_record(name="worker1@matrix", kind=HeartbeatKind.WORKER)
        heartbeat_record(name=BEAT_NAME, kind=HeartbeatKind.BEAT)
    elif name in ("leads:detail", "leads:edit"):
        kwargs = {"pk": LeadFactory().pk}
    elif name in ("leads:icp_version", "leads:icp_publish"):
        kwargs = {"pk": ICPVersionFactory().pk}
    elif name.startswith("leads:import_") and name != "leads:import_upload":
        kwargs = {"pk": ImportJobFactory().pk}
    elif name in ("partners:detail", "partners:agreement_create"):
        kwargs = {"pk": PartnerFactory().pk}
    elif name == "partners:agreement_edit":
        kwargs = {"pk": FeeAgreementFactory().pk}
    elif name in ("finance:accrual", "finance:accrual_adjust", "finance:accrual_write_off"):
        kwargs = {"pk": _fee().pk}
    elif name in ("finance:account", "finance:account_csv", "finance:account_xlsx"):
        kwargs = {"pk": PartnerFactory().pk}
    elif name in ("finance:statement", "finance:statement_pay"):
        kwargs = {"pk": _statement().pk}
    elif name in ("finance:reconcile_item", "finance:reconcile_resolve"):
        kwargs = {"pk": _statement().items.get().pk}
    elif name == "finance:statement_settings":
        kwargs = {"pk": PartnerFactory().pk}
    elif name.startswith("finance:payment") and name not in ("finance:payments", "finance:payment_create"):
        kwargs = {"pk": PaymentFactory().pk}
    elif name in (
        "partners:referral",
        "partners:referral_outcome",
        "partners:referral_reverse",
        "partners:referral_deal_value",
    ):
        kwargs = {"pk": _referral().pk}
    elif name in ("partners:lead_matches", "partners:referral_send"):
        kwargs = {"lead_pk": ConsentingLeadFactory().pk}
    elif name == "nurture:enrollment_action":
        kwargs = {"pk": _enrollment().pk, "action": "pause"}
    elif name == "nurture:task_done":
        enrollment = _enrollment()
        kwargs = {"pk": enrollment.tasks.create(lead=enrollment.lead, title="Call", due_at=timezone.now()).pk}
    elif name == "outbox:message_action":
        kwargs = {"pk": _held_message().pk, "action": "resend"}
    elif name in ("nurture:lead_enroll", "nurture:lead_reply"):
        kwargs = {"lead_pk": LeadFactory().pk}
    elif name.startswith("triage:") and name not in ("triage:queue", "triage:counts", "triage:bulk"):
        kwargs = {"pk": ConsentingLeadFactory().pk}
    return reverse(name, kwargs=kwargs)


def _held_message():
    message = message_queue(key="matrix", kind="test", to_email="held@example.com", subject="Hi", body="Hi")
    OutboundMessage.objects.filter(pk=message.pk).update(status="unknown")
    return message


def _enrollment():
    track = Track.objects.create(name="Matrix track", slug="matrix-track")
    return Enrollment.objects.create(lead=LeadFactory(), track=track, started_at=timezone.now())


def assert_access(response, user, *, allowed: bool, ok: tuple[int, ...]) -> None:
    """Anonymous -> the login page; a permitted role -> one of `ok`; anyone else -> 403."""
    if user is None:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    elif allowed:
        assert response.status_code in ok
    else:
        assert response.status_code == 403


def test_every_url_pattern_is_in_the_matrix():
    assert set(url_names()) == set(MATRIX) | set(PUBLIC) | set(POST_ONLY)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_url_access_matches_role(client, name, role):
    url = url_for(name)
    user = make_user(role)
    if user:
        client.force_login(user)

    response = client.get(url)

    assert_access(response, user, allowed=role in MATRIX[name], ok=(200,))


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_admin_is_for_admins_only(client, role):
    user = make_user(role)
    if user:
        client.force_login(user)

    response = client.get(reverse("admin:index"))

    if role == ADMIN:
        assert response.status_code == 200
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_urls_answer_anonymous(client, name):
    response = client.get(url_for(name))

    assert response.status_code == 200


@pytest.mark.django_db
def test_logout_refuses_get(client, sales_user):
    client.force_login(sales_user)

    response = client.get(reverse("logout"))

    assert response.status_code == 405


@pytest.mark.django_db
def test_htmx_request_after_session_end_redirects_whole_page(client):
    response = client.get(reverse("leads:list"), headers={"HX-Request": "true", "HX-Target": "lead-table-region"})

    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(name for name, roles in POST_ONLY.items() if roles))
def test_post_access_matches_role(client, name, role):
    url = url_for(name)
    user = make_user(role)
    if user:
        client.force_login(user)

    response = client.post(url)

    # A permitted role posting an empty form gets the page back with what is missing (422) or a redirect.
    assert_access(response, user, allowed=role in POST_ONLY[name], ok=(200, 302, 422))
    assert client.get(url).status_code in (302, 403, 405)
