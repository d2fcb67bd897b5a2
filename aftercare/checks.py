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


# Transports that write messages where no patient reads them: development only.
DEVELOPMENT_SMS = {"aftercare.channels.sms.ConsoleSmsTransport", "aftercare.channels.sms.FileSmsTransport"}
DEVELOPMENT_EMAIL = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}


@register()
def check_messages_reach_patients(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """With DEBUG off, aftercare must really be sent: a console or file transport would mark texts sent
    that no patient received. An error, so `migrate` (and with it the deployment) refuses to go on."""
    if settings.DEBUG:
        return []
    found: list[CheckMessage] = []
    if settings.SMS_BACKEND in DEVELOPMENT_SMS:
        found.append(
            Error(
                f"SMS_BACKEND={settings.SMS_BACKEND!r} with DEBUG off: aftercare texts would go to a log or a "
                "file and be marked sent.",
                hint="Set SMS_BACKEND=aftercare.channels.sms.TwilioSmsTransport and the TWILIO_* settings.",
                id="aftercare.E003",
            )
        )
    if settings.EMAIL_BACKEND in DEVELOPMENT_EMAIL:
        found.append(
            Error(
                f"EMAIL_BACKEND={settings.EMAIL_BACKEND!r} with DEBUG off: aftercare emails would not be sent.",
                hint="Use SMTP (the default, django.core.mail.backends.smtp.EmailBackend) with EMAIL_HOST.",
                id="aftercare.E004",
            )
        )
    return found
