"""`/healthz`: can this web process do its job right now?

200 when PostgreSQL answers, every migration is applied and Redis answers;
503 naming each failed check otherwise. The Celery heartbeat is reported but
does not fail the check: a stalled worker must not make a load balancer pull
healthy web servers out of rotation.
"""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from clinic.models import Heartbeat


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return {"ok": False, "error": str(exc).strip() or exc.__class__.__name__}
    return {"ok": True}


def check_migrations() -> dict[str, Any]:
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return {"ok": False, "error": str(exc).strip() or exc.__class__.__name__}
    unapplied = [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]
    if unapplied:
        return {"ok": False, "error": "unapplied migrations", "unapplied": unapplied}
    return {"ok": True}


def check_redis() -> dict[str, Any]:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        return {"ok": False, "error": str(exc) or exc.__class__.__name__}
    finally:
        client.close()
    return {"ok": True}


def celery_heartbeat() -> dict[str, Any]:
    try:
        heartbeat = Heartbeat.objects.filter(name="celery").first()
    except DatabaseError:
        return {"ok": False, "last_seen_at": None}
    if heartbeat is None:
        return {"ok": False, "last_seen_at": None}
    age = (timezone.now() - heartbeat.last_seen_at).total_seconds()
    return {
        "ok": age <= settings.HEARTBEAT_MAX_AGE_SECONDS,
        "last_seen_at": heartbeat.last_seen_at.isoformat(),
        "age_seconds": round(age, 1),
        "worker": heartbeat.hostname,
    }


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": check_database(), "redis": check_redis()}
    checks["migrations"] = check_migrations() if checks["database"]["ok"] else {"ok": False, "error": "database down"}
    failed = sorted(name for name, result in checks.items() if not result["ok"])
    body = {
        "status": "ok" if not failed else "unavailable",
        "failed": failed,
        "checks": checks,
        "celery": celery_heartbeat() if checks["database"]["ok"] else {"ok": False, "last_seen_at": None},
    }
    return JsonResponse(body, status=503 if failed else 200)
