"""One accepted range for a lead's dates (leads.services.base.date_range), used by the services, the API and the
import: from 1900-01-01 to a day ahead of now for its arrival, a few minutes ahead for a consent; never naive.
Before, a lead received near the end of time was a 500 (respond-by = arrival + SLA left the calendar)."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from leads.importing import import_file
from leads.models import Lead
from leads.services import LeadDataError, lead_create, lead_intake, lead_update
from leads.services.base import date_problem, date_range
from tests.factories import LeadFactory, LeadSourceFactory

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "value", "accepted"),
    [
        ("received_at", datetime(1900, 1, 1, tzinfo=UTC), True),
        ("received_at", datetime(1899, 12, 31, 23, 59, tzinfo=UTC), False),
        ("received_at", NOW + timedelta(days=1), True),
        ("received_at", NOW + timedelta(days=1, seconds=1), False),
        ("received_at", datetime(9999, 12, 31, 23, 0, tzinfo=UTC), False),
        ("consent", NOW + timedelta(minutes=5), True),
        ("consent", NOW + timedelta(minutes=6), False),
        ("consent", datetime(1, 1, 1, tzinfo=UTC), False),
    ],
)
def test_date_problem_holds_each_date_to_its_range(field, value, accepted):
    assert (date_problem(field, value, NOW) is None) is accepted


def test_date_problem_names_the_range_and_refuses_naive_dates():
    assert date_range("received_at", NOW) == (datetime(1900, 1, 1, tzinfo=UTC), NOW + timedelta(days=1))
    assert date_problem("received_at", datetime(9999, 1, 1, tzinfo=UTC), NOW) == (
        "Must be from 1900-01-01 to 2026-12-04 09:00 UTC (at most a day ahead of now); got 9999-01-01T00:00:00+00:00."
    )
    assert date_problem("consent", datetime(2026, 1, 1), NOW) == (
        "Give the time zone, e.g. 2026-11-23T14:30:00Z or 2026-11-23T14:30:00+01:00."
    )


@pytest.mark.django_db
@pytest.mark.parametrize("received_at", [datetime(9999, 12, 31, 23, 0, tzinfo=UTC), datetime(2026, 1, 1)])
def test_lead_create_refuses_a_received_at_outside_the_range(received_at):
    with pytest.raises(LeadDataError) as refused:
        lead_create(source=LeadSourceFactory(), fields={"email": "a@example.com"}, received_at=received_at)

    assert list(refused.value.errors) == ["received_at"]
    assert not Lead.objects.exists()


@pytest.mark.django_db
def test_lead_intake_refuses_the_end_of_time_instead_of_overflowing():
    data = {"external_id": "A-1", "email": "a@example.com", "received_at": datetime(9999, 12, 31, 23, 0, tzinfo=UTC)}

    with pytest.raises(LeadDataError) as refused:
        lead_intake(source=LeadSourceFactory(), data=data, actor_label="test")

    assert list(refused.value.errors) == ["received_at"]
    assert not Lead.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"marketing_consent_at": timezone.now() + timedelta(days=2)}, "marketing_consent_at"),
        ({"partner_sharing_consent_at": datetime(1850, 1, 1, tzinfo=UTC)}, "partner_sharing_consent_at"),
        ({"name": "Ana\x00"}, "name"),
        ({"attributes": {"segment": "s\x00mb"}}, "attributes"),
        ({"employees": 50_000_000}, "employees"),
        ({"latitude": 91, "longitude": 0}, "latitude"),
    ],
)
def test_lead_update_refuses_what_cannot_be_stored_or_cannot_be_true(data, field):
    lead = LeadFactory(name="Ana")

    with pytest.raises(LeadDataError) as refused:
        lead_update(lead=lead, data=data)

    assert list(refused.value.errors) == [field]
    lead.refresh_from_db()
    assert (lead.name, lead.marketing_consent_at, lead.employees, lead.latitude) == ("Ana", None, None, None)
    assert not lead.events.filter(verb="updated").exists()


@pytest.mark.django_db
def test_import_reports_dates_outside_the_range_on_their_row_and_stores_the_rest():
    csv = (
        "Email,Date received,Marketing consent\n"
        "ok@example.com,2026-11-01,yes\n"
        "late@example.com,9999-12-31,yes\n"
        "early@example.com,1850-01-01,\n"
        "consent@example.com,2026-11-01,2999-01-01\n"
    )

    result = import_file(io.BytesIO(csv.encode()), source=LeadSourceFactory())

    assert list(Lead.objects.values_list("email", flat=True)) == ["ok@example.com"]
    assert [(e.row, e.column) for e in result.errors] == [
        (3, "Date received"),
        (4, "Date received"),
        (5, "Marketing consent"),
    ]
    assert all(e.message.startswith("must be from 1900-01-01 to ") for e in result.errors)
    assert "(at most a few minutes ahead of now); got 2999-01-01" in result.errors[2].message
