from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone

EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def validate_birth_date(value: date) -> None:
    """Refuse birth dates in the future or before 1900 (almost surely typos)."""
    if value > timezone.localdate():
        raise ValidationError("A date of birth cannot be in the future.", code="future_date")
    if value < EARLIEST_BIRTH_DATE:
        raise ValidationError("A date of birth before 1900 is not plausible.", code="implausible_date")
