"""Production log lines carry ids, never a patient's email, phone or a constraint's quoted values."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from clinic.logs import RedactingFormatter, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sending to amelia.hart+spa@example.co.uk failed", "sending to [email] failed"),
        ("sms to +44 7700 900123 refused", "sms to [phone] refused"),
        ("sms to 07700-900-123 refused", "sms to [phone] refused"),
        ("message 3f2b9c1e-0d4a-4c8e-9a57-2f3c8d1e6b70 sent at 2026-03-03 10:00:00", None),
        ("session 42 moved", None),
    ],
)
def test_contact_details_are_blanked_and_ids_and_times_kept(text: str, expected: str | None) -> None:
    assert redact(text) == (expected or text)


@pytest.mark.django_db
def test_a_constraint_error_traceback_is_logged_without_the_row_values() -> None:
    configured = settings.LOGGING["formatters"]["plain"]
    assert configured["()"] == "clinic.logs.RedactingFormatter"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE contact (email text UNIQUE)")
        cursor.execute("INSERT INTO contact VALUES ('amelia.hart@example.com')")
        with pytest.raises(IntegrityError) as raised, transaction.atomic():
            cursor.execute("INSERT INTO contact VALUES ('amelia.hart@example.com')")
    assert "amelia.hart@example.com" in str(raised.value), "PostgreSQL quotes the row: what the formatter must hide"
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error", (), None)
    record.exc_info = (raised.type, raised.value, raised.tb)

    line = RedactingFormatter(configured["format"]).format(record)

    assert "IntegrityError" in line
    assert "amelia.hart@example.com" not in line
    assert "[redacted]" in line
