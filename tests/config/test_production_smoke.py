"""`.ci/production-smoke` (run by CI on PostgreSQL + Redis) reads its commands from README.md's production block:
that block must hold what the smoke run needs, and the script must run exactly those lines."""

import re
import subprocess

from tests.workers import ROOT


def smoke_commands() -> list[str]:
    result = subprocess.run(
        [str(ROOT / ".ci" / "production-smoke"), "--print"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_production_smoke_runs_the_readme_commands_with_only_the_port_changed():
    readme = (ROOT / "README.md").read_text()

    commands = smoke_commands()

    assert len(commands) == 6
    for command in commands:
        assert re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:8000", command) in readme


def test_production_readme_commands_name_each_worker_and_bind_gunicorn_to_loopback():
    commands = smoke_commands()

    assert commands[:2] == [
        ".venv/bin/python manage.py migrate --noinput",
        ".venv/bin/python manage.py collectstatic --noinput",
    ]
    assert re.fullmatch(r"\.venv/bin/gunicorn config\.wsgi --workers 2 --bind 127\.0\.0\.1:\d+", commands[2])
    workers = [c for c in commands if " worker " in c]
    assert [re.search(r" -n (\S+)", c).group(1) for c in workers] == ["worker1@%h", "worker2@%h"]
    assert [c for c in commands if c.endswith(" beat -l INFO")] == [".venv/bin/celery -A config beat -l INFO"]
