"""Log lines carry ids, never patients' contact details.

`RedactingFormatter` formats a record as usual, traceback included, then
blanks what would identify a person wherever it appears: email addresses,
phone numbers, and the `DETAIL:` line PostgreSQL adds to a constraint error
(it quotes the row's values, e.g. `Key (email)=(amelia@example.com)`). The
code itself logs ids (patient, session, message), never names, symptoms or
notes; this catches what an exception message or a library would add.
`exception_origin` names an error for a log line by its class and place
instead of its message.
"""

from __future__ import annotations

import logging
import re
import traceback

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Seven or more digits, possibly with a leading + and spaces, dots, dashes or brackets between them.
PHONE = re.compile(r"(?<![\w-])\+?\d(?:[\s().-]?\d){6,}(?![\w-])")
DETAIL = re.compile(r"(DETAIL:\s*).*$", re.MULTILINE)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _phone(match: re.Match[str]) -> str:
    # A date (2026-03-03 10…) has as many digits as a phone number: keep it.
    return match.group() if ISO_DATE.match(match.group()) else "[phone]"


def redact(text: str) -> str:
    text = DETAIL.sub(r"\1[redacted]", text)
    text = EMAIL.sub("[email]", text)
    return PHONE.sub(_phone, text)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def exception_origin(exc: BaseException) -> str:
    """Name `exc` by its class and the innermost frames it came through, never by its message.

    A message may quote what failed (an address, a subject, a body); where
    it was raised is enough to find the bug, and holds no patient data.
    """
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = " < ".join(f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno} {frame.name}" for frame in reversed(frames))
    return f"{exc.__class__.__module__}.{exc.__class__.__qualname__}" + (f" at {where}" if where else "")
