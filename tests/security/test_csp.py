"""Content-Security-Policy on every response (Django's own middleware and SECURE_CSP): the header on a sample of
pages per role, the login page, the admin, the API docs and the error pages, with a nonce that every script tag
carries; no inline event handler, style attribute or un-nonced inline script or style anywhere; the API docs load
nothing from another origin; the favicon exists."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.urls import path, reverse

import config.urls
from nurture.services import unsubscribe_token
from partners.links import referral_token
from partners.services import referral_send
from tests.conftest import make_user
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory, ImportJobFactory, LeadFactory

SALES, FINANCE, MANAGER, ADMIN = "Sales Ops", "Finance", "Manager", "Admin"
DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self' 'nonce-{nonce}'",
    "style-src": "'self' 'nonce-{nonce}'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
}
INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)
SCRIPT_OR_STYLE_TAG = re.compile(r"<(script|style)\b([^>]*)>", re.IGNORECASE)


def boom(request):
    raise RuntimeError("a bug")


def forbidden(request):
    raise PermissionDenied


# This module is also a URLconf (`@pytest.mark.urls`): the project's URLs plus two that fail on purpose.
urlpatterns = [path("test-500/", boom), path("test-403/", forbidden), *config.urls.urlpatterns]


def policy(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def nonce_of(response) -> str:
    found = re.search(r"'nonce-([^']+)'", policy(response)["script-src"])
    return found.group(1) if found else ""


def assert_policy(response, where: str, *, nonced: bool = True) -> None:
    """The whole policy; for our own pages (`nonced`), a nonce in it that every <script>/<style> tag carries;
    anywhere, an inline <script>/<style> only with that nonce, and no inline handler or style attribute."""
    assert "Content-Security-Policy" in response.headers, where
    nonce = nonce_of(response)
    expected = {name: value.format(nonce=nonce) for name, value in DIRECTIVES.items()}
    if not nonce:  # a page that rendered no nonce: the directives without it
        expected = {name: value.replace(" 'nonce-{nonce}'", "") for name, value in DIRECTIVES.items()}
    assert policy(response) == expected, where
    html = response.content.decode()
    tags = SCRIPT_OR_STYLE_TAG.findall(html)
    for kind, attributes in tags:
        if kind.lower() == "script" and "application/json" in attributes:
            continue  # data, never run
        if nonced or kind.lower() == "style" or " src=" not in attributes:
            assert nonce, f"{where}: <{kind}{attributes}> but no nonce in the policy"
            assert f'nonce="{nonce}"' in attributes, f"{where}: <{kind}{attributes}> without the nonce"
    assert INLINE_HANDLER.findall(html) == [], f"{where}: inline event handler"
    assert STYLE_ATTRIBUTE.findall(html) == [], f"{where}: style attribute"


PAGES = {
    SALES: ["home", "leads:list", "lead", "triage:queue", "partners:list", "nurture:enrollments", "import_upload"],
    FINANCE: ["home", "partners:list", "partners:referral_list", "partner", "agreement"],
    MANAGER: ["home", "leads:list", "leads:icp_list", "nurture:tracks", "partners:referral_list"],
    ADMIN: ["home", "admin:index", "admin:leads_lead_changelist", "admin_lead", "admin_partner", "import_job"],
}


def page_url(name: str) -> str:
    match name:
        case "lead":
            return reverse("leads:detail", args=[LeadFactory().pk])
        case "partner":
            return reverse("partners:detail", args=[FeeAgreementFactory().partner.pk])
        case "agreement":
            return reverse("partners:agreement_edit", args=[FeeAgreementFactory().pk])
        case "import_upload":
            return reverse("leads:import_upload")
        case "import_job":
            return reverse("leads:import_job", args=[ImportJobFactory().pk])
        case "admin_lead":
            return reverse("admin:leads_lead_change", args=[LeadFactory().pk])
        case "admin_partner":
            return reverse("admin:partners_partner_change", args=[FeeAgreementFactory().partner.pk])
    return reverse(name)


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "name"), [(role, name) for role, names in PAGES.items() for name in names])
def test_pages_carry_the_policy_and_its_nonce(client, role, name):
    client.force_login(make_user(role))

    response = client.get(page_url(name))

    assert response.status_code == 200
    assert_policy(response, f"{name} as {role}")


@pytest.mark.django_db
def test_htmx_fragment_carries_the_policy(client):
    client.force_login(make_user(SALES))
    lead = ConsentingLeadFactory()

    response = client.get(reverse("triage:panel", args=[lead.pk]), headers={"HX-Request": "true", "HX-Target": "panel"})

    assert response.status_code == 200
    assert_policy(response, "triage panel fragment", nonced=False)


@pytest.mark.django_db
def test_login_page_carries_the_policy(client):
    response = client.get(reverse("login"))

    assert_policy(response, "login")


@pytest.mark.django_db
def test_partner_link_and_unsubscribe_pages_carry_the_policy(client):
    referral = referral_send(lead=ConsentingLeadFactory(), partner=FeeAgreementFactory().partner, mode="introduce")

    partner_page = client.get(reverse("partner_link", args=[referral_token(referral)]))
    unsubscribe = client.get(reverse("unsubscribe", args=[unsubscribe_token(referral.lead_id)]))

    assert_policy(partner_page, "partner link", nonced=False)  # its own layout: no script at all
    assert_policy(unsubscribe, "unsubscribe")


@pytest.mark.django_db
def test_api_docs_carry_the_policy_and_load_nothing_from_another_origin(client):
    response = client.get("/api/v1/docs")

    html = response.content.decode()
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert response.status_code == 200
    assert_policy(response, "API docs", nonced=False)  # django-ninja's page: scripts from /static/, none inline
    assert sorted(assets) == sorted(
        [
            "/static/ninja/swagger-ui.css",
            "/static/favicon.ico",
            "/static/favicon.svg",
            "/static/ninja/swagger-ui-bundle.js",
            "/static/ninja/swagger-ui-init.js",
        ]
    )
    assert all(finders.find(asset.removeprefix("/static/")) for asset in assets)
    assert '"validatorUrl": null' in html  # no badge image from validator.swagger.io


@pytest.mark.django_db
@pytest.mark.urls(__name__)
@pytest.mark.parametrize(("url", "status"), [("/no-such-page/", 404), ("/test-403/", 403), ("/test-500/", 500)])
def test_error_pages_carry_the_policy(client, url, status):
    client.raise_request_exception = False
    client.force_login(make_user(SALES))

    response = client.get(url)

    assert response.status_code == status
    assert_policy(response, f"error {status}", nonced=False)


@pytest.mark.django_db
def test_json_responses_carry_the_policy_too(client):
    response = client.get("/api/v1/openapi.json")

    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'; script-src 'self'; ")


@pytest.mark.django_db
def test_favicon_is_served_at_the_root_and_linked_from_every_layout(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] in ("image/vnd.microsoft.icon", "image/x-icon")  # as the system's types say
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file
    for layout in ("base.html", "partners/partner_link.html", "ninja/favicons.html"):
        text = (Path(settings.BASE_DIR) / "templates" / layout).read_text()
        assert "{% static 'favicon.ico' %}" in text, layout
        assert "{% static 'favicon.svg' %}" in text, layout


def _templates():
    return sorted((Path(settings.BASE_DIR) / "templates").rglob("*.html"))


def test_no_template_has_an_inline_event_handler():
    offenders = [
        f"{template.relative_to(settings.BASE_DIR)}:{number}: {line.strip()[:80]}"
        for template in _templates()
        for number, line in enumerate(template.read_text().splitlines(), 1)
        if re.search(r"\son[a-z]+=", line)
    ]

    assert offenders == []


def test_no_template_has_a_style_attribute_or_an_unnonced_inline_script_or_style():
    offenders = []
    for template in _templates():
        text = template.read_text()
        offenders += [f"{template.name}: style attribute" for _ in re.finditer(r"\sstyle=", text)]
        for kind, attributes in re.findall(r"<(script|style)\b([^>]*)>", text):
            if "src=" not in attributes and "csp_nonce" not in attributes and "application/json" not in attributes:
                offenders.append(f"{template.name}: <{kind}{attributes}>")

    assert offenders == []


def test_htmx_runs_without_eval_script_tags_or_injected_styles():
    config_js = (Path(settings.BASE_DIR) / "static" / "js" / "htmx-config.js").read_text()
    base = (Path(settings.BASE_DIR) / "templates" / "base.html").read_text()

    assert "htmx.config.allowEval = false;" in config_js
    assert "htmx.config.allowScriptTags = false;" in config_js
    assert "htmx.config.includeIndicatorStyles = false;" in config_js
    assert base.index("{% htmx_script %}") < base.index("js/htmx-config.js") < base.index("{% block head_extra %}")
