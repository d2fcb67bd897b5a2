"""Settings for the clinic backend.

Everything comes from environment variables; there is one settings module
for every environment. Values that are required have no default and fail
loudly when missing or malformed. Development defaults (DEBUG on, a
throwaway secret) are supplied by `python -m devenv`, never here.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import environ
import phonenumbers
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# An optional .env file beside manage.py, for a developer's own overrides.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """Return the boolean in env var `name`; raise on anything but a clear yes/no.

    django-environ reads "flase" as False; a typo in DEBUG or a security flag
    must stop the process instead.
    """
    raw = env.str(name, default=None)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no, on/off)")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """Return the integer in env var `name`; raise if it is malformed or below `minimum`."""
    raw = env.str(name, default=None)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def env_required(name: str) -> str:
    """Return env var `name`; raise a message that says how to fix it when unset."""
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(
            f"Set the {name} environment variable (or run through `make run` / `make test`, "
            "which start embedded servers and fill it in)."
        )
    return value


# --- Core -------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env_required("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "phonenumber_field",
    "simple_history",
    "axes",
    "clinic",
    "patients",
    "treatments",
    "aftercare",
    "integrations",
    "frontdesk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # PostgreSQL or Redis unreachable during a view: 503 with Retry-After (and handler500 for the middlewares below).
    "clinic.outages.OutageMiddleware",
    "clinic.middleware.ApiBodyLimitMiddleware",
    "csp.middleware.CSPMiddleware",
    "clinic.middleware.NoStoreMiddleware",
    "integrations.throttling.RateLimitHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "clinic.middleware.AdminLocalTimeMiddleware",
    "integrations.idempotency.IdempotencyMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers a locked-out login.
    "axes.middleware.AxesMiddleware",
]

# Staff logins (the admin): after AXES_FAILURE_LIMIT wrong passwords for one
# username from one address, that pair is locked out for the cool-off time
# (django-axes, first backend so it sees every attempt).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, reading the user's permissions with the user (one query, not three).
    "clinic.auth_backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", default=5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", default=15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"

ROOT_URLCONF = "clinic.urls"
# Under /api/ a CSRF refusal is JSON like every API error.
CSRF_FAILURE_VIEW = "clinic.api.views.csrf_failure"
WSGI_APPLICATION = "clinic.wsgi.application"
ASGI_APPLICATION = "clinic.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------

DATABASES = {"default": env.db_url_config(env_required("DATABASE_URL"))}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    # Exclusion constraints, SKIP LOCKED and range types are PostgreSQL's.
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://…)")
# libpq's URL form for a Unix socket is a percent-encoded path as the host
# (postgres://user@%2Fvar%2Frun%2Fpostgresql/db); django-environ leaves it encoded.
DATABASES["default"]["HOST"] = unquote(DATABASES["default"]["HOST"])
DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Lets two test runs share one server without dropping each other's database.
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery ---------------------------------------------------

REDIS_URL = env_required("REDIS_URL")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "clinic",
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None  # tasks report through the database, not results
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
# A task is acknowledged after it ran, so a worker killed mid-task leaves it
# for another worker; prefetching one at a time keeps long tasks from
# hoarding messages that other workers could run.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", default=300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", default=240, minimum=1)
# Redis re-delivers unacknowledged messages after the visibility timeout; it
# must exceed the longest task, or a slow task runs twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT * 4}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {
        "task": "clinic.tasks.record_heartbeat",
        "schedule": 30.0,
    },
    "dispatch-due-messages": {
        "task": "aftercare.tasks.dispatch_due_messages",
        "schedule": 60.0,
    },
    "deliver-webhooks": {
        "task": "integrations.tasks.deliver_webhooks",
        "schedule": 60.0,
    },
    "prune-idempotency-records": {
        "task": "integrations.tasks.prune_idempotency_records",
        "schedule": 3600.0,
    },
    "schedule-followup-prompts": {
        "task": "aftercare.tasks.schedule_followup_prompts",
        "schedule": 15 * 60.0,
    },
}
# A heartbeat older than this makes /healthz report the worker or beat down.
HEARTBEAT_MAX_AGE_SECONDS = env_int("HEARTBEAT_MAX_AGE_SECONDS", default=120, minimum=1)

# --- Auth -------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# --- Internationalisation and time ------------------------------------------

# British English: staff pages read and write dates day first. Patients'
# languages (and their message templates) are LANGUAGES; "en" covers en-gb.
LANGUAGE_CODE = "en-gb"
LANGUAGES = [("en", "English"), ("es", "Español")]
# Translations of the pages patients read and the words the code adds to messages (the STOP hint).
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"  # stored and served in UTC; local times come from zoneinfo
USE_I18N = True
USE_TZ = True
CLINIC_DEFAULT_TIME_ZONE = env.str("CLINIC_DEFAULT_TIME_ZONE", default="Europe/London")
if CLINIC_DEFAULT_TIME_ZONE not in zoneinfo.available_timezones():
    raise ImproperlyConfigured(f"CLINIC_DEFAULT_TIME_ZONE={CLINIC_DEFAULT_TIME_ZONE!r} is not an IANA time zone")

# How staff pages show and read dates: one format everywhere a person reads a
# time ("Tue 3 Mar 2026 10:00"), typed day first ("03/03/2026", what the admin's
# date picker writes: it uses the first input format). Django takes formats from
# the active language's locale before these settings, and its own English ones
# are month first (en) or "10 a.m." (en_GB); clinic/formats/ repeats these
# settings as the locale's, so the admin, templates and clinic.local_time agree.
FORMAT_MODULE_PATH = ["clinic.formats"]
DATE_FORMAT = "D j M Y"  # Tue 3 Mar 2026
DATETIME_FORMAT = "D j M Y H:i"  # Tue 3 Mar 2026 10:00
TIME_FORMAT = "H:i"  # 10:00
SHORT_DATE_FORMAT = "d/m/Y"  # 03/03/2026
SHORT_DATETIME_FORMAT = "d/m/Y H:i"  # 03/03/2026 10:00
MONTH_DAY_FORMAT = "j F"  # 3 March
YEAR_MONTH_FORMAT = "F Y"  # March 2026
FIRST_DAY_OF_WEEK = 1  # Monday, in the date picker
# No two-digit years: "12/07/56" would be read as 2056, and a birth year
# silently moved by a century is worse than a refusal. ISO stays accepted
# (links and tests type it); month-first dates are refused, never guessed.
DATE_INPUT_FORMATS = ["%d/%m/%Y", "%Y-%m-%d"]
# Seconds first, as Django's default: a time shown without its seconds and
# saved back unchanged would move a session booked at 10:00:30 by the API.
TIME_INPUT_FORMATS = ["%H:%M:%S", "%H:%M", "%H:%M:%S.%f"]
DATETIME_INPUT_FORMATS = [
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
]

# --- Static files -----------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Files patients send (photos with a side-effect check-in): never under a public URL; staff read them
# through a view that checks their access to the patient. Mount a private volume here in production.
PRIVATE_FILES_ROOT = env.str("PRIVATE_FILES_ROOT", default=str(BASE_DIR / ".devdata" / "private"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_FILES_ROOT, "base_url": None, "file_permissions_mode": 0o600},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Email and SMS ----------------------------------------------------------

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env_int("EMAIL_PORT", default=587, minimum=1)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=True)
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / ".devdata" / "outbox" / "email"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="clinic@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Aftercare messages ------------------------------------------------------

# Patients are not messaged in these local hours; messages wait until the end.
# Validated by a system check (aftercare.checks): settings import no app code.
# The audit history is read, never restored: a restored version would bypass the services and their rules
# (patients.admin_clinical refuses the POST as well).
SIMPLE_HISTORY_REVERT_DISABLED = True

AFTERCARE_QUIET_HOURS = env.str("AFTERCARE_QUIET_HOURS", default="20:00-09:00")
# How long the link to a patient's page for a session works (every message about the session carries one):
# the timeline runs to month 1+, and the last prompts of a course come months after its last session.
AFTERCARE_PAGE_LINK_DAYS = env_int("AFTERCARE_PAGE_LINK_DAYS", default=180, minimum=1)
# Largest photo a patient may send with a side-effect check-in.
AFTERCARE_PHOTO_MAX_BYTES = env_int("AFTERCARE_PHOTO_MAX_BYTES", default=10 * 1024 * 1024, minimum=1024)
AFTERCARE_BATCH_SIZE = env_int("AFTERCARE_BATCH_SIZE", default=100, minimum=1)
# A row claimed for sending longer ago than this is assumed lost (its worker
# died) and is returned to the queue.
AFTERCARE_SENDING_LEASE_SECONDS = env_int("AFTERCARE_SENDING_LEASE_SECONDS", default=300, minimum=30)
AFTERCARE_MAX_ATTEMPTS = env_int("AFTERCARE_MAX_ATTEMPTS", default=6, minimum=1)
# The dispatcher runs as at most this many chains at once (aftercare.dispatch_chains):
# set it to at least the worker processes that should send (more only queue).
AFTERCARE_DISPATCH_CHAINS = env_int("AFTERCARE_DISPATCH_CHAINS", default=8, minimum=1)
# Each link of a chain sends for this long, then passes the chain on.
AFTERCARE_DISPATCH_RUN_SECONDS = env_int("AFTERCARE_DISPATCH_RUN_SECONDS", default=10, minimum=1)
# Transient failures wait base × 2^(attempt-1) seconds, at most the cap.
AFTERCARE_RETRY_BASE_SECONDS = env_int("AFTERCARE_RETRY_BASE_SECONDS", default=60, minimum=1)
AFTERCARE_RETRY_MAX_SECONDS = env_int("AFTERCARE_RETRY_MAX_SECONDS", default=6 * 3600, minimum=1)
# A booking notice (confirmation, change, cancellation) waits this long before it goes, and a change to
# the session meanwhile rewrites it instead of adding another: a receptionist fixing a typo sends one text.
AFTERCARE_BOOKING_NOTICE_DELAY_SECONDS = env_int("AFTERCARE_BOOKING_NOTICE_DELAY_SECONDS", default=300, minimum=0)
# The SMS transport is chosen like an email backend, by dotted path. The
# console default is for development: with DEBUG off, a system check
# (aftercare.E003) refuses it, and the file transport, so `migrate` fails.
SMS_BACKEND = env.str(
    "SMS_BACKEND",
    default="aftercare.channels.sms.ConsoleSmsTransport" if DEBUG else "aftercare.channels.sms.TwilioSmsTransport",
)
SMS_FILE_PATH = env.str("SMS_FILE_PATH", default=str(BASE_DIR / ".devdata" / "outbox" / "sms"))
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
CLINIC_NAME = env.str("CLINIC_NAME", default="the clinic")
# The number messages give patients when their course's location has none of its own.
CLINIC_PHONE = env.str("CLINIC_PHONE", default="")
if CLINIC_PHONE and not re.fullmatch(r"\+[1-9]\d{6,14}", CLINIC_PHONE):
    raise ImproperlyConfigured(f"CLINIC_PHONE={CLINIC_PHONE!r} must be an E.164 number, such as +442079460000")

# --- Red flags ----------------------------------------------------------------

# Besides the treating practitioner, every red flag is emailed to the
# location's clinical contact; this address stands in where none is known.
# Both are checked by system checks (aftercare.checks).
CLINIC_CLINICAL_ALERT_EMAIL = env.str("CLINIC_CLINICAL_ALERT_EMAIL", default="")
# Told to a patient who reports a severe red flag.
CLINIC_EMERGENCY_NUMBER = env.str("CLINIC_EMERGENCY_NUMBER", default="999")
# Where staff open this site: alerts link to the report's admin page under it.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
if not SITE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"SITE_URL={SITE_URL!r} must be an absolute URL, e.g. https://clinic.example.com")

# Webhooks go only to public addresses (integrations.targets); set this to
# deliver to a receiver on the clinic's own network that it trusts.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=False)

# --- Security (production values unless DEBUG) ------------------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers probe /healthz over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): our own scripts only, no inline or
# third-party script, nothing may frame the pages. Styles allow inline
# attributes (the admin's and the API docs' own); Redoc runs a worker from a blob.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# A preloaded HSTS list is an irreversible decision for the operator, not a default.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# --- REST API ---------------------------------------------------------------

REST_FRAMEWORK = {
    # Staff use session login; booking software sends `Authorization: Bearer
    # <key>`. A scheme is a settings change, not a code change in the views.
    "DEFAULT_AUTHENTICATION_CLASSES": env.list(
        "API_AUTHENTICATION_CLASSES",
        # The key class first: its `WWW-Authenticate: Bearer` makes a request
        # without credentials (or with an unknown key) a 401, not a 403.
        default=[
            "integrations.authentication.ApiKeyAuthentication",
            "rest_framework.authentication.SessionAuthentication",
        ],
    ),
    "DEFAULT_THROTTLE_CLASSES": ["integrations.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_KEY_RATE", default="200/min")},
    "DEFAULT_PERMISSION_CLASSES": ["clinic.api.permissions.StaffModelPermissions"],
    "DEFAULT_PARSER_CLASSES": ["clinic.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_FILTER_BACKENDS": [
        "clinic.api.filters.FilterBackend",
        "rest_framework.filters.SearchFilter",
        "clinic.api.query.StrictOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "clinic.api.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "clinic.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "DATETIME_FORMAT": "iso-8601",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "clinic.api.errors.ClinicExceptionHandler",
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Clinic backend API",
    "DESCRIPTION": (
        "Practice management for aesthetic clinics: patients, treatment courses, "
        "sessions, aftercare messages and the follow-up worklist. Every time is "
        "ISO-8601 with an offset and stored in UTC."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema describes endpoints, not data; integrators read it before they hold a key.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI and Redoc are served from our own static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ProductKindEnum": "treatments.models.ProductKind",
        "SessionKindEnum": "treatments.models.SessionKind",
        "CancelReasonEnum": "treatments.models.CancelReason",
        "ConsentKindEnum": "patients.models.ConsentKind",
        "ContactChannelEnum": "patients.models.ContactChannel",
        "MedicalFlagEnum": "patients.models.MedicalFlag",
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        "ErrorCode401Enum": "drf_standardized_errors.openapi_serializers.ErrorCode401Enum.choices",
        "ErrorCode403Enum": "drf_standardized_errors.openapi_serializers.ErrorCode403Enum.choices",
        "ErrorCode404Enum": "drf_standardized_errors.openapi_serializers.ErrorCode404Enum.choices",
        "ErrorCode405Enum": "drf_standardized_errors.openapi_serializers.ErrorCode405Enum.choices",
        "ErrorCode406Enum": "drf_standardized_errors.openapi_serializers.ErrorCode406Enum.choices",
        "ErrorCode415Enum": "drf_standardized_errors.openapi_serializers.ErrorCode415Enum.choices",
        "ErrorCode429Enum": "drf_standardized_errors.openapi_serializers.ErrorCode429Enum.choices",
        "ErrorCode500Enum": "drf_standardized_errors.openapi_serializers.ErrorCode500Enum.choices",
    },
    "POSTPROCESSING_HOOKS": ["drf_standardized_errors.openapi_hooks.postprocess_schema_enums"],
}

# Phone numbers typed without a country code ("07911 123456") are read as
# numbers of this region (ISO 3166-1 alpha-2) and stored in E.164, whatever
# the door: admin forms, the API's serializers, services' full_clean().
PHONENUMBER_DEFAULT_REGION = env.str("PHONENUMBER_DEFAULT_REGION", default="GB").upper()
if PHONENUMBER_DEFAULT_REGION not in phonenumbers.SUPPORTED_REGIONS:
    raise ImproperlyConfigured(
        f"PHONENUMBER_DEFAULT_REGION={PHONENUMBER_DEFAULT_REGION!r} is not a region code (e.g. GB, IE, FR)"
    )
PHONENUMBER_DEFAULT_FORMAT = "E164"

# --- Logging ----------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Email addresses, phone numbers and PostgreSQL's DETAIL lines are blanked, tracebacks included (clinic.logs).
    "formatters": {
        "plain": {"()": "clinic.logs.RedactingFormatter", "format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
