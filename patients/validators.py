import unicodedata
from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone

EARLIEST_BIRTH_DATE = date(1900, 1, 1)

# Control characters (Cc: line feed, carriage return, tab, NUL …) and the
# Unicode line and paragraph separators (Zl, Zp).
LINE_BREAKING_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def validate_birth_date(value: date) -> None:
    """Refuse birth dates in the future or before 1900 (almost surely typos)."""
    if value > timezone.localdate():
        raise ValidationError("A date of birth cannot be in the future.", code="future_date")
    if value < EARLIEST_BIRTH_DATE:
        raise ValidationError("A date of birth before 1900 is not plausible.", code="implausible_date")


def validate_one_line(value: str) -> None:
    """Refuse line breaks, tabs and other control characters in text that must stay on one line.

    Names are printed into email subjects, and a header with a line break
    is refused by every mail library: one pasted newline in a name once made
    every red-flag alert about that patient fail.
    """
    if any(unicodedata.category(character) in LINE_BREAKING_CATEGORIES for character in value):
        raise ValidationError(
            "Use one line of text: line breaks, tabs and other control characters are not allowed.",
            code="control_characters",
        )
