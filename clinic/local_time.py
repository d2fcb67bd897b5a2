"""Times as people read them: on the wall clock where they happen, in one format.

Times are stored in UTC. A person reads one where it happens: a session at
its location, a patient's message in the patient's zone, anything else (a
heartbeat, a webhook attempt) in the clinic's zone, CLINIC_DEFAULT_TIME_ZONE.
The format is settings.DATETIME_FORMAT ("Tue 3 Mar 2026 10:00"), the one the
admin shows, so an object's name, a refusal and the page around them agree.
Machines get ISO-8601 with an offset instead (the API, webhooks, exports).
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import dateformat


def clinic_zone() -> ZoneInfo:
    """The clinic's zone: staff pages show and read times in it."""
    return ZoneInfo(settings.CLINIC_DEFAULT_TIME_ZONE)


def local_datetime_text(moment: datetime | None, zone: tzinfo | None = None) -> str:
    """`moment` on the wall clock of `zone` (default: the clinic's), e.g. "Tue 3 Mar 2026 10:00"; "" for None."""
    if moment is None:
        return ""
    return dateformat.format(moment.astimezone(zone or clinic_zone()), settings.DATETIME_FORMAT)


def local_time_text(moment: datetime | None, zone: tzinfo | None = None) -> str:
    """The time of day of `moment` in `zone` (default: the clinic's), e.g. "10:45"; "" for None."""
    if moment is None:
        return ""
    return dateformat.time_format(moment.astimezone(zone or clinic_zone()), settings.TIME_FORMAT)


def date_text(day: date | None) -> str:
    """A calendar date, e.g. "Tue 3 Mar 2026"; "" for None. Dates have no zone: they are already local."""
    if day is None:
        return ""
    return dateformat.format(day, settings.DATE_FORMAT)
