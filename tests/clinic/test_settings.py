"""Settings come from the environment and fail loudly on bad values."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from clinic.settings import env_bool, env_int, env_required
from tests.conftest import PROJECT_ROOT


def production_environ(**overrides: str) -> dict[str, str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "EMAIL_BACKEND", "SMS_BACKEND"}
    }
    environ.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="clinic.example.com",
        DJANGO_DEBUG="false",
        CSRF_TRUSTED_ORIGINS="https://clinic.example.com",
        SITE_URL="https://clinic.example.com",
        CLINIC_CLINICAL_ALERT_EMAIL="clinical@clinic.example.com",
    )
    environ.update(overrides)
    return environ


def manage(*args: str, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_check_passes_with_production_values() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", environ=production_environ())
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_fails_when_debug_is_left_on() -> None:
    # The same check is able to fail: DEBUG in production is a deploy warning.
    result = manage("check", "--deploy", "--fail-level", "WARNING", environ=production_environ(DJANGO_DEBUG="true"))
    assert result.returncode != 0
    assert "security.W018" in result.stderr


@pytest.mark.parametrize(
    ("setting", "value", "code"),
    [
        ("SMS_BACKEND", "aftercare.channels.sms.ConsoleSmsTransport", "aftercare.E003"),
        ("SMS_BACKEND", "aftercare.channels.sms.FileSmsTransport", "aftercare.E003"),
        ("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend", "aftercare.E004"),
    ],
)
def test_production_refuses_transports_that_send_nothing(setting: str, value: str, code: str) -> None:
    """Texts written to a log would be marked sent and never reach the patient: migrate refuses to go on."""
    result = manage("migrate", "--check", environ=production_environ(**{setting: value}))
    assert result.returncode != 0
    assert code in result.stderr
    # Unset, production sends SMS through Twilio (and needs its settings), never to the console.
    assert manage("check", environ=production_environ()).returncode == 0


def test_a_malformed_clinic_phone_stops_startup_naming_it() -> None:
    result = manage("check", environ=production_environ(CLINIC_PHONE="020 7946 0000"))
    assert result.returncode != 0
    assert "CLINIC_PHONE='020 7946 0000' must be an E.164 number" in result.stderr

    assert manage("check", environ=production_environ(CLINIC_PHONE="+442079460000")).returncode == 0


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL"])
def test_missing_required_variable_stops_startup_naming_it(missing: str) -> None:
    environ = production_environ()
    environ.pop(missing, None)
    result = manage("check", environ=environ)
    assert result.returncode != 0
    assert f"Set the {missing} environment variable" in result.stderr


def test_a_non_postgres_database_is_refused() -> None:
    result = manage("check", environ=production_environ(DATABASE_URL="sqlite:///tmp/clinic.db"))
    assert result.returncode != 0
    assert "DATABASE_URL must point at PostgreSQL" in result.stderr


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("ON", True), ("no", False), ("0", False)])
def test_env_bool_reads_clear_values(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("CLINIC_TEST_FLAG", raw)
    assert env_bool("CLINIC_TEST_FLAG", default=not expected) is expected


def test_env_bool_uses_default_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLINIC_TEST_FLAG", raising=False)
    assert env_bool("CLINIC_TEST_FLAG", default=True) is True


def test_env_bool_refuses_a_typo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_TEST_FLAG", "flase")
    with pytest.raises(ImproperlyConfigured, match="CLINIC_TEST_FLAG='flase' is not a boolean"):
        env_bool("CLINIC_TEST_FLAG", default=False)


def test_env_int_refuses_garbage_and_values_below_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_TEST_INT", "ten")
    with pytest.raises(ImproperlyConfigured, match="is not an integer"):
        env_int("CLINIC_TEST_INT", default=1)
    monkeypatch.setenv("CLINIC_TEST_INT", "0")
    with pytest.raises(ImproperlyConfigured, match="must be at least 1"):
        env_int("CLINIC_TEST_INT", default=5, minimum=1)
    monkeypatch.setenv("CLINIC_TEST_INT", "42")
    assert env_int("CLINIC_TEST_INT", default=5, minimum=1) == 42


def test_env_required_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_TEST_REQUIRED", "")
    with pytest.raises(ImproperlyConfigured, match="Set the CLINIC_TEST_REQUIRED environment variable"):
        env_required("CLINIC_TEST_REQUIRED")


def test_a_typo_in_debug_stops_startup() -> None:
    result = manage("check", environ=production_environ(DJANGO_DEBUG="ture"))
    assert result.returncode != 0
    assert "DJANGO_DEBUG='ture' is not a boolean" in result.stderr


def test_malformed_quiet_hours_fail_the_system_check_naming_the_variable() -> None:
    result = manage("check", environ=production_environ(AFTERCARE_QUIET_HOURS="8pm-9am"))
    assert result.returncode != 0
    assert "aftercare.E001" in result.stderr
    assert "AFTERCARE_QUIET_HOURS='8pm-9am'" in result.stderr
    assert manage("check", environ=production_environ(AFTERCARE_QUIET_HOURS="21:00-08:30")).returncode == 0


# --- red flags must reach someone, with a link that opens --------------------------------


@pytest.mark.parametrize(
    ("unset", "warning"),
    [
        ({"SITE_URL": None}, "aftercare.W002"),  # the development default, http://127.0.0.1:8000
        ({"SITE_URL": "http://localhost:8000"}, "aftercare.W002"),
        ({"CLINIC_CLINICAL_ALERT_EMAIL": None}, "aftercare.W001"),
    ],
    ids=["site-url-default", "site-url-localhost", "no-clinical-inbox"],
)
def test_the_deploy_check_warns_when_red_flag_alerts_would_reach_nobody_or_link_nowhere(
    unset: dict[str, str | None], warning: str
) -> None:
    environ = production_environ()
    for name, value in unset.items():
        if value is None:
            environ.pop(name)
        else:
            environ[name] = value

    result = manage("check", "--deploy", "--fail-level", "WARNING", environ=environ)

    assert result.returncode != 0
    assert warning in result.stderr


def test_a_site_url_that_is_not_absolute_stops_startup() -> None:
    result = manage("check", environ=production_environ(SITE_URL="clinic.example.com"))
    assert result.returncode != 0
    assert "SITE_URL='clinic.example.com' must be an absolute URL" in result.stderr


def test_a_malformed_clinical_alert_email_fails_the_system_check_naming_the_variable() -> None:
    result = manage("check", environ=production_environ(CLINIC_CLINICAL_ALERT_EMAIL="clinical lead"))
    assert result.returncode != 0
    assert "aftercare.E002" in result.stderr
    assert "CLINIC_CLINICAL_ALERT_EMAIL='clinical lead'" in result.stderr
