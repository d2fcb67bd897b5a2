"""Production's web server, as docker-compose starts it: gunicorn with the project's gunicorn.conf.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from devenv.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_the_access_log_carries_the_path_but_never_the_query_string(tmp_path: Path) -> None:
    """Searches put names, phones and emails in the query string; the access log must not keep them."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1"}
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "clinic.wsgi:application"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    try:
        url = f"http://127.0.0.1:{port}/no-such-page/?email=amelia.hart%40example.com&phone=%2B447700900123"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=5)
            except urllib.error.HTTPError as answer:
                assert answer.code == 404
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        time.sleep(0.5)  # the access line is written after the response
    finally:
        server.terminate()
        server.wait(timeout=30)
    lines = [line for line in log.read_text().splitlines() if '"GET /no-such-page/' in line]
    assert lines, log.read_text()
    assert '"GET /no-such-page/ HTTP/1.1" 404' in lines[0]
    assert "amelia" not in log.read_text()
    assert "447700900123" not in log.read_text()
