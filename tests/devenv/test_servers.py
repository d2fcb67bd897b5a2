"""The embedded servers behind `make run` and `make test`."""

from __future__ import annotations

from pathlib import Path

import redis

from devenv.servers import EmbeddedRedis, Services, ping_redis


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


def test_a_running_embedded_redis_is_reused_and_left_running(tmp_path: Path) -> None:
    owner = EmbeddedRedis(data_dir=tmp_path)
    url = owner.start()
    try:
        guest = EmbeddedRedis(data_dir=tmp_path)
        assert guest.start() == url
        guest.stop()
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        assert ping_redis(port), "a server another process started must survive our stop()"
    finally:
        owner.stop()
