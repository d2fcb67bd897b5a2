"""Smoke test of a running `make run`: what a newcomer would click through."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests

ROOT = Path(__file__).resolve().parent.parent

T = TypeVar("T")


def wait_for(description: str, check: Callable[[], T | None], timeout: float, log: Path) -> T:
    """Return the first truthy result of `check()`; exit with the log's tail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: object = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except requests.RequestException as exc:
            last_error = exc
        time.sleep(1)
    print(f"timed out after {timeout:.0f}s waiting for {description} (last error: {last_error})", file=sys.stderr)
    print(log.read_text()[-4000:], file=sys.stderr)
    sys.exit(1)


def smoke(base: str, log: Path) -> None:
    def healthy() -> dict[str, Any] | None:
        response = requests.get(f"{base}/healthz", timeout=5)
        return response.json() if response.status_code == 200 else None

    health = wait_for("/healthz to answer 200", healthy, 300, log)
    print("healthz:", health)

    def heartbeat() -> dict[str, Any] | None:
        body = requests.get(f"{base}/healthz", timeout=5).json()
        return body if body["celery"]["ok"] else None

    health = wait_for("a Celery heartbeat (beat scheduled it, a worker ran it)", heartbeat, 150, log)
    print("celery heartbeat:", health["celery"])

    match = re.search(r"Login:\s+(\S+) / (\S+)", log.read_text())
    if not match:
        sys.exit("make run printed no admin login")
    username, password = match.groups()

    session = requests.Session()
    login_page = session.get(f"{base}/admin/login/", timeout=10)
    assert login_page.status_code == 200, login_page.status_code
    response = session.post(
        f"{base}/admin/login/?next=/admin/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": f"{base}/admin/login/"},
        timeout=10,
    )
    assert response.status_code == 200 and response.url.rstrip("/").endswith("/admin"), response.url
    assert "Log out" in response.text or "logout" in response.text, "admin index did not load after login"
    print(f"admin login as {username}: ok")

    changelist = session.get(f"{base}/admin/patients/patient/", timeout=10)
    assert changelist.status_code == 200 and "Hart" in changelist.text, changelist.status_code
    print("admin patient list: ok")

    patients = session.get(f"{base}/api/v1/patients/", timeout=10)
    assert patients.status_code == 200, patients.text
    body = patients.json()
    assert body["count"] >= 5, body
    print(f"API patients: {body['count']} listed")

    created = session.post(
        f"{base}/api/v1/patients/",
        json={
            "first_name": "Smoke",
            "last_name": f"Test{int(time.time())}",
            "email": "smoke@example.com",
            "date_of_birth": "1990-01-01",
        },
        headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{base}/"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    print("API create patient: ok", created.json()["id"])

    anonymous = requests.get(f"{base}/api/v1/patients/", timeout=10)
    assert anonymous.status_code == 401, anonymous.status_code
    assert anonymous.headers.get("WWW-Authenticate") == "Bearer", anonymous.headers

    docs = requests.get(f"{base}/api/docs/", timeout=10)
    assert docs.status_code == 200 and "swagger" in docs.text.lower(), docs.status_code
    bundle = re.search(r'src="([^"]*swagger-ui-bundle\.js)"', docs.text)
    assert bundle, "docs page does not load Swagger UI from our static files"
    asset = requests.get(f"{base}{bundle.group(1)}", timeout=10)
    assert asset.status_code == 200, f"{bundle.group(1)} -> {asset.status_code}"
    schema = requests.get(f"{base}/api/schema/", headers={"Accept": "application/json"}, timeout=10)
    assert schema.status_code == 200 and "/api/v1/patients/" in schema.text
    print("API docs and schema: ok")


def check_stopped(log: Path) -> None:
    """After Ctrl-C, the embedded servers must be gone."""
    redis_pid = ROOT / ".devdata" / "redis" / "redis.pid"
    if redis_pid.exists():
        pid = int(redis_pid.read_text())
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            pass
        else:
            sys.exit(f"embedded Redis (pid {pid}) still running after make run stopped")
    if (ROOT / ".devdata" / "postgres" / "postmaster.pid").exists():
        sys.exit("embedded PostgreSQL still running after make run stopped")
    print("make run stopped cleanly: web, worker, beat, Redis and PostgreSQL are down")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url")
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--check-stopped", action="store_true")
    args = parser.parse_args()
    if args.check_stopped:
        check_stopped(args.log)
    else:
        smoke(args.base_url.rstrip("/"), args.log)


if __name__ == "__main__":
    main()
