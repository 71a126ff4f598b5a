import logging
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest

from config.logging import RedactSignedLinks
from nurture.services import unsubscribe_token
from tests.factories import LeadFactory
from tests.workers import ROOT, database_url_for_worker, wait_for


def test_redact_signed_links_blanks_tokens_in_message_and_arguments():
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Gone: %s", ("/r/eyJyIjoxfQ:1xV:abc/",), None
    )
    record.request = type("Request", (), {"path": "/r/eyJyIjoxfQ:1xV:abc/"})()

    RedactSignedLinks().filter(record)

    assert record.getMessage() == "Gone: /r/…/"
    assert record.request is None


def test_redact_signed_links_leaves_other_paths_alone():
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/leads/12/",), None)

    RedactSignedLinks().filter(record)

    assert record.getMessage() == "Not Found: /leads/12/"


@pytest.fixture
def runserver(transactional_db):
    """`manage.py runserver` (the development server `make run` starts) on a free port, on the test database;
    yields a function that GETs a path and the list of lines the server has printed so far."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": database_url_for_worker(), "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def get(path: str) -> int:
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10).status
        except urllib.error.HTTPError as exc:
            return exc.code

    try:
        assert wait_for(lambda: _listening(port), 30)
        yield get, lines
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        reader.join(timeout=5)
        print("".join(lines))


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_runserver_request_lines_redact_signed_link_tokens(runserver):
    get, lines = runserver
    token = unsubscribe_token(LeadFactory().pk)

    statuses = (get(f"/u/{token}/"), get("/r/eyJyIjoxfQ:1xV:not-a-real-signature/"))
    # The server prints a request's line once it has answered it.
    assert wait_for(lambda: sum('"GET /' in line for line in lines) == 2, 10)

    output = "".join(lines)
    assert statuses == (200, 404)
    assert '"GET /u/…/ HTTP/1.1" 200' in output
    assert '"GET /r/…/ HTTP/1.1" 404' in output
    assert token not in output
    assert "not-a-real-signature" not in output
