"""`make run`'s web process survives a small burst (issue 11): runserver's listen backlog of 10 reset the
eleventh client, and persistent connections from its thread-per-request exhausted the database."""

from __future__ import annotations

import http.client
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import psycopg
import pytest

from devenv.servers import free_port, project_environ
from tests.conftest import PROJECT_ROOT

BURST = 60


def procfile_web_command(port: int) -> tuple[dict[str, str], list[str]]:
    """What Procfile.dev runs for `web` (its environment assignments and command), without the autoreloader."""
    line = next(line for line in (PROJECT_ROOT / "Procfile.dev").read_text().splitlines() if line.startswith("web:"))
    words = shlex.split(line.removeprefix("web:").replace("$PORT", str(port)))
    assignments = dict(word.split("=", 1) for word in words if "=" in word and not word.startswith("-"))
    command = [word for word in words if word not in {f"{k}={v}" for k, v in assignments.items()}]
    assert command[0] == "python"
    return assignments, [sys.executable, *command[1:], "--noreload"]


def get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def database_connections(url: str) -> int:
    parts = urlparse(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name]
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def web_server():
    port = free_port()
    assignments, command = procfile_web_command(port)
    environ = {**project_environ(), **assignments}
    server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(port, "/api/v1/")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(server.stderr.read().decode() if server.stderr else "no output") from None
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_a_burst_of_clients_is_served_and_leaves_no_database_connections_behind(web_server) -> None:
    before = database_connections(os.environ["DATABASE_URL"])
    with ThreadPoolExecutor(max_workers=BURST) as pool:
        statuses = list(pool.map(lambda _: get(web_server, "/healthz"), range(BURST)))

    assert len(statuses) == BURST, "every client got an HTTP answer: none was reset"
    assert all(status in (200, 503) for status in statuses), statuses  # 503: this dev database is not migrated
    # One connection per request, closed at its end: nothing piles up towards max_connections.
    deadline = time.monotonic() + 10
    while database_connections(os.environ["DATABASE_URL"]) > before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert database_connections(os.environ["DATABASE_URL"]) <= before
