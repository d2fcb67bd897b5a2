"""System checks: settings that aftercare reads, validated at start-up (not in settings.py,
which imports no app code)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from aftercare.timing import QuietHours


@register()
def check_quiet_hours(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        QuietHours.parse(settings.AFTERCARE_QUIET_HOURS)
    except ValueError as exc:
        return [
            Error(
                f"AFTERCARE_QUIET_HOURS={settings.AFTERCARE_QUIET_HOURS!r}: {exc}",
                hint='Give local times as "HH:MM-HH:MM", for example "20:00-09:00".',
                id="aftercare.E001",
            )
        ]
    return []
