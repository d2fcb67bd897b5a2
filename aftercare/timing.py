"""When messages go out, and what counts as a red flag: pure functions.

Times are aware datetimes; zones are zoneinfo. An hour offset is elapsed
time. A day offset keeps the local wall-clock time: "+3 days at 10:00" is
10:00 in the patient's zone three local dates later, across any
daylight-saving change. Quiet hours are local to the patient too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_datetime(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant of wall-clock `at` on `day` in `zone`.

    A wall time inside a spring-forward gap does not exist; it is moved
    forward past the gap (01:30 becomes 02:30 on the UK's change day).
    """
    naive = datetime.combine(day, at)
    candidate = naive.replace(tzinfo=zone)
    # Round-trip through UTC: a non-existent local time comes back shifted.
    return candidate.astimezone(UTC).astimezone(zone)


def step_due_at(
    *, completed_at: datetime, unit: str, value: int, local_send_time: time | None, zone: ZoneInfo
) -> datetime:
    """When an aftercare step is due after a session completed at `completed_at`."""
    if unit == "hours":
        # In UTC: Python adds a timedelta to a zoned datetime on its wall
        # clock, which across a clock change is an hour more or less than elapsed.
        return completed_at.astimezone(UTC) + timedelta(hours=value)
    if local_send_time is None:
        raise ValueError("a day offset needs a local send time")
    local_day = completed_at.astimezone(zone).date() + timedelta(days=value)
    return local_datetime(local_day, local_send_time, zone)


@dataclass(frozen=True)
class QuietHours:
    """A nightly window, in local time, when patients are not messaged.

    `start` after `end` means the window spans midnight (20:00–09:00).
    Equal times mean no quiet hours.
    """

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """Parse "20:00-09:00"; raise ValueError on anything else."""
        try:
            start_text, end_text = text.split("-")
            return cls(time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip()))
        except ValueError:
            raise ValueError(f"quiet hours must look like 20:00-09:00, not {text!r}") from None

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def defer_for_quiet_hours(due_at: datetime, *, quiet: QuietHours, zone: ZoneInfo) -> datetime:
    """Return `due_at`, or if it falls in quiet hours, the end of those quiet hours (local)."""
    local = due_at.astimezone(zone)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return due_at
    day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        day += timedelta(days=1)
    return local_datetime(day, quiet.end, zone)


def is_out_of_date(
    *, due_at: datetime, now: datetime, expires_after: timedelta | None, quiet: QuietHours, zone: ZoneInfo
) -> bool:
    """Return True if a message due at `due_at` could no longer go out while its advice is true.

    The earliest it could go is now (if it is already due) or its due time,
    held past the patient's quiet hours; it is out of date when that is more
    than `expires_after` after its due time. A session recorded days late
    makes its early steps out of date. `expires_after` None: never.
    """
    if expires_after is None:
        return False
    earliest = defer_for_quiet_hours(max(due_at, now), quiet=quiet, zone=zone)
    return earliest > due_at + expires_after


# --- side effects --------------------------------------------------------------

# Red flags whenever they appear (product spec §1): itching, a rash, and
# signs of infection.
ALARM_SYMPTOMS = {"itching": "itching", "rash": "a rash", "pus": "pus (sign of infection)", "fever": "fever"}
# Red flags as soon as they are severe, on any day.
RED_FLAG_WHEN_SEVERE = ("pain", "swelling")
# Normal after-effects settle within these many days (spec §1: redness,
# swelling, pinpoint bleeding and tiny bumps 1–2 days; bruising fades within
# a week). Lasting longer, at any severity, they are red flags, named as
# the spec names them.
SETTLES_WITHIN_DAYS = {"pain": 2, "swelling": 2, "redness": 2, "bumps": 2, "irritation": 2, "bruising": 7}
PERSISTING = {
    "pain": "persistent pain",
    "swelling": "prolonged swelling",
    "redness": "persistent redness",
    "bumps": "persistent bumps",
    "irritation": "persistent irritation",
    "bruising": "bruising that has not faded",
}


def red_flag_reasons(*, symptoms: Iterable[str], severity: str, onset_on: date, today: date) -> list[str]:
    """Return why a side-effect report is a red flag, one reason per alarming symptom; empty if it is not.

    - itching, a rash, pus or fever: always;
    - pain or swelling: when severe, from the first day;
    - pain, swelling, redness, bumps or irritation still there more than 2
      days after they began, or bruising more than 7 days after: persistent,
      whatever the severity. A report records no trend, so the rule cannot
      tell "still there but settling" from "not settling" past those days;
      it errs towards a practitioner's call.

    Within those days, mild or moderate redness, swelling, bumps, irritation,
    pain and bruising are the expected after-effects and not red flags.
    `onset_on` is the day the symptoms began; `today` the patient's date.
    """
    reasons = []
    days = (today - onset_on).days
    for symptom in symptoms:
        if symptom in ALARM_SYMPTOMS:
            reasons.append(ALARM_SYMPTOMS[symptom])
        elif symptom in RED_FLAG_WHEN_SEVERE and severity == "severe":
            reasons.append(f"severe {symptom}")
        elif symptom in SETTLES_WITHIN_DAYS and days > SETTLES_WITHIN_DAYS[symptom]:
            reasons.append(
                f"{PERSISTING[symptom]} ({days} days; expected to settle within {SETTLES_WITHIN_DAYS[symptom]})"
            )
    return reasons


def settles_by(*, symptoms: Iterable[str], onset_on: date) -> list[tuple[str, date]]:
    """For the expected after-effects among `symptoms`, the day each should have settled by (spec §1)."""
    return [
        (symptom, onset_on + timedelta(days=SETTLES_WITHIN_DAYS[symptom]))
        for symptom in symptoms
        if symptom in SETTLES_WITHIN_DAYS
    ]
