"""The lead admin saves data changes through lead_update: on the timeline, and the ICP checked again."""

import pytest
from django.urls import reverse

from leads.engine import FIELD_TYPES
from leads.models import Criterion, DisqualificationReason, Lead, LeadStatus, RedirectKind
from tests.conftest import make_user
from tests.factories import CriterionFactory, ICPVersionFactory, ImportJobFactory, LeadFactory


def change_form(client, lead) -> dict:
    response = client.get(reverse("admin:leads_lead_change", args=[lead.pk]))
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None:
            value = ""
        data[name] = value.pk if hasattr(value, "pk") else value
    data.update({f"events-{k}": v for k, v in {"TOTAL_FORMS": 0, "INITIAL_FORMS": 0}.items()})
    return {k: v for k, v in data.items() if v is not False}


@pytest.mark.django_db
def test_admin_edit_rechecks_the_lead_and_records_it(client, bank_source):
    client.force_login(make_user("Admin"))
    lead = LeadFactory(source=bank_source, status="disqualified", credit_score=500, budget=20000, budget_currency="GBP")
    data = change_form(client, lead) | {"credit_score": 700, "attributes": "{}"}

    response = client.post(reverse("admin:leads_lead_change", args=[lead.pk]), data)

    lead = Lead.objects.get(pk=lead.pk)
    assert response.status_code == 302
    assert (lead.credit_score, lead.status) == (700, LeadStatus.QUALIFIED)
    assert lead.events.get(verb="updated").data == {"fields": ["credit_score"]}


# Criteria: the field from the engine's list, the value's shape checked by the engine --------------------------


def criterion_row(**row) -> dict:
    return {
        "position": 0,
        "label": "Credit score",
        "field": "credit_score",
        "field_key": "",
        "operator": "gte",
        "value": "600",
        "value_type": "text",
        "weight": 10,
        "reason": "",
        "what_would_qualify": "",
        **row,
    }


def version_post(version, *rows: dict, initial: int = 0) -> dict:
    data = {
        "profile": version.profile_id,
        "number": version.number,
        "qualified_min": version.qualified_min,
        "review_min": version.review_min,
        "notes": "",
        "criteria-TOTAL_FORMS": len(rows),
        "criteria-INITIAL_FORMS": initial,
        "criteria-MIN_NUM_FORMS": 0,
        "criteria-MAX_NUM_FORMS": 1000,
    }
    for i, row in enumerate(rows):
        data.update({f"criteria-{i}-{key}": value for key, value in (row | {"version": version.pk}).items()})
    return data


@pytest.fixture
def admin_client(client, db):
    client.force_login(make_user("Admin"))
    return client


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"operator": "between", "value": "[600]"}, "value", "Needs two values, [low, high], e.g. [18, 65]."),
        ({"operator": "between", "value": "[700, 600]"}, "value", "The low end (700) is above the high end (600)."),
        ({"operator": "gte", "value": "high"}, "value", "“high” is not a number (or not below 10^15)."),
        ({"operator": "gte", "value": ""}, "value", "Needs a value."),
        (
            {"field": "country", "operator": "in", "value": "[]"},
            "value",
            'Needs a non-empty list of values, e.g. ["GB", "IE"].',
        ),
        (
            {"field": "country", "operator": "in", "value": "GB, IE"},
            "value",
            'Needs a non-empty list of values, e.g. ["GB", "IE"].',
        ),
        ({"field": "is_decision_maker", "operator": "eq", "value": "yes"}, "value", "Needs true or false."),
        (
            {"field": "location", "operator": "within_km", "value": '{"lat": 51.5, "lon": 0}'},
            "value",
            'Needs a point and a distance: {"lat": 51.5, "lon": -0.12, "km": 50}.',
        ),
        (
            {"field": "industry", "operator": "gte", "value": "retail"},
            "operator",
            "“gte” does not apply to a text field (use one of contains, eq, in, is_missing, is_set, ne, not_in).",
        ),
        (
            {"field": "shoe_size"},
            "field",
            "Select a valid choice. shoe_size is not one of the available choices.",
        ),
        ({"field": "attributes", "field_key": ""}, "field", "Name the attribute after “attributes.”."),
        (
            {"field": "credit_score", "field_key": "score"},
            "field",
            "A key goes with “an attribute” only: choose that, or empty the key box.",
        ),
        (
            {"field": "attributes", "field_key": "age", "value_type": "date"},
            "value_type",
            "Select a valid choice. date is not one of the available choices.",
        ),
        ({"weight": 0}, "weight", "A soft criterion needs a weight above 0."),
        ({"operator": "is_set", "value": "600"}, "value", "“is_set” takes no value: leave it empty."),
    ],
)
def test_criterion_admin_refuses_a_bad_new_criterion_on_its_field(admin_client, row, field, message):
    version = ICPVersionFactory(status="draft")

    response = admin_client.post(
        reverse("admin:leads_icpversion_change", args=[version.pk]), version_post(version, criterion_row(**row))
    )

    assert response.status_code == 200
    form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert form.errors == {field: [message]}
    assert not Criterion.objects.exists()


def test_criterion_admin_refuses_a_bad_change_to_a_stored_criterion(admin_client):
    version = ICPVersionFactory(status="draft")
    criterion = CriterionFactory(version=version, field="credit_score", operator="between", value=[600, 900])
    row = criterion_row(id=criterion.pk, operator="between", value="[600]")

    response = admin_client.post(
        reverse("admin:leads_icpversion_change", args=[version.pk]), version_post(version, row, initial=1)
    )

    form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert form.errors == {"value": ["Needs two values, [low, high], e.g. [18, 65]."]}
    criterion.refresh_from_db()
    assert criterion.value == [600, 900]


@pytest.mark.parametrize(
    ("row", "stored"),
    [
        ({"operator": "between", "value": "[600, 900]"}, ("credit_score", "between", [600, 900])),
        (
            {"field": "attributes", "field_key": "segment", "operator": "eq", "value": "smb"},
            ("attributes.segment", "eq", "smb"),
        ),
        ({"field": "country", "operator": "in", "value": '["GB", "IE"]'}, ("country", "in", ["GB", "IE"])),
        ({"field": "email", "operator": "is_set", "value": ""}, ("email", "is_set", None)),
        (
            {"field": "location", "operator": "within_km", "value": '{"lat": 51.5, "lon": -0.12, "km": 50}'},
            ("location", "within_km", {"lat": 51.5, "lon": -0.12, "km": 50}),
        ),
    ],
)
def test_criterion_admin_saves_a_sound_criterion(admin_client, row, stored):
    version = ICPVersionFactory(status="draft")

    response = admin_client.post(
        reverse("admin:leads_icpversion_change", args=[version.pk]), version_post(version, criterion_row(**row))
    )

    assert response.status_code == 302
    criterion = Criterion.objects.get()
    assert (criterion.field, criterion.operator, criterion.value) == stored


def test_criterion_admin_offers_the_engine_fields_with_labels_and_shows_an_unknown_stored_one(admin_client):
    version = ICPVersionFactory(status="draft")
    CriterionFactory(version=version, field="shoe_size", operator="gte", value=40)
    CriterionFactory(version=version, field="attributes.segment", operator="eq", value="smb")

    response = admin_client.get(reverse("admin:leads_icpversion_change", args=[version.pk]))

    formset = response.context["inline_admin_formsets"][0].formset
    select = formset.forms[0].fields["field"].fields[0]
    offered = {value for _, group in select.choices[1:] for value, _ in group}
    assert offered == {*FIELD_TYPES, "attributes", "shoe_size"}
    assert ("title", "Role / title (title)") in dict(select.choices[1:])["Text"]
    html = response.content.decode()
    assert '<option value="shoe_size" selected>shoe_size (unknown)</option>' in html
    assert '<option value="attributes" selected>' in html
    assert 'name="criteria-1-field_key" value="segment"' in html


# Reasons: redirect kinds as checkboxes ----------------------------------------------------------------------


def reason_post(**data) -> dict:
    return {"code": "budget", "label": "Budget", "description": "", "position": 0, "active": "on", **data}


def test_reason_admin_offers_redirect_kinds_as_checkboxes(admin_client):
    response = admin_client.get(reverse("admin:leads_disqualificationreason_add"))

    html = response.content.decode()
    for kind in RedirectKind.values:
        assert f'type="checkbox" name="redirect_kinds" value="{kind}"' in html


def test_reason_admin_stores_the_ticked_kinds_in_their_order(admin_client):
    response = admin_client.post(
        reverse("admin:leads_disqualificationreason_add"), reason_post(redirect_kinds=["nurture", "refer"])
    )

    assert response.status_code == 302
    assert DisqualificationReason.objects.get(code="budget").redirect_kinds == ["refer", "nurture"]


def test_reason_admin_refuses_a_kind_that_does_not_exist(admin_client):
    response = admin_client.post(
        reverse("admin:leads_disqualificationreason_add"), reason_post(redirect_kinds=["refer", "teleport"])
    )

    assert response.context["adminform"].form.errors == {
        "redirect_kinds": ["Select a valid choice. teleport is not one of the available choices."]
    }


def test_reason_admin_shows_a_bad_stored_kind_and_refuses_it_until_unticked(admin_client):
    reason = DisqualificationReason.objects.create(code="budget", label="Budget", redirect_kinds=["refer", "teleport"])
    url = reverse("admin:leads_disqualificationreason_change", args=[reason.pk])

    page = admin_client.get(url).content.decode()
    refused = admin_client.post(url, reason_post(redirect_kinds=["refer", "teleport"]))
    saved = admin_client.post(url, reason_post(redirect_kinds=["refer"]))

    assert "teleport (not a redirect kind)" in page
    assert refused.context["adminform"].form.errors == {"redirect_kinds": ["Not a redirect kind: teleport. Untick it."]}
    assert saved.status_code == 302
    reason.refresh_from_db()
    assert reason.redirect_kinds == ["refer"]


def test_lead_admin_refuses_attributes_that_are_not_an_object(admin_client, bank_source):
    lead = LeadFactory(source=bank_source, status="disqualified", credit_score=500)
    data = change_form(admin_client, lead) | {"attributes": '["smb"]'}

    response = admin_client.post(reverse("admin:leads_lead_change", args=[lead.pk]), data)

    assert response.context["adminform"].form.errors == {
        "attributes": ['Give a JSON object of names and values, e.g. {"segment": "smb", "seats": 12}.']
    }
    lead.refresh_from_db()
    assert lead.attributes == {}


def test_import_job_admin_is_read_only(admin_client):
    job = ImportJobFactory()

    add = admin_client.get(reverse("admin:leads_importjob_add"))
    change = admin_client.post(reverse("admin:leads_importjob_change", args=[job.pk]), {"mapping": "[]"})

    assert add.status_code == 403
    assert change.status_code == 403
