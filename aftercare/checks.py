"""System checks: settings that aftercare reads, validated at start-up (not in settings.py,
which imports no app code)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from aftercare.timing import QuietHours

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}  # noqa: S104 - names to recognise, not to bind


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


@register()
def check_clinical_alert_email(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    address = settings.CLINIC_CLINICAL_ALERT_EMAIL
    if not address:
        return []
    try:
        validate_email(address)
    except ValidationError:
        return [
            Error(
                f"CLINIC_CLINICAL_ALERT_EMAIL={address!r} is not an email address",
                hint="Name the clinical inbox that hears of red flags, e.g. clinical@clinic.example.com.",
                id="aftercare.E002",
            )
        ]
    return []


@register(deploy=True)
def check_red_flags_reach_someone(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """In production, red-flag alerts need a clinical inbox of last resort and links that open."""
    found: list[CheckMessage] = []
    if not settings.CLINIC_CLINICAL_ALERT_EMAIL:
        found.append(
            Warning(
                "CLINIC_CLINICAL_ALERT_EMAIL is not set: a red flag at a location without a clinical "
                "contact, or about a patient with no known location, reaches no clinical inbox.",
                hint="Set it to a monitored clinical inbox.",
                id="aftercare.W001",
            )
        )
    if urlsplit(settings.SITE_URL).hostname in LOCAL_HOSTS:
        found.append(
            Warning(
                f"SITE_URL={settings.SITE_URL!r} names this machine: links in red-flag alerts will not open elsewhere.",
                hint="Set SITE_URL to the address staff use, e.g. https://clinic.example.com.",
                id="aftercare.W002",
            )
        )
    return found
