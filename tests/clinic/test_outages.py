"""PostgreSQL or Redis not answering is a 503 with Retry-After (JSON under /api/, a plain page for staff), never a
500, and the web recovers by itself once the service is back.

The web server is production's (gunicorn with gunicorn.conf.py, DEBUG off),
talking to the test database through a TCP doorway the test shuts and opens
(tests.clinic.severable_proxy): connects are refused and open connections
cut, as in a restart. Nothing in Django or psycopg is mocked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
import requests
from django.db import OperationalError, connection
from django.test import RequestFactory

from clinic.outages import OutageMiddleware, server_error
from devenv.servers import free_port
from integrations.services import api_key_create
from tests.clinic.severable_proxy import SeverableProxy, postgres_connector
from tests.factories import PatientFactory

ROOT = Path(__file__).resolve().parents[2]


def assert_api_503(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Retry-After"] == "5"
    body = response.json()
    assert body["type"] == "server_error"
    assert [error["code"] for error in body["errors"]] == ["service_unavailable"]
    assert "PostgreSQL" in body["errors"][0]["detail"]


@pytest.fixture
def proxy() -> Iterator[SeverableProxy]:
    settings_dict = connection.settings_dict
    port = int(settings_dict["PORT"]) if settings_dict["PORT"] else None
    doorway = SeverableProxy(postgres_connector(settings_dict["HOST"] or "", port))
    doorway.start()
    try:
        yield doorway
    finally:
        doorway.sever()


@pytest.fixture
def web(transactional_db, proxy: SeverableProxy, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """gunicorn on the test database through `proxy`; yields (base URL, its log)."""
    settings_dict = connection.settings_dict
    credentials = quote(settings_dict["USER"] or "", safe="")
    if settings_dict["PASSWORD"]:
        credentials += ":" + quote(settings_dict["PASSWORD"], safe="")
    port = free_port()
    environ = {
        **os.environ,
        "DATABASE_URL": f"postgres://{credentials}@127.0.0.1:{proxy.port}/{settings_dict['NAME']}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "DJANGO_DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
    }
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "clinic.wsgi:application"], cwd=ROOT, env=environ, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, log.read_text()
                assert server.poll() is None, log.read_text()
                time.sleep(0.2)
        yield base, log
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_with_the_database_gone_every_door_answers_503_and_the_web_recovers_by_itself_when_it_returns(
    web: tuple[str, Path], proxy: SeverableProxy
) -> None:
    base, log = web
    PatientFactory(first_name="Amelia", last_name="Hartley", email="amelia.hartley@patients.example")
    _, raw_key = api_key_create(name="Booking app", scopes=["read", "book"], actor=None)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {raw_key}"
    assert api.get(f"{base}/api/v1/patients/", timeout=10).status_code == 200  # a connection is kept open now

    proxy.sever()

    # A read: the key is looked up in the view, so the error leaves a DRF view.
    assert_api_503(api.get(f"{base}/api/v1/patients/", timeout=10))
    # A write with an Idempotency-Key: the key is claimed in a middleware, before any view.
    new_patient = {
        "first_name": "Beatrice",
        "last_name": "Quill",
        "email": "beatrice.quill@patients.example",
        "phone": "+447400123456",
        "date_of_birth": "1990-05-01",
    }
    key = str(uuid.uuid4())
    assert_api_503(api.post(f"{base}/api/v1/patients/", json=new_patient, headers={"Idempotency-Key": key}, timeout=10))
    # A staff page with a session: the session is read from the database.
    stale_session = {"sessionid": "x" * 32}
    staff_page = requests.get(f"{base}/admin/", cookies=stale_session, allow_redirects=False, timeout=10)
    assert staff_page.status_code == 503
    assert staff_page.headers["Content-Type"].startswith("text/html")
    assert staff_page.headers["Retry-After"] == "5"
    assert "Temporarily unavailable" in staff_page.text
    # Health says which.
    health = requests.get(f"{base}/healthz", timeout=10)
    assert health.status_code == 503
    assert "database" in health.json()["failed"]

    proxy.restore()
    cut_ended = time.monotonic()
    while (answer := api.get(f"{base}/api/v1/patients/", timeout=10)).status_code != 200:
        assert answer.status_code == 503, answer.text
        assert time.monotonic() - cut_ended < 10, "the web did not reconnect within 10 s"
        time.sleep(0.1)
    # The refused write, retried with its key, goes through once.
    created = api.post(f"{base}/api/v1/patients/", json=new_patient, headers={"Idempotency-Key": key}, timeout=10)
    assert created.status_code == 201, created.text
    assert requests.get(f"{base}/admin/", cookies=stale_session, allow_redirects=False, timeout=10).status_code == 302

    time.sleep(0.5)  # gunicorn writes its access line after the response
    logged = log.read_text()
    assert "PostgreSQL unavailable: answered 503 to GET /api/v1/patients/" in logged
    assert "PostgreSQL unavailable: answered 503 to POST /api/v1/patients/" in logged
    assert "PostgreSQL unavailable: answered 503 to GET /admin/" in logged
    assert " 500 " not in logged
    for patient_data in ("Amelia", "Hartley", "amelia.hartley", "Beatrice", "Quill", "447400123456"):
        assert patient_data not in logged


def redis_connection_error() -> redis.ConnectionError:
    """The error redis-py really raises when nothing listens on the port."""
    try:
        redis.Redis(port=free_port(), socket_connect_timeout=1).ping()
    except redis.ConnectionError as error:
        return error
    raise AssertionError("something answered on a free port")


def test_redis_unreachable_in_an_api_view_is_a_json_503_and_on_a_staff_page_a_plain_one() -> None:
    error = redis_connection_error()
    middleware = OutageMiddleware(lambda request: pytest.fail("not called"))

    api = middleware.process_exception(RequestFactory().post("/api/v1/sessions/"), error)
    page = middleware.process_exception(RequestFactory().get("/frontdesk/worklist/"), error)

    assert api is not None
    assert api.status_code == 503
    assert api["Retry-After"] == "5"
    assert b'"service_unavailable"' in api.content
    assert b"Redis is not answering" in api.content
    assert page is not None
    assert page.status_code == 503
    assert page["Content-Type"].startswith("text/html")
    assert b"message queue" in page.content


def test_other_errors_are_left_to_django_and_drf() -> None:
    middleware = OutageMiddleware(lambda request: pytest.fail("not called"))

    assert middleware.process_exception(RequestFactory().get("/api/v1/patients/"), ValueError("a bug")) is None


def test_the_500_handler_answers_503_for_an_outage_and_a_json_500_for_a_bug_under_the_api() -> None:
    import psycopg

    request = RequestFactory().get("/api/v1/patients/")
    try:
        try:
            psycopg.connect(host="127.0.0.1", port=free_port(), connect_timeout=2)
        except psycopg.OperationalError as cause:
            raise OperationalError(str(cause)) from cause
    except OperationalError:
        outage = server_error(request)
    try:
        raise KeyError("a bug")
    except KeyError:
        bug = server_error(request)

    assert outage.status_code == 503
    assert outage["Retry-After"] == "5"
    assert bug.status_code == 500
    assert bug["Content-Type"] == "application/json"
    assert b'"server_error"' in bug.content
