"""Writes owned by the project app itself."""

from datetime import datetime

from django.utils import timezone

from clinic.models import Heartbeat


def heartbeat_record(*, name: str, hostname: str, at: datetime | None = None) -> Heartbeat:
    """Upsert the heartbeat row `name`; return it."""
    heartbeat, _ = Heartbeat.objects.update_or_create(
        name=name, defaults={"last_seen_at": at or timezone.now(), "hostname": hostname[:255]}
    )
    return heartbeat
