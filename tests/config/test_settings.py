"""Settings as each process really gets them: read in a fresh interpreter with only the environment it is given."""

import json
import os
import re
import subprocess
import sys

import pytest
from django.urls import reverse

from tests.workers import ROOT, database_url_for_worker

# Variables that would change what these tests read if the shell running pytest happened to set them.
READS = ("SITE_URL", "PORT", "CONN_MAX_AGE", "COMPANY_NAME", "DJANGO_SETTINGS_MODULE", "DATABASE_URL")

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "passthrough.example",
    "EMAIL_URL": "smtp+tls://mail.passthrough.example:587",
}

# A request's life as Django's handlers signal it: a connection opened during one request, then the next request.
REUSE_SCRIPT = """
import json, django
django.setup()
from django.core import signals
from django.db import connection
signals.request_started.send(sender=None)
connection.ensure_connection()
first = connection.connection
signals.request_finished.send(sender=None)
signals.request_started.send(sender=None)
print(json.dumps({
    "conn_max_age": connection.settings_dict["CONN_MAX_AGE"],
    "health_checks": connection.settings_dict["CONN_HEALTH_CHECKS"],
    "reused": first is not None and connection.connection is first,
}))
"""


def settings_in_subprocess(env: dict[str, str], script: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in READS}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def read_settings(env: dict[str, str], *names: str) -> dict:
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}))"
    )
    return settings_in_subprocess({"DJANGO_SETTINGS_MODULE": "config.settings.local", **env}, script)


@pytest.mark.django_db
def test_production_reuses_database_connections_with_health_checks():
    env = {**PRODUCTION, "DATABASE_URL": database_url_for_worker()}

    effective = settings_in_subprocess(env, REUSE_SCRIPT)

    assert effective == {"conn_max_age": 60, "health_checks": True, "reused": True}


@pytest.mark.django_db
def test_production_conn_max_age_comes_from_the_environment():
    env = {**PRODUCTION, "DATABASE_URL": database_url_for_worker(), "CONN_MAX_AGE": "0"}

    effective = settings_in_subprocess(env, REUSE_SCRIPT)

    assert effective == {"conn_max_age": 0, "health_checks": True, "reused": False}


def test_site_url_and_company_name_defaults():
    assert read_settings({}, "SITE_URL", "COMPANY_NAME") == {
        "SITE_URL": "http://127.0.0.1:8000",
        "COMPANY_NAME": "Passthrough demo company",
    }


def test_site_url_follows_the_development_servers_port_and_company_name_the_environment():
    assert read_settings({"PORT": "9123", "COMPANY_NAME": "Example Ltd"}, "SITE_URL", "COMPANY_NAME") == {
        "SITE_URL": "http://127.0.0.1:9123",
        "COMPANY_NAME": "Example Ltd",
    }


def test_site_url_from_the_environment_wins_over_the_port():
    assert read_settings({"PORT": "9123", "SITE_URL": "https://passthrough.example"}, "SITE_URL") == {
        "SITE_URL": "https://passthrough.example"
    }


def test_make_run_passes_its_port_to_every_process_it_starts():
    result = subprocess.run(["make", "-n", "run", "PORT=9123"], cwd=ROOT, capture_output=True, text=True, timeout=60)

    lines = [line.strip() for line in result.stdout.splitlines()]
    assert "PORT=9123 .venv/bin/python manage.py seed_demo" in lines
    assert any(line.startswith("PORT=9123 .venv/bin/celery -A config worker --beat") for line in lines)
    assert "PORT=9123 .venv/bin/python manage.py runserver 127.0.0.1:9123" in lines


@pytest.mark.django_db
def test_pages_get_the_company_name_and_site_url(client, sales_user, settings):
    settings.COMPANY_NAME = "Example Ltd"
    settings.SITE_URL = "https://passthrough.example/"
    client.force_login(sales_user)

    response = client.get(reverse("home"))

    assert (response.context["company_name"], response.context["site_url"]) == (
        "Example Ltd",
        "https://passthrough.example",
    )


def test_env_example_lists_every_variable_the_settings_read():
    source = "\n".join(path.read_text() for path in sorted((ROOT / "config" / "settings").glob("*.py")))
    names = set(re.findall(r"""(?:env\.\w+|environ\.get|Env\(\)\.str)\(\s*["']([A-Z][A-Z0-9_]+)["']""", source))
    names |= set(re.findall(r"""environ\[["']([A-Z][A-Z0-9_]+)["']\]""", source))
    listed = set(re.findall(r"\b([A-Z][A-Z0-9_]+)\b", (ROOT / ".env.example").read_text()))

    assert {"DATABASE_URL", "SITE_URL", "COMPANY_NAME", "CONN_MAX_AGE"} <= names
    assert sorted(names - listed) == []
