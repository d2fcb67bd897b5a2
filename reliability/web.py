"""The processes a reliability run starts: a throwaway database, gunicorn as production runs it, Celery workers.

Each is a context manager that stops what it started, by process id (or by
process group, for a server and its workers), never by name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# What a TLS-terminating proxy in front of gunicorn adds (SECURE_PROXY_SSL_HEADER): with DEBUG off, plain
# HTTP would be redirected to HTTPS.
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


@contextmanager
def throwaway_database() -> Iterator[str]:
    """Create a fresh, migrated database beside the configured one (as the test suite does); drop it on exit."""
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        yield name
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def production_environ(**overrides: str) -> dict[str, str]:
    """The environment of a web or worker process: this database and Redis, DEBUG off, as in production.

    The per-key rate limit is raised so a run measures the server, not the
    budget (the limiter still runs: one Redis call per request).
    """
    from django.conf import settings

    from benchmarks.dispatch import database_url

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_DEBUG": "false",
        "API_KEY_RATE": "1000000/min",
        "AFTERCARE_QUIET_HOURS": "00:00-00:00",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


def stop_group(process: subprocess.Popen[bytes], *, timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL after `timeout`: `process` and everything in its session."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def log_tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


@contextmanager
def gunicorn(*, port: int, workers: int, environ: dict[str, str], log: Path) -> Iterator[str]:
    """gunicorn with the project's gunicorn.conf.py on 127.0.0.1:`port`; yield its base URL once /healthz answers."""
    environ = {**environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers)}
    with log.open("ab") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "clinic.wsgi:application"],
            cwd=PROJECT_ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({server.returncode}):\n{log_tail(log)}")
            try:
                if requests.get(f"{base}/healthz", headers=PROXY_HEADERS, timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass  # not listening yet, or still importing
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer /healthz within 60 s:\n{log_tail(log)}")
            time.sleep(0.2)
        yield base
    finally:
        stop_group(server)


def celery_worker_start(*, name: str, concurrency: int, environ: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A real prefork `celery worker` on the default queue, in a session of its own (so it can be killed whole)."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "clinic",
        "worker",
        "--concurrency",
        str(concurrency),
        "--pool",
        "prefork",
        "--loglevel",
        "WARNING",
        "--without-mingle",
        "--without-gossip",
        "--hostname",
        f"{name}@%h",
    ]
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, cwd=PROJECT_ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
