"""/healthz: 200 when PostgreSQL, Redis and migrations are fine; 503 naming what failed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from clinic.services import heartbeat_record


@pytest.mark.django_db
def test_healthy_when_database_redis_and_migrations_answer(client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["failed"] == []
    assert body["checks"] == {"database": {"ok": True}, "redis": {"ok": True}, "migrations": {"ok": True}}


@pytest.mark.django_db
def test_unavailable_naming_redis_when_redis_is_stopped(client, settings, private_redis) -> None:
    url, redis_process = private_redis
    settings.REDIS_URL = url
    assert client.get("/healthz").status_code == 200  # the private server answers at first

    redis_process.terminate()
    redis_process.wait(timeout=10)
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["redis"]
    assert body["checks"]["redis"]["ok"] is False
    assert "error" in body["checks"]["redis"]
    assert body["checks"]["database"] == {"ok": True}


@pytest.mark.django_db
def test_celery_heartbeat_is_reported_without_failing_the_check(client, settings) -> None:
    settings.HEARTBEAT_MAX_AGE_SECONDS = 120

    assert client.get("/healthz").json()["celery"] == {"ok": False, "last_seen_at": None}

    heartbeat_record(name="celery", hostname="worker@test", at=timezone.now() - timedelta(seconds=10))
    fresh = client.get("/healthz").json()["celery"]
    assert fresh["ok"] is True
    assert fresh["worker"] == "worker@test"

    heartbeat_record(name="celery", hostname="worker@test", at=timezone.now() - timedelta(minutes=5))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["celery"]["ok"] is False


def test_only_get_is_allowed(client) -> None:
    assert client.post("/healthz").status_code == 405
