"""The embedded servers behind `make run` and `make test`."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import redis

from devenv.servers import EmbeddedRedis, Services, ping_redis
from tests.conftest import PROJECT_ROOT


def test_servers_named_in_the_environment_are_used_and_nothing_is_started() -> None:
    services = Services()
    environ = services.start({"DATABASE_URL": "postgres://db.example/clinic", "REDIS_URL": "redis://cache:6379/0"})

    assert environ["DATABASE_URL"] == "postgres://db.example/clinic"
    assert environ["REDIS_URL"] == "redis://cache:6379/0"
    assert services.postgres is None
    assert services.redis is None


def test_embedded_redis_keeps_its_data_across_restarts(tmp_path: Path) -> None:
    first = EmbeddedRedis(data_dir=tmp_path)
    url = first.start()
    try:
        redis.Redis.from_url(url).set("clinic:test", "kept")
    finally:
        first.stop()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert not ping_redis(port), "stop() must stop the server it started"

    second = EmbeddedRedis(data_dir=tmp_path)
    url = second.start()
    try:
        assert redis.Redis.from_url(url).get("clinic:test") == b"kept"
    finally:
        second.stop()


def _other_process(data_dir: Path) -> subprocess.Popen[str]:
    """Another `make run`/`make test`: attaches to the embedded Redis, waits for a line, leaves."""
    script = (
        "import sys; from pathlib import Path; from devenv.servers import EmbeddedRedis\n"
        f"redis = EmbeddedRedis(data_dir=Path({str(data_dir)!r}))\n"
        "print(redis.start(), flush=True)\n"
        "sys.stdin.readline()\n"
        "redis.stop()\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def test_a_shared_embedded_redis_outlives_whoever_leaves_first(tmp_path: Path) -> None:
    """Two processes share one server; it stops only when the last one leaves."""
    ours = EmbeddedRedis(data_dir=tmp_path)
    url = ours.start()
    other = _other_process(tmp_path)
    try:
        assert other.stdout is not None
        assert other.stdout.readline().strip() == url, "the second process must reuse the running server"
        other.communicate("\n", timeout=30)  # it leaves first
        assert ping_redis(_port(url)), "the server must survive while we still use it"
    finally:
        ours.stop()
    assert not ping_redis(_port(url)), "the last one out stops the server"


def test_the_server_survives_its_starter_leaving_while_others_use_it(tmp_path: Path) -> None:
    starter = _other_process(tmp_path)
    assert starter.stdout is not None
    url = starter.stdout.readline().strip()
    ours = EmbeddedRedis(data_dir=tmp_path)
    try:
        assert ours.start() == url
        starter.communicate("\n", timeout=30)  # the process that launched it exits
        assert ping_redis(_port(url)), "a server still in use must not be stopped by its starter"
    finally:
        ours.stop()
    assert not ping_redis(_port(url))


def test_exec_started_in_the_background_still_stops_on_ctrl_c() -> None:
    """A shell's background job starts with SIGINT ignored; `devenv exec` must still pass Ctrl-C on."""
    command = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(120)"]
    starter = subprocess.Popen(
        [sys.executable, "-m", "devenv", "exec", "--", *command],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as `cmd &` does
    )
    try:
        assert starter.stdout is not None
        assert starter.stdout.readline().strip() == "up"
        starter.send_signal(signal.SIGINT)
        assert starter.wait(timeout=20) != 0
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait()
