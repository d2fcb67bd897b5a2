"""aftercare.timing: when messages fall due, quiet hours, and red flags.

Pure functions, no database. The instants below were worked out by hand
from the rules (an hour offset is elapsed time; a day offset keeps the
patient's local wall-clock time), with the 2026 clock changes:

- Europe/London: GMT→BST Sunday 29 March 01:00 UTC; BST→GMT Sunday 25 October 01:00 UTC.
- America/New_York: EST→EDT Sunday 8 March 07:00 UTC; EDT→EST Sunday 1 November 06:00 UTC.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from aftercare.timing import QuietHours, defer_for_quiet_hours, local_datetime, red_flag_reasons, step_due_at

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")
TEN = time(10, 0)
NIGHT = QuietHours(start=time(20, 0), end=time(9, 0))


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def days_later(completed_at: datetime, days: int, zone: ZoneInfo, at: time = TEN) -> datetime:
    return step_due_at(completed_at=completed_at, unit="days", value=days, local_send_time=at, zone=zone)


def hours_later(completed_at: datetime, hours: int, zone: ZoneInfo) -> datetime:
    return step_due_at(completed_at=completed_at, unit="hours", value=hours, local_send_time=None, zone=zone)


# --- hour offsets: elapsed time ---------------------------------------------------


def test_an_hour_offset_across_the_london_spring_change_is_elapsed_time() -> None:
    # 00:30 GMT; two real hours later the wall clock, having jumped, reads 03:30 BST.
    completed = datetime(2026, 3, 29, 0, 30, tzinfo=LONDON)

    due = hours_later(completed, 2, LONDON)

    assert due == utc(3, 29, 2, 30)
    assert due.astimezone(LONDON).time() == time(3, 30)


def test_an_hour_offset_across_the_new_york_autumn_change_is_elapsed_time() -> None:
    # 00:30 EDT (04:30 UTC); three real hours later it is 02:30 EST, not 03:30.
    completed = datetime(2026, 11, 1, 0, 30, tzinfo=NEW_YORK)

    due = hours_later(completed, 3, NEW_YORK)

    assert due == utc(11, 1, 7, 30)
    assert due.astimezone(NEW_YORK).time() == time(2, 30)


def test_a_zero_hour_offset_is_the_completion_instant() -> None:
    completed = datetime(2026, 5, 1, 19, 50, tzinfo=LONDON)

    assert hours_later(completed, 0, LONDON) == completed


# --- day offsets: the local wall clock ------------------------------------------


@pytest.mark.parametrize(
    ("zone", "completed", "days", "expected_utc"),
    [
        # London, spring: completed in GMT, due in BST at 10:00 local = 09:00 UTC.
        (LONDON, datetime(2026, 3, 26, 11, 45, tzinfo=LONDON), 3, utc(3, 29, 9)),
        (LONDON, datetime(2026, 3, 26, 11, 45, tzinfo=LONDON), 7, utc(4, 2, 9)),
        (LONDON, datetime(2026, 3, 28, 18, 0, tzinfo=LONDON), 1, utc(3, 29, 9)),
        # London, autumn: completed in BST, due in GMT at 10:00 local = 10:00 UTC.
        (LONDON, datetime(2026, 10, 22, 11, 45, tzinfo=LONDON), 3, utc(10, 25, 10)),
        (LONDON, datetime(2026, 10, 22, 11, 45, tzinfo=LONDON), 14, utc(11, 5, 10)),
        # New York, spring: completed in EST, due in EDT at 10:00 local = 14:00 UTC.
        (NEW_YORK, datetime(2026, 3, 5, 11, 45, tzinfo=NEW_YORK), 3, utc(3, 8, 14)),
        (NEW_YORK, datetime(2026, 3, 5, 11, 45, tzinfo=NEW_YORK), 7, utc(3, 12, 14)),
        # New York, autumn: completed in EDT, due in EST at 10:00 local = 15:00 UTC.
        (NEW_YORK, datetime(2026, 10, 29, 11, 45, tzinfo=NEW_YORK), 3, utc(11, 1, 15)),
        (NEW_YORK, datetime(2026, 10, 29, 11, 45, tzinfo=NEW_YORK), 7, utc(11, 5, 15)),
    ],
)
def test_a_day_offset_lands_at_the_local_send_time_across_daylight_saving(
    zone: ZoneInfo, completed: datetime, days: int, expected_utc: datetime
) -> None:
    due = days_later(completed, days, zone)

    assert due == expected_utc
    assert due.astimezone(zone).time() == TEN
    assert due.astimezone(zone).date() == completed.date() + timedelta(days=days)


def test_a_day_offset_counts_local_dates_not_utc_dates() -> None:
    # 23:30 in New York on 7 March is already 8 March in UTC; "+1 day" is still 8 March locally.
    completed = datetime(2026, 3, 7, 23, 30, tzinfo=NEW_YORK)

    assert days_later(completed, 1, NEW_YORK) == utc(3, 8, 14)


def test_the_same_completion_gives_different_instants_for_patients_in_different_zones() -> None:
    completed = utc(3, 2, 12)

    assert days_later(completed, 3, LONDON) == utc(3, 5, 10)
    assert days_later(completed, 3, NEW_YORK) == utc(3, 5, 15)


def test_a_day_offset_needs_a_local_send_time() -> None:
    with pytest.raises(ValueError, match="local send time"):
        step_due_at(completed_at=utc(3, 2, 12), unit="days", value=3, local_send_time=None, zone=LONDON)


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected_utc", "expected_local"),
    [
        # 01:30 does not exist in London on 29 March: it becomes 02:30 BST.
        (LONDON, date(2026, 3, 29), time(1, 30), utc(3, 29, 1, 30), time(2, 30)),
        # 02:30 does not exist in New York on 8 March: it becomes 03:30 EDT.
        (NEW_YORK, date(2026, 3, 8), time(2, 30), utc(3, 8, 7, 30), time(3, 30)),
    ],
)
def test_a_local_time_inside_the_spring_forward_gap_moves_past_the_gap(
    zone: ZoneInfo, day: date, wall: time, expected_utc: datetime, expected_local: time
) -> None:
    moment = local_datetime(day, wall, zone)

    assert moment == expected_utc
    assert moment.astimezone(zone).time() == expected_local


def test_a_day_step_whose_send_time_falls_in_the_gap_goes_out_just_after_it() -> None:
    completed = datetime(2026, 3, 28, 12, 0, tzinfo=LONDON)

    due = days_later(completed, 1, LONDON, at=time(1, 30))

    assert due == utc(3, 29, 1, 30)
    assert due.astimezone(LONDON).time() == time(2, 30)


# --- quiet hours --------------------------------------------------------------------


def test_quiet_hours_parse_a_window_spanning_midnight() -> None:
    assert QuietHours.parse("20:00-09:00") == NIGHT
    assert QuietHours.parse(" 21:30 - 07:15 ") == QuietHours(time(21, 30), time(7, 15))


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        (time(19, 59), False),
        (time(20, 0), True),
        (time(23, 59), True),
        (time(0, 0), True),
        (time(8, 59), True),
        (time(9, 0), False),
        (time(13, 0), False),
    ],
)
def test_a_window_spanning_midnight_holds_the_evening_and_the_early_morning(local: time, quiet: bool) -> None:
    assert NIGHT.contains(local) is quiet


@pytest.mark.parametrize(
    ("local", "quiet"),
    [(time(11, 59), False), (time(12, 0), True), (time(13, 59), True), (time(14, 0), False), (time(23, 0), False)],
)
def test_a_same_day_window_holds_only_its_own_hours(local: time, quiet: bool) -> None:
    assert QuietHours.parse("12:00-14:00").contains(local) is quiet


def test_equal_start_and_end_mean_no_quiet_hours() -> None:
    none = QuietHours.parse("09:00-09:00")

    assert not any(none.contains(time(hour, minute)) for hour in range(24) for minute in (0, 30))


@pytest.mark.parametrize("text", ["", "20:00", "8pm-9am", "20:00-09:00-10:00", "25:00-09:00", "20:00/09:00"])
def test_quiet_hours_in_any_other_shape_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="20:00-09:00"):
        QuietHours.parse(text)


def test_an_evening_message_waits_for_nine_the_next_morning() -> None:
    due = datetime(2026, 5, 1, 20, 30, tzinfo=LONDON)

    assert defer_for_quiet_hours(due, quiet=NIGHT, zone=LONDON) == datetime(2026, 5, 2, 9, 0, tzinfo=LONDON)


def test_a_message_just_before_midnight_waits_for_the_next_morning_not_the_same_one() -> None:
    due = datetime(2026, 5, 1, 23, 59, tzinfo=LONDON)

    assert defer_for_quiet_hours(due, quiet=NIGHT, zone=LONDON) == datetime(2026, 5, 2, 9, 0, tzinfo=LONDON)


def test_an_early_morning_message_waits_for_nine_the_same_morning() -> None:
    due = datetime(2026, 5, 2, 6, 15, tzinfo=LONDON)

    assert defer_for_quiet_hours(due, quiet=NIGHT, zone=LONDON) == datetime(2026, 5, 2, 9, 0, tzinfo=LONDON)


@pytest.mark.parametrize("wall", [time(9, 0), time(14, 0), time(19, 59)])
def test_a_message_outside_quiet_hours_is_unchanged(wall: time) -> None:
    due = datetime(2026, 5, 2, wall.hour, wall.minute, tzinfo=LONDON)

    assert defer_for_quiet_hours(due, quiet=NIGHT, zone=LONDON) == due


def test_quiet_hours_are_the_patients_not_utc() -> None:
    # 23:00 UTC is 19:00 in New York: the patient is awake, send now.
    evening_in_utc = utc(5, 1, 23)
    assert defer_for_quiet_hours(evening_in_utc, quiet=NIGHT, zone=NEW_YORK) == evening_in_utc
    # 14:00 UTC is fine in London but 23:00 in Tokyo: wait for 09:00 Tokyo time (00:00 UTC).
    assert defer_for_quiet_hours(utc(5, 1, 14), quiet=NIGHT, zone=ZoneInfo("Asia/Tokyo")) == utc(5, 2, 0)
    # 02:00 UTC is 22:00 the evening before in New York: 09:00 EDT is 13:00 UTC.
    assert defer_for_quiet_hours(utc(5, 2, 2), quiet=NIGHT, zone=NEW_YORK) == utc(5, 2, 13)


def test_a_message_deferred_over_the_spring_change_goes_at_nine_local_summer_time() -> None:
    due = datetime(2026, 3, 28, 21, 0, tzinfo=LONDON)

    assert defer_for_quiet_hours(due, quiet=NIGHT, zone=LONDON) == utc(3, 29, 8)


def test_a_message_inside_a_same_day_window_waits_for_its_end() -> None:
    lunch = QuietHours.parse("12:00-14:00")
    due = datetime(2026, 5, 2, 13, 0, tzinfo=LONDON)

    assert defer_for_quiet_hours(due, quiet=lunch, zone=LONDON) == datetime(2026, 5, 2, 14, 0, tzinfo=LONDON)


# --- red flags ------------------------------------------------------------------------
#
# The source's list: severe or persistent pain, severe or prolonged swelling,
# itching or a rash, signs of infection (pus, fever), persistent irritation,
# bruising that does not fade. Normal after-effects (redness, swelling,
# pinpoint bleeding, tiny bumps) last 1–2 days; bruising fades within a week.

TODAY = date(2026, 5, 10)
SEVERITIES = ["mild", "moderate", "severe"]


def flags(*symptoms: str, severity: str = "mild", days_ago: int = 0) -> list[str]:
    return red_flag_reasons(
        symptoms=symptoms, severity=severity, onset_on=TODAY - timedelta(days=days_ago), today=TODAY
    )


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize(
    ("symptom", "words"),
    [("itching", "itching"), ("rash", "a rash"), ("pus", "pus (sign of infection)"), ("fever", "fever")],
)
def test_itching_rash_pus_and_fever_are_red_flags_at_any_severity_from_the_first_day(
    symptom: str, words: str, severity: str
) -> None:
    assert flags(symptom, severity=severity, days_ago=0) == [words]


@pytest.mark.parametrize("days_ago", [0, 1, 2])
@pytest.mark.parametrize("symptom", ["pain", "swelling"])
def test_severe_pain_or_swelling_is_a_red_flag_inside_the_normal_two_days(symptom: str, days_ago: int) -> None:
    assert flags(symptom, severity="severe", days_ago=days_ago) == [f"severe {symptom}"]


@pytest.mark.parametrize("severity", ["mild", "moderate"])
@pytest.mark.parametrize("days_ago", [0, 1, 2])
@pytest.mark.parametrize("symptom", ["pain", "swelling", "redness", "bumps", "irritation", "bruising"])
def test_mild_or_moderate_after_effects_that_are_settling_in_their_first_two_days_are_not_red_flags(
    symptom: str, days_ago: int, severity: str
) -> None:
    assert flags(symptom, severity=severity, days_ago=days_ago) == []


@pytest.mark.parametrize("severity", ["mild", "moderate"])
@pytest.mark.parametrize(
    ("symptom", "words"),
    [
        ("pain", "persistent pain"),
        ("swelling", "prolonged swelling"),
        ("irritation", "persistent irritation"),
        ("redness", "persistent redness"),
        ("bumps", "persistent bumps"),
    ],
)
def test_pain_swelling_irritation_redness_or_bumps_still_there_on_day_three_are_red_flags(
    symptom: str, words: str, severity: str
) -> None:
    assert flags(symptom, severity=severity, days_ago=2) == []
    assert flags(symptom, severity=severity, days_ago=3) == [f"{words} (3 days; expected to settle within 2)"]


@pytest.mark.parametrize("severity", SEVERITIES)
def test_bruising_is_expected_to_fade_within_a_week_and_is_a_red_flag_on_day_eight(severity: str) -> None:
    assert flags("bruising", severity=severity, days_ago=7) == []
    assert flags("bruising", severity=severity, days_ago=8) == [
        "bruising that has not faded (8 days; expected to settle within 7)"
    ]


@pytest.mark.parametrize("symptom", ["redness", "bumps", "irritation", "bruising"])
def test_severity_alone_does_not_make_the_other_after_effects_red_flags(symptom: str) -> None:
    assert flags(symptom, severity="severe", days_ago=0) == []


def test_severe_pain_past_the_normal_days_is_named_once_as_severe() -> None:
    assert flags("pain", severity="severe", days_ago=5) == ["severe pain"]


def test_normal_redness_and_bumps_on_the_first_days_are_not_red_flags() -> None:
    assert flags("redness", severity="mild", days_ago=1) == []
    assert flags("redness", "bumps", "swelling", severity="moderate", days_ago=0) == []


def test_each_alarming_symptom_of_a_report_gives_its_own_reason_in_the_reports_order() -> None:
    reasons = flags("redness", "rash", "fever", "pain", "irritation", severity="severe", days_ago=3)

    assert reasons == [
        "persistent redness (3 days; expected to settle within 2)",
        "a rash",
        "fever",
        "severe pain",
        "persistent irritation (3 days; expected to settle within 2)",
    ]


def test_every_symptom_a_report_can_name_is_judged_by_the_rule() -> None:
    """A symptom added to the choices without a rule would never raise a red flag."""
    from aftercare.models import Symptom

    judged = {"itching", "rash", "pus", "fever", "pain", "swelling", "redness", "bumps", "irritation", "bruising"}
    assert set(Symptom.values) == judged
    for symptom in Symptom.values:
        assert flags(symptom, severity="severe", days_ago=30), symptom
