"""SQLite shared politely: a write that cannot get the write lock (another connection holds it, as a CSV import does
while it stores rows) answers 503 with Retry-After (API: JSON; pages: a busy message), never a 500, and nothing is
written. The lock is held from a second connection; requests wait a fifth of a second for it, not five."""

import io
import json
import sqlite3
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.urls import reverse
from django.utils import timezone

from common.db import database_busy
from config.middleware import BUSY_RETRY_AFTER_SECONDS
from leads.apikeys import api_key_create
from leads.importing import import_file
from leads.models import ApiKey, Lead, LeadEvent
from tests.factories import LeadFactory
from tests.leads.views.test_lead_edit import form_data

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the write lock of the embedded SQLite default"),
]


@pytest.fixture
def short_busy_timeout():
    options = connection.settings_dict.setdefault("OPTIONS", {})
    configured = options.get("timeout")
    options["timeout"] = 0.2
    connection.close()
    yield
    options["timeout"] = configured
    connection.close()


@contextmanager
def write_lock_held():
    """Another connection holds the database's write lock (BEGIN IMMEDIATE) until the block ends."""
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_sqlite_is_configured_for_shared_use():
    options = settings.DATABASES["default"]["OPTIONS"]
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous")
        synchronous = cursor.fetchone()[0]

    assert (journal, synchronous) == ("wal", 1)  # 1 = NORMAL
    assert options["transaction_mode"] == "IMMEDIATE"
    assert 1 <= options["timeout"] <= 10


@pytest.mark.usefixtures("short_busy_timeout")
def test_api_post_while_the_database_is_locked_is_503_with_retry_after_and_stores_nothing(client, bank_source):
    api_key, raw = api_key_create(source=bank_source, name="web form")
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())  # the lead's write is the one refused
    body = {"external_id": "B-1", "email": "busy@example.com", "credit_score": 700}

    with write_lock_held():
        response = client.post(
            "/api/v1/leads", data=json.dumps(body), content_type="application/json", headers={"X-API-Key": raw}
        )

    assert response.status_code == 503
    assert response["Retry-After"] == str(BUSY_RETRY_AFTER_SECONDS)
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"].startswith("Busy, try again in a moment")
    assert not Lead.objects.exists()
    assert not LeadEvent.objects.exists()


@pytest.mark.usefixtures("short_busy_timeout")
def test_api_key_check_that_finds_the_database_locked_is_503_too(client, bank_source):
    _, raw = api_key_create(source=bank_source, name="web form")  # never used: its first use is recorded

    with write_lock_held():
        response = client.post(
            "/api/v1/leads",
            data=json.dumps({"external_id": "B-2", "email": "b2@example.com"}),
            content_type="application/json",
            headers={"X-API-Key": raw},
        )

    assert (response.status_code, response["Retry-After"]) == (503, str(BUSY_RETRY_AFTER_SECONDS))
    assert not Lead.objects.exists()


@pytest.mark.usefixtures("short_busy_timeout")
def test_page_form_submitted_while_the_database_is_locked_says_busy_and_saves_nothing(sales_client):
    lead = LeadFactory(name="Ana")
    events_before = LeadEvent.objects.count()

    with write_lock_held():
        response = sales_client.post(reverse("leads:edit", args=[lead.pk]), form_data(lead, name="Changed"))

    lead.refresh_from_db()
    assert response.status_code == 503
    assert response["Retry-After"] == str(BUSY_RETRY_AFTER_SECONDS)
    assert "Busy, try again in a moment" in response.text
    assert "Nothing was saved." in response.text
    assert lead.name == "Ana"
    assert LeadEvent.objects.count() == events_before


@pytest.mark.usefixtures("short_busy_timeout")
def test_htmx_request_while_the_database_is_locked_gets_the_message_out_of_band(sales_client):
    lead = LeadFactory(name="Ana")

    with write_lock_held():
        response = sales_client.post(
            reverse("leads:edit", args=[lead.pk]),
            form_data(lead, name="Changed"),
            headers={"HX-Request": "true", "HX-Target": "main"},
        )

    assert response.status_code == 503
    assert response["HX-Reswap"] == "none"
    assert response.text.strip().startswith('<div id="messages" hx-swap-oob="true"')
    assert "<html" not in response.text


@pytest.mark.usefixtures("short_busy_timeout")
def test_the_same_request_once_the_lock_is_free_succeeds(sales_client):
    lead = LeadFactory(name="Ana")
    with write_lock_held():
        sales_client.post(reverse("leads:edit", args=[lead.pk]), form_data(lead, name="Changed"))

    response = sales_client.post(reverse("leads:edit", args=[lead.pk]), form_data(lead, name="Changed"))

    lead.refresh_from_db()
    assert (response.status_code, lead.name) == (302, "Changed")


@pytest.mark.parametrize(
    ("error", "busy"),
    [
        (OperationalError("database is locked"), True),
        (OperationalError("database table is locked"), True),
        (OperationalError("no such table: leads_lead"), False),
        (ValueError("database is locked"), False),
    ],
)
def test_only_a_lock_timeout_counts_as_busy(error, busy):
    assert database_busy(error) is busy


def other_connection_can_write() -> bool:
    """Whether another process could write now: a second connection takes the write lock without waiting."""
    other = sqlite3.connect(connection.settings_dict["NAME"], timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def test_an_import_holds_the_write_lock_only_while_it_stores_rows_it_has_read_and_checked(bank_source):
    rows = 12_000  # progress is reported every 5,000 rows read
    text = "Lead ID,Email,Credit score,Budget,Currency\n"
    text += "".join(f"R{i},r{i}@example.com,{550 + i % 100},{8000 + i},GBP\n" for i in range(rows))
    seen = []

    result = import_file(
        io.BytesIO(text.encode()),
        source=bank_source,
        progress=lambda read, fraction: seen.append((read, other_connection_can_write())),
        before_commit=lambda result: seen.append(("storing", other_connection_can_write())),
    )

    assert seen == [(5000, True), (10000, True), ("storing", False), (rows, True)]
    assert (result.created, Lead.objects.count()) == (rows, rows)
