"""Input no view can use is a clear 4xx, never a 500 (config.middleware.BadInputMiddleware, config.api): a NUL
character wherever text arrives (PostgreSQL can neither store nor compare it), API bodies that are too large or
not JSON, and an OpenAPI document that says all of it."""

import json

import pytest
from django.core.cache import cache
from django.urls import reverse

from common.roles import Role
from leads.apikeys import api_key_create
from leads.models import Criterion, Lead
from tests.conftest import make_user
from tests.factories import ICPVersionFactory, ImportJobFactory, LeadFactory
from tests.leads.test_admin import criterion_row, version_post
from tests.leads.views.test_lead_edit import form_data

NUL_SENTENCE = "contains a NUL character (\\x00), which cannot be stored."


@pytest.fixture
def key(bank_source):
    cache.clear()
    return api_key_create(source=bank_source, name="web form")[1]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "url", "name"),
    [
        (Role.SALES_OPS, "/leads/?q=%00", "q"),
        (Role.SALES_OPS, "/leads/?country=a%00", "country"),
        (Role.SALES_OPS, "/triage/?owner=%00", "owner"),
        (Role.MANAGER, "/partners/?q=x%00y", "q"),
        (Role.MANAGER, "/partners/referrals/?q=%00", "q"),
        (Role.MANAGER, "/nurture/?q=%00", "q"),
        ("Admin", "/admin/leads/lead/?q=%00", "q"),
        ("Admin", "/admin/leads/lead/?status=%00", "status"),  # a 500 on PostgreSQL before
    ],
)
def test_nul_in_a_query_parameter_is_422_naming_it(client, role, url, name):
    client.force_login(make_user(role))

    response = client.get(url)

    assert response.status_code == 422
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == f"Bad input: the query parameter “{name}” {NUL_SENTENCE}\n"


@pytest.mark.django_db
def test_nul_in_a_query_parameter_name_is_422(client):
    client.force_login(make_user(Role.SALES_OPS))

    response = client.get("/leads/?a%00b=1")

    assert response.status_code == 422
    assert response.content.decode() == f"Bad input: the name of a query parameter {NUL_SENTENCE}\n"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/r/abc%00def/", "the path parameter “token”"),
        ("/u/abc%00def/", "the path parameter “token”"),
        ("/nurture/enrollments/1/pa%00use/", "the path parameter “action”"),
        ("/no-such-page%00/", "the path"),
    ],
)
def test_nul_in_the_path_is_422_naming_the_parameter(client, url, words):
    response = client.get(url)

    assert response.status_code == 422
    assert response.content.decode() == f"Bad input: {words} {NUL_SENTENCE}\n"


@pytest.mark.django_db
def test_nul_in_the_login_form_is_422_and_nothing_is_looked_up(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.post(reverse("login"), {"username": "sales\x00", "password": "secret"})

    assert response.status_code == 422
    assert response.content.decode() == f"Bad input: the field “username” {NUL_SENTENCE}\n"


@pytest.mark.django_db
def test_nul_in_the_import_mapping_is_422_and_the_job_is_unchanged(sales_client):
    job = ImportJobFactory()
    before = (job.status, dict(job.mapping))

    response = sales_client.post(reverse("leads:import_start", args=[job.pk]), {"map-0": "email\x00"})

    assert response.status_code == 422
    assert response.content.decode() == f"Bad input: the field “map-0” {NUL_SENTENCE}\n"
    job.refresh_from_db()
    assert (job.status, job.mapping) == before


@pytest.mark.django_db
def test_nul_in_a_cookie_is_422_before_the_session_is_read(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/leads/", headers={"Cookie": "sessionid=abcdefgh\x00ijk"})

    assert response.status_code == 422
    assert response.content.decode() == f"Bad input: the header “Cookie” {NUL_SENTENCE}\n"


@pytest.mark.django_db
def test_a_form_that_cannot_be_read_is_400(sales_client):
    response = sales_client.generic(
        "POST", reverse("leads:import_upload"), b"--x\r\n", content_type="multipart/form-data; boundary="
    )

    assert response.status_code == 400
    assert response.content.decode().startswith("Bad input: the form could not be read (")


# The API ------------------------------------------------------------------------------------------------------


def test_api_nul_in_the_path_is_422_json_naming_the_parameter(client, key):
    LeadFactory(external_id="A-1")

    response = client.get("/api/v1/leads/A-1%00", headers={"X-API-Key": key})

    assert response.status_code == 422
    assert response.json() == {
        "detail": "Validation failed",
        "errors": {"external_id": ["Contains a NUL character (\\x00), which cannot be stored."]},
    }


def test_api_nul_in_the_key_header_is_422_json_naming_it(client, key):
    response = client.get("/api/v1/leads/A-1", headers={"X-API-Key": key + "\x00"})

    assert response.status_code == 422
    assert response.json()["errors"] == {"X-Api-Key": ["Contains a NUL character (\\x00), which cannot be stored."]}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{not json", "The request body is not valid JSON: Expecting property name enclosed in double quotes:"),
        (b'{"name": "\xff"}', "The request body is not valid JSON: 'utf-8' codec can't decode byte 0xff"),
    ],
)
def test_api_body_that_is_not_json_is_400_saying_why(client, key, body, detail):
    response = client.post("/api/v1/leads", data=body, content_type="application/json", headers={"X-API-Key": key})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json()["detail"].startswith(detail)
    assert Lead.objects.count() == 0


def test_api_body_over_the_limit_is_413_json(client, key, settings):
    settings.API_MAX_BODY_BYTES = 1024
    body = json.dumps({"external_id": "A-1", "email": "ana@example.com", "message": "x" * 1024})

    response = client.post("/api/v1/leads", data=body, content_type="application/json", headers={"X-API-Key": key})

    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is larger than the API accepts (1 KB)."}
    assert Lead.objects.count() == 0


def test_api_body_limit_never_exceeds_what_django_reads(client, key, settings):
    settings.API_MAX_BODY_BYTES = 10 * 1024 * 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    body = json.dumps({"external_id": "A-1", "email": "ana@example.com", "message": "x" * 4096})

    response = client.post("/api/v1/leads", data=body, content_type="application/json", headers={"X-API-Key": key})

    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is larger than the API accepts (2 KB)."}


@pytest.mark.django_db
def test_openapi_documents_the_errors_on_every_operation(client):
    document = client.get("/api/v1/openapi.json").json()

    operations = [op for methods in document["paths"].values() for op in methods.values()]
    assert len(operations) == 3
    for operation in operations:
        assert {"400", "401", "413", "422", "429"} <= set(operation["responses"]), operation["operationId"]
        for status in ("400", "413", "422"):
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorOut"}


@pytest.mark.django_db
def test_openapi_declares_formats_and_refuses_nul_in_strings(client):
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    lead = schemas["LeadIn"]["properties"]

    assert lead["email"]["format"] == "email"
    assert lead["received_at"]["anyOf"][0]["format"] == "date-time"
    assert schemas["ConsentIn"]["properties"]["given_at"]["format"] == "date-time"
    assert lead["name"]["pattern"] == "^[^\\u0000]*$"
    assert lead["attributes"]["propertyNames"]["pattern"] == "^[^\\u0000]*$"
    assert schemas["EnrollmentIn"]["properties"]["track"]["pattern"] == "^[^\\u0000]*$"
    assert lead["employees"]["anyOf"][0] == {"type": "integer", "minimum": 0, "maximum": 10_000_000}


@pytest.mark.django_db
@pytest.mark.parametrize("value", ['"\\u0000"', '["GB", "\\u0000"]', '{"lat": 51.5, "lon": 0, "km": 5, "k\\u0000": 1}'])
def test_nul_written_as_json_in_an_admin_field_is_422(client, value):
    """A criterion's value is JSON typed in the admin: its escape was a 500 on PostgreSQL (jsonb refuses it)."""
    client.force_login(make_user("Admin"))
    version = ICPVersionFactory()

    response = client.post(
        reverse("admin:leads_icpversion_change", args=[version.pk]),
        version_post(version, criterion_row(field="country", operator="in", value=value)),
    )

    assert response.status_code == 422
    assert response.content.decode().startswith("Bad input: the field “criteria-0-value” ")
    assert "(written in its JSON as an escape)." in response.content.decode()
    assert not Criterion.objects.exists()


@pytest.mark.django_db
def test_json_with_an_escaped_backslash_is_plain_text_and_passes(sales_client):
    lead = LeadFactory()
    data = form_data(lead, message='["not a NUL: \\\\u0000"]')

    response = sales_client.post(reverse("leads:edit", args=[lead.pk]), data)

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.message == '["not a NUL: \\\\u0000"]'


@pytest.mark.django_db
@pytest.mark.parametrize("per_page", ["-1", "0", "101", "1000000", "abc", "²"])
@pytest.mark.parametrize("url", ["/leads/", "/partners/", "/partners/referrals/", "/nurture/", "/triage/"])
def test_list_rows_per_page_outside_1_to_100_is_422(client, url, per_page):
    """Zero or less was a 500 on every list page; a million rendered every row."""
    client.force_login(make_user("Admin"))

    response = client.get(url, {"per_page": per_page})

    assert response.status_code == 422
    assert response.content.decode() == (
        "Bad input: the query parameter “per_page” must be a whole number from 1 to 100.\n"
    )


@pytest.mark.django_db
def test_list_rows_per_page_within_range_is_served(client):
    client.force_login(make_user("Admin"))

    assert client.get("/leads/", {"per_page": "100"}).status_code == 200
