"""The lead's data described once (`leads.fields`): every Lead column is declared or known not to be the lead's data,
every place that lists fields is derived from the declaration, and the rules between fields are refused alike by
the database, the services, the API, the edit form and the import."""

import io
import json
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from leads import fields as declared
from leads import import_pg, importing
from leads.api import LeadIn
from leads.apikeys import api_key_create
from leads.fields import BY_NAME, FIELDS, RULES, lead_rules_problems
from leads.forms import LeadEditForm
from leads.models import Lead, StagedLead
from leads.services import DATA_FIELDS, EDITABLE_FIELDS, LeadDataError, lead_update
from leads.services.base import NUMBER_RANGES
from tests.factories import LeadFactory, LeadSourceFactory

# Lead's columns that are not the lead's data: provenance, handling and what the services compute.
NOT_DATA = {
    "id", "source", "external_id", "owner", "status", "received_at", "respond_by", "first_response_at", "claimed_by",
    "claimed_until", "sla_warned_at", "icp_band", "primary_reason", "created_at", "updated_at",
}  # fmt: skip
TEXT_KINDS = {"text", "email", "country", "currency"}


def lead_columns() -> dict:
    return {f.name: f for f in Lead._meta.concrete_fields}


def test_every_lead_column_is_declared_or_known_not_to_be_data():
    columns = set(lead_columns())

    assert columns - NOT_DATA == set(declared.DATA_FIELDS)
    assert not NOT_DATA & declared.DATA_FIELDS


@pytest.mark.parametrize("spec", [f for f in FIELDS if f.data], ids=lambda f: f.name)
def test_each_declared_field_matches_its_column(spec):
    column = lead_columns()[spec.name]

    assert column.max_length == (spec.max_length if spec.kind in TEXT_KINDS else None)
    assert column.null is (spec.kind not in TEXT_KINDS and spec.kind != "json" and spec.name != "do_not_contact")
    if spec.help:
        assert column.help_text in ("", spec.help)


def test_pseudo_columns_of_the_import_are_not_lead_data():
    pseudo = {f.name for f in FIELDS if not f.data}

    assert pseudo == {
        "external_id", "first_name", "last_name", "received_at", "marketing_consent", "partner_sharing_consent",
    }  # fmt: skip


def test_every_consumer_is_derived_from_the_declaration():
    data = {f.name for f in FIELDS if f.data}
    importable = [f.name for f in FIELDS if f.importable]
    columns = [f.name for f in FIELDS if f.data and f.kind != "json"]

    assert data == DATA_FIELDS  # the services
    assert EDITABLE_FIELDS == [f.name for f in FIELDS if f.editable] == list(LeadEditForm.base_fields)  # the form
    assert [spec.name for spec in importing.FIELDS] == importable  # the import's mapping and converters
    assert list(importing.LEAD_COLUMNS) == columns  # its updates (SQLite and PostgreSQL)
    assert set(import_pg.TEXT_COLUMNS) | set(import_pg.NULLABLE_COLUMNS) | {"do_not_contact"} == set(columns)
    assert set(import_pg.LEAD_COPY_COLUMNS) >= set(columns) | {"attributes"}  # its COPY lines
    staged = {f.name for f in StagedLead._meta.concrete_fields}
    assert staged >= set(columns) | {"attributes"}  # its staging table
    api = {f.name for f in FIELDS if f.data and f.api}
    assert set(LeadIn.model_fields) == api | {"external_id", "received_at", "consent"}  # the API's schema
    assert {f.name: (f.low, f.high) for f in FIELDS if f.kind in ("int", "latitude", "longitude")} == NUMBER_RANGES


def test_the_staged_columns_have_the_lead_columns_types_and_take_null():
    for name in importing.LEAD_COLUMNS:
        staged, column = StagedLead._meta.get_field(name), Lead._meta.get_field(name)
        assert (type(staged), staged.max_length, staged.null) == (type(column), column.max_length, True), name


def test_the_edit_form_labels_come_from_the_declaration():
    form = LeadEditForm(instance=Lead())

    assert {name: form.fields[name].label for name in EDITABLE_FIELDS} == {
        name: BY_NAME[name].label for name in EDITABLE_FIELDS
    }
    assert form.fields["country"].help_text == "ISO 3166-1 alpha-2, upper case."


# The rules between fields ------------------------------------------------------------------------------------------

CASES = [
    ({"budget": Decimal(10), "budget_currency": ""}, {"budget_currency": ["Required when a budget is given."]}),
    ({"budget": Decimal(10), "budget_currency": "GBP"}, {}),
    ({"budget": None, "budget_currency": "GBP"}, {}),
    ({"latitude": Decimal(51), "longitude": None}, {"longitude": ["Give latitude and longitude together."]}),
    ({"latitude": None, "longitude": Decimal(1)}, {"longitude": ["Give latitude and longitude together."]}),
    ({"latitude": Decimal(51), "longitude": Decimal(1)}, {}),
    ({}, {}),
]


@pytest.mark.parametrize(("values", "problems"), CASES)
def test_rules_say_what_is_wrong_on_one_field(values, problems):
    assert lead_rules_problems(values) == problems


@pytest.mark.django_db
@pytest.mark.parametrize(("values", "problems"), CASES)
def test_the_database_holds_the_same_rules(values, problems):
    source = LeadSourceFactory()
    now = timezone.now()
    lead = Lead(source=source, email="a@example.com", received_at=now, respond_by=now, **values)

    if problems:
        with pytest.raises(IntegrityError), transaction.atomic():
            lead.save()
        assert not Lead.objects.exists()
    else:
        lead.save()
        assert Lead.objects.filter(pk=lead.pk).exists()


def test_every_rule_is_a_constraint_of_lead():
    names = {constraint.name for constraint in Lead._meta.constraints}

    assert {rule.name for rule in RULES} <= names


@pytest.mark.django_db
def test_services_refuse_a_budget_without_currency():
    lead = LeadFactory()

    with pytest.raises(LeadDataError) as caught:
        lead_update(lead=lead, data={"budget": Decimal(100)})

    assert caught.value.errors == {"budget_currency": ["Required when a budget is given."]}


@pytest.mark.django_db
def test_the_edit_form_refuses_what_the_api_refuses():
    lead = LeadFactory(latitude=None, longitude=None)
    data = {"email": lead.email, "country": "GB", "budget": "100", "budget_currency": "", "latitude": "51.5"}

    form = LeadEditForm(data=data, instance=lead)

    assert not form.is_valid()
    assert form.errors["budget_currency"] == ["Required when a budget is given."]
    assert form.errors["longitude"] == ["Give latitude and longitude together."]


@pytest.mark.django_db
def test_the_edit_form_checks_the_rules_against_what_is_stored():
    lead = LeadFactory(budget=Decimal(100), budget_currency="GBP")
    data = {"email": lead.email, "country": "GB", "budget": "100", "budget_currency": ""}  # the currency cleared

    form = LeadEditForm(data=data, instance=lead)

    assert form.errors["budget_currency"] == ["Required when a budget is given."]


@pytest.mark.django_db
def test_the_api_refuses_with_the_same_messages(client, bank_source):
    cache.clear()
    key = api_key_create(source=bank_source, name="form")[1]
    body = {"external_id": "A-1", "email": "a@example.com", "budget": 100, "latitude": 51.5}

    response = client.post(
        "/api/v1/leads", data=json.dumps(body), content_type="application/json", headers={"X-API-Key": key}
    )

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "longitude": ["Give latitude and longitude together."],
        "budget_currency": ["Required when a budget is given."],
    }
    assert Lead.objects.count() == 0


@pytest.mark.django_db
def test_the_import_refuses_with_the_same_messages(bank_source):
    text = "Email,Budget,Latitude\na@example.com,100,51.5\n"

    result = importing.import_file(io.BytesIO(text.encode()), source=bank_source)

    assert result.rejected == 1
    assert {(e.column, e.message) for e in result.errors} == {
        ("Budget", "required when a budget is given (add a currency column or write the budget as £12,000)"),
        ("Latitude", "give latitude and longitude together"),
    }
