"""The scheduling rules in treatments.rules, fed plain values: no database.

Day counts are local calendar days in the clinic's zone (Europe/London), so
the daylight-saving changes of 2026 (clocks forward on Sunday 29 March,
back on Sunday 25 October) are where "14 days" and "14 × 24 hours" part ways.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from treatments.rules import (
    OVERRIDABLE_RULES,
    ConflictRuleSpec,
    Decision,
    Neighbour,
    OpeningInterval,
    OtherTreatment,
    Rule,
    add_local_days,
    check_conflicts,
    check_course_capacity,
    check_lot_usable,
    check_medical_review,
    check_opening_hours,
    check_planned_sessions,
    check_spacing,
    followup_window,
)

LONDON = ZoneInfo("Europe/London")
MESOTHERAPY = "protocol-mesotherapy"
PEEL = "protocol-tca-peel"


def london(year: int, month: int, day: int, hour: int = 10, minute: int = 0, fold: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, fold=fold, tzinfo=LONDON)


def elapsed(earlier: datetime, later: datetime) -> timedelta:
    """Real time between two instants (Python subtracts same-zone datetimes by wall clock)."""
    return later.astimezone(UTC) - earlier.astimezone(UTC)


def spacing(start: datetime, *anchors: datetime, max_days: int | None = 28) -> Decision:
    """The mesotherapy spacing rule (14–28 days) for `start` among sessions anchored at `anchors`."""
    return check_spacing(
        start=start,
        neighbours=[Neighbour(anchor=a, label="the completed session") for a in anchors],
        min_days=14,
        max_days=max_days,
        zone=LONDON,
    )


# --- Decision and the override list ---------------------------------------------------


def test_an_allowed_decision_carries_its_rule_flags_and_no_earliest_start() -> None:
    decision = Decision.ok(Rule.SPACING, flags=["late"], reason="overdue")

    assert decision.allowed is True
    assert decision.rule == Rule.SPACING
    assert decision.flags == frozenset({"late"})
    assert decision.reason == "overdue"
    assert decision.earliest_start is None


def test_a_refusal_carries_its_reason_and_earliest_start_and_cannot_be_altered() -> None:
    earliest = london(2026, 4, 3)
    decision = Decision.refuse(Rule.CONFLICT, "Too soon.", earliest_start=earliest)

    assert (decision.allowed, decision.rule, decision.reason, decision.earliest_start) == (
        False,
        Rule.CONFLICT,
        "Too soon.",
        earliest,
    )
    assert decision.flags == frozenset()
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.allowed = True


def test_only_clinical_judgement_rules_can_be_overridden() -> None:
    assert frozenset({Rule.SPACING, Rule.CONFLICT, Rule.MEDICAL_REVIEW}) == OVERRIDABLE_RULES
    for fact in (Rule.SESSION_COUNT, Rule.OPENING_HOURS, Rule.LOT_EXPIRED):
        assert fact not in OVERRIDABLE_RULES


def test_rule_names_are_the_stable_codes_clients_see() -> None:
    assert [str(rule) for rule in Rule] == [
        "session_count",
        "spacing",
        "conflict",
        "opening_hours",
        "medical_review",
        "lot_expired",
        "treatment_consent",
    ]


# --- add_local_days ------------------------------------------------------------------------


def test_adding_days_without_a_clock_change_is_plain_24_hour_days() -> None:
    moved = add_local_days(london(2026, 6, 1, 10), 14, LONDON)

    assert moved == london(2026, 6, 15, 10)
    assert elapsed(london(2026, 6, 1, 10), moved) == timedelta(days=14)


def test_adding_days_across_the_spring_change_keeps_the_wall_clock_and_is_an_hour_shorter() -> None:
    before = london(2026, 3, 28, 10)  # Saturday, GMT

    moved = add_local_days(before, 1, LONDON)

    assert (moved.date(), moved.time()) == (date(2026, 3, 29), time(10))
    assert moved.utcoffset() == timedelta(hours=1)  # BST
    assert elapsed(before, moved) == timedelta(hours=23)


def test_adding_days_across_the_autumn_change_keeps_the_wall_clock_and_is_an_hour_longer() -> None:
    before = london(2026, 10, 24, 10)  # Saturday, BST

    moved = add_local_days(before, 1, LONDON)

    assert (moved.date(), moved.time()) == (date(2026, 10, 25), time(10))
    assert moved.utcoffset() == timedelta(0)  # GMT
    assert elapsed(before, moved) == timedelta(hours=25)


def test_a_wall_time_inside_the_spring_forward_gap_lands_just_after_the_gap() -> None:
    # 01:30 on 2026-03-29 does not exist in London: clocks jump from 01:00 GMT to 02:00 BST.
    before = london(2026, 3, 28, 1, 30)

    moved = add_local_days(before, 1, LONDON)

    assert moved.date() == date(2026, 3, 29)
    assert moved.time() == time(2, 30)
    assert moved.utcoffset() == timedelta(hours=1)
    assert moved == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # exactly 24 elapsed hours later
    # The answer is a real instant: a round trip through UTC does not move it.
    assert moved.astimezone(UTC).astimezone(LONDON).time() == moved.time()


def test_going_back_into_the_spring_forward_gap_also_lands_after_the_gap() -> None:
    moved = add_local_days(london(2026, 3, 30, 1, 30), -1, LONDON)

    assert (moved.date(), moved.time(), moved.utcoffset()) == (date(2026, 3, 29), time(2, 30), timedelta(hours=1))


def test_adding_days_into_the_repeated_autumn_hour_keeps_the_wall_clock() -> None:
    moved = add_local_days(london(2026, 10, 24, 1, 30), 1, LONDON)

    assert (moved.date(), moved.time().replace(fold=0)) == (date(2026, 10, 25), time(1, 30))


def test_zero_days_returns_the_same_instant_even_in_the_second_repeated_hour() -> None:
    second_one_thirty = london(2026, 10, 25, 1, 30, fold=1)  # 01:30 GMT, after clocks went back
    assert second_one_thirty.astimezone(UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)

    moved = add_local_days(second_one_thirty, 0, LONDON)

    assert moved.astimezone(UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_adding_days_reads_a_utc_instant_in_the_clinic_zone_and_answers_in_that_zone() -> None:
    utc_instant = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)  # 10:00 GMT in London

    moved = add_local_days(utc_instant, 14, LONDON)

    assert moved.tzinfo == LONDON
    assert moved == london(2026, 4, 3, 10)
    assert moved.astimezone(UTC) == datetime(2026, 4, 3, 9, 0, tzinfo=UTC)


def test_negative_days_go_back_on_the_local_calendar_across_a_clock_change() -> None:
    assert add_local_days(london(2026, 4, 3, 10), -14, LONDON) == london(2026, 3, 20, 10)


# --- planned sessions and course capacity -----------------------------------------------------


@pytest.mark.parametrize("planned", [3, 4, 5, 6])
def test_a_course_may_plan_between_three_and_six_sessions(planned: int) -> None:
    decision = check_planned_sessions(planned=planned, minimum=3, maximum=6)

    assert decision.allowed is True
    assert decision.rule == Rule.SESSION_COUNT


@pytest.mark.parametrize("planned", [0, 2, 7])
def test_a_course_planning_outside_three_to_six_sessions_is_refused(planned: int) -> None:
    decision = check_planned_sessions(planned=planned, minimum=3, maximum=6)

    assert decision.allowed is False
    assert decision.rule == Rule.SESSION_COUNT
    assert "3 to 6 sessions" in decision.reason
    assert f"{planned} were planned" in decision.reason
    assert decision.earliest_start is None


def test_booking_the_last_planned_session_of_a_course_is_allowed() -> None:
    decision = check_course_capacity(planned=6, live_course_sessions=5)

    assert decision.allowed is True
    assert decision.rule == Rule.SESSION_COUNT


def test_a_seventh_session_on_a_six_session_course_is_refused() -> None:
    decision = check_course_capacity(planned=6, live_course_sessions=6)

    assert decision.allowed is False
    assert decision.rule == Rule.SESSION_COUNT
    assert "All 6 planned sessions" in decision.reason
    assert "maintenance" in decision.reason


def test_a_course_already_over_its_plan_takes_no_more_sessions() -> None:
    assert check_course_capacity(planned=4, live_course_sessions=5).allowed is False


# --- spacing ------------------------------------------------------------------------------


def test_the_first_session_of_a_course_has_no_spacing_to_respect() -> None:
    decision = spacing(london(2026, 6, 1))

    assert decision.allowed is True
    assert decision.rule == Rule.SPACING
    assert decision.flags == frozenset()


def test_exactly_fourteen_days_after_the_previous_session_is_allowed() -> None:
    decision = spacing(london(2026, 6, 15, 10), london(2026, 6, 1, 10))

    assert decision.allowed is True
    assert decision.flags == frozenset()


def test_thirteen_days_twenty_three_hours_is_refused_with_the_earliest_start_fourteen_local_days_after() -> None:
    previous = london(2026, 6, 1, 10)

    decision = spacing(previous + timedelta(days=13, hours=23), previous)

    assert decision.allowed is False
    assert decision.rule == Rule.SPACING
    assert decision.earliest_start == london(2026, 6, 15, 10)
    assert "at least 14 days apart" in decision.reason
    assert "the completed session was on Mon 1 Jun 2026 10:00" in decision.reason


def test_one_minute_short_of_fourteen_days_is_still_refused() -> None:
    previous = london(2026, 6, 1, 10)

    assert spacing(london(2026, 6, 15, 9, 59), previous).allowed is False


def test_fourteen_local_days_across_the_spring_change_is_allowed_though_only_13d23h_elapsed() -> None:
    previous = london(2026, 3, 20, 10)  # GMT
    start = london(2026, 4, 3, 10)  # BST: clocks went forward on 29 March
    assert elapsed(previous, start) == timedelta(days=13, hours=23)

    decision = spacing(start, previous)

    assert decision.allowed is True


def test_an_hour_earlier_across_the_spring_change_is_refused_with_earliest_at_the_same_wall_time() -> None:
    previous = london(2026, 3, 20, 10)

    decision = spacing(london(2026, 4, 3, 9), previous)

    assert decision.allowed is False
    assert decision.earliest_start == london(2026, 4, 3, 10)
    assert decision.earliest_start.utcoffset() == timedelta(hours=1)


def test_across_the_autumn_change_fourteen_elapsed_days_is_not_yet_fourteen_local_days() -> None:
    previous = london(2026, 10, 20, 10)  # BST; clocks go back on 25 October
    fourteen_elapsed_days = (previous.astimezone(UTC) + timedelta(days=14)).astimezone(LONDON)
    assert fourteen_elapsed_days.astimezone(LONDON).time() == time(9)  # 09:00 GMT on 3 November

    refused = spacing(fourteen_elapsed_days, previous)
    allowed = spacing(london(2026, 11, 3, 10), previous)

    assert refused.allowed is False
    assert refused.earliest_start == london(2026, 11, 3, 10)
    assert elapsed(previous, refused.earliest_start) == timedelta(days=14, hours=1)
    assert allowed.allowed is True


def test_spacing_is_measured_from_the_nearest_previous_session() -> None:
    first, second = london(2026, 6, 1), london(2026, 6, 15)

    decision = spacing(london(2026, 6, 20), first, second)

    assert decision.allowed is False
    assert decision.earliest_start == london(2026, 6, 29)
    assert "Mon 15 Jun 2026 10:00" in decision.reason


def test_a_session_at_the_same_instant_as_another_counts_as_too_close() -> None:
    decision = spacing(london(2026, 6, 1), london(2026, 6, 1))

    assert decision.allowed is False
    assert decision.earliest_start == london(2026, 6, 15)


def test_spacing_counts_from_the_anchor_given_such_as_a_late_completion_time() -> None:
    completed_at = london(2026, 6, 1, 11, 20)  # booked 10:00, finished 11:20

    assert spacing(london(2026, 6, 15, 11, 19), completed_at).allowed is False
    assert spacing(london(2026, 6, 15, 11, 20), completed_at).allowed is True


def test_exactly_the_maximum_spacing_is_on_time() -> None:
    decision = spacing(london(2026, 6, 29), london(2026, 6, 1))

    assert decision.allowed is True
    assert decision.flags == frozenset()


def test_later_than_the_maximum_spacing_is_allowed_but_flagged_late() -> None:
    decision = spacing(london(2026, 6, 29, 10, 1), london(2026, 6, 1))

    assert decision.allowed is True
    assert decision.flags == frozenset({"late"})
    assert "28-day maximum" in decision.reason
    assert "overdue" in decision.reason


def test_the_maximum_is_also_counted_in_local_days_across_a_clock_change() -> None:
    previous = london(2026, 3, 20, 10)  # GMT; 28 local days later is 17 April, BST

    assert spacing(london(2026, 4, 17, 10), previous).flags == frozenset()
    assert spacing(london(2026, 4, 17, 10, 1), previous).flags == frozenset({"late"})


def test_without_a_maximum_a_long_gap_is_never_late() -> None:
    decision = spacing(london(2027, 6, 1), london(2026, 6, 1), max_days=None)

    assert decision.allowed is True
    assert decision.flags == frozenset()


def test_inserting_a_session_too_close_before_a_booked_one_is_refused() -> None:
    booked_later = london(2026, 6, 15)

    decision = check_spacing(
        start=london(2026, 6, 2),
        neighbours=[Neighbour(anchor=booked_later, label="the booked session")],
        min_days=14,
        max_days=28,
        zone=LONDON,
    )

    assert decision.allowed is False
    assert decision.rule == Rule.SPACING
    assert "at least 14 days apart" in decision.reason
    assert "the booked session is on Mon 15 Jun 2026 10:00" in decision.reason
    # Moving later only gets closer to the booked session: no earliest start helps.
    assert decision.earliest_start is None


def test_inserting_exactly_fourteen_days_before_a_booked_session_is_allowed() -> None:
    assert spacing(london(2026, 6, 1), london(2026, 6, 15)).allowed is True


def test_inserting_fourteen_local_days_before_a_booked_session_across_the_spring_change_is_allowed() -> None:
    booked_later = london(2026, 4, 3, 10)  # BST

    assert spacing(london(2026, 3, 20, 10), booked_later).allowed is True
    assert spacing(london(2026, 3, 20, 10, 1), booked_later).allowed is False


def test_a_gap_between_two_sessions_must_respect_both_of_them() -> None:
    before, after = london(2026, 6, 1), london(2026, 7, 1)  # 30 days apart

    assert spacing(london(2026, 6, 15), before, after).allowed is True
    assert spacing(london(2026, 6, 17), before, after).allowed is True
    assert spacing(london(2026, 6, 18), before, after).allowed is False  # 13 days before 1 July
    assert spacing(london(2026, 6, 14), before, after).allowed is False  # 13 days after 1 June


def test_booking_after_the_last_session_of_a_course_only_looks_back() -> None:
    sessions = [london(2026, 6, 1), london(2026, 6, 15), london(2026, 6, 29)]

    assert spacing(london(2026, 7, 13), *sessions).allowed is True
    refused = spacing(london(2026, 7, 12), *sessions)
    assert refused.allowed is False
    assert refused.earliest_start == london(2026, 7, 13)


def test_the_follow_up_window_runs_from_min_to_max_local_days_after_the_last_session() -> None:
    window = followup_window(last_anchor=london(2026, 3, 20, 10), min_days=14, max_days=28, zone=LONDON)

    assert window == (date(2026, 4, 3), date(2026, 4, 17))


def test_the_maintenance_window_after_the_last_session_is_dated_in_the_clinic_zone() -> None:
    # 23:30 UTC on 30 June is already 1 July in London (BST).
    last = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)

    window = followup_window(last_anchor=last, min_days=90, max_days=180, zone=LONDON)

    assert window == (date(2026, 7, 1) + timedelta(days=90), date(2026, 7, 1) + timedelta(days=180))


# --- conflicts between treatments ----------------------------------------------------------------

NO_PEEL_AFTER_MESOTHERAPY = ConflictRuleSpec(after_protocol_id=MESOTHERAPY, blocked_category="chemical_peel", days=14)


def mesotherapy_on(anchor: datetime) -> OtherTreatment:
    return OtherTreatment(
        anchor=anchor, protocol_id=MESOTHERAPY, category="mesotherapy", label="a Facial mesotherapy session"
    )


def peel_on(anchor: datetime) -> OtherTreatment:
    return OtherTreatment(anchor=anchor, protocol_id=PEEL, category="chemical_peel", label="a TCA peel session")


def book_peel(start: datetime, *others: OtherTreatment) -> Decision:
    return check_conflicts(
        start=start,
        protocol_id=PEEL,
        category="chemical_peel",
        others=list(others),
        rules=[NO_PEEL_AFTER_MESOTHERAPY],
        zone=LONDON,
    )


def book_mesotherapy(start: datetime, *others: OtherTreatment) -> Decision:
    return check_conflicts(
        start=start,
        protocol_id=MESOTHERAPY,
        category="mesotherapy",
        others=list(others),
        rules=[NO_PEEL_AFTER_MESOTHERAPY],
        zone=LONDON,
    )


def test_a_peel_thirteen_days_after_mesotherapy_is_refused_until_fourteen_days_have_passed() -> None:
    decision = book_peel(london(2026, 6, 14), mesotherapy_on(london(2026, 6, 1)))

    assert decision.allowed is False
    assert decision.rule == Rule.CONFLICT
    assert decision.earliest_start == london(2026, 6, 15)
    assert decision.reason == "No chemical peel within 14 days after a Facial mesotherapy session on Mon 1 Jun 2026."


def test_a_peel_fourteen_days_after_mesotherapy_is_allowed() -> None:
    decision = book_peel(london(2026, 6, 15), mesotherapy_on(london(2026, 6, 1)))

    assert decision.allowed is True
    assert decision.rule == Rule.CONFLICT


def test_a_peel_the_same_moment_as_mesotherapy_is_refused() -> None:
    assert book_peel(london(2026, 6, 1), mesotherapy_on(london(2026, 6, 1))).allowed is False


def test_the_conflict_window_is_counted_in_local_days_across_the_spring_change() -> None:
    mesotherapy = mesotherapy_on(london(2026, 3, 20, 10))

    refused = book_peel(london(2026, 4, 3, 9, 59), mesotherapy)

    assert refused.allowed is False
    assert refused.earliest_start == london(2026, 4, 3, 10)
    assert book_peel(london(2026, 4, 3, 10), mesotherapy).allowed is True


def test_mesotherapy_booked_ten_days_before_an_existing_peel_is_refused() -> None:
    decision = book_mesotherapy(london(2026, 6, 1), peel_on(london(2026, 6, 11)))

    assert decision.allowed is False
    assert decision.rule == Rule.CONFLICT
    assert "within 14 days after this session" in decision.reason
    assert "Thu 11 Jun 2026" in decision.reason
    # The other treatment is named as the clinic named it, capital letters and all.
    assert decision.reason.startswith("A TCA peel session on Thu 11 Jun 2026")


def test_mesotherapy_fourteen_days_before_an_existing_peel_is_allowed() -> None:
    assert book_mesotherapy(london(2026, 6, 1), peel_on(london(2026, 6, 15))).allowed is True


def test_mesotherapy_after_a_peel_is_not_restricted_by_the_rule() -> None:
    assert book_mesotherapy(london(2026, 6, 12), peel_on(london(2026, 6, 11))).allowed is True


def test_a_peel_before_mesotherapy_is_not_restricted_by_the_rule() -> None:
    assert book_peel(london(2026, 6, 1), mesotherapy_on(london(2026, 6, 5))).allowed is True


def test_a_rule_about_another_category_does_not_block() -> None:
    laser_only = ConflictRuleSpec(after_protocol_id=MESOTHERAPY, blocked_category="laser", days=14)

    decision = check_conflicts(
        start=london(2026, 6, 5),
        protocol_id=PEEL,
        category="chemical_peel",
        others=[mesotherapy_on(london(2026, 6, 1))],
        rules=[laser_only],
        zone=LONDON,
    )

    assert decision.allowed is True


def test_a_rule_after_another_protocol_does_not_block() -> None:
    decision = book_peel(
        london(2026, 6, 5),
        OtherTreatment(anchor=london(2026, 6, 1), protocol_id="protocol-hydrafacial", category="facial"),
    )

    assert decision.allowed is True


def test_no_conflict_rules_means_no_conflict() -> None:
    decision = check_conflicts(
        start=london(2026, 6, 5),
        protocol_id=PEEL,
        category="chemical_peel",
        others=[mesotherapy_on(london(2026, 6, 1))],
        rules=[],
        zone=LONDON,
    )

    assert decision.allowed is True


# --- opening hours ----------------------------------------------------------------------

WEEKDAYS_NINE_TO_SIX_WITH_LUNCH = [
    interval
    for weekday in range(5)
    for interval in (
        OpeningInterval(weekday=weekday, opens_at=time(9), closes_at=time(12, 30)),
        OpeningInterval(weekday=weekday, opens_at=time(13, 30), closes_at=time(18)),
    )
]
MONDAY = (2026, 6, 1)
SUNDAY = (2026, 6, 7)


def opening(start: datetime, minutes: int = 45, intervals: list[OpeningInterval] | None = None) -> Decision:
    return check_opening_hours(
        start=start,
        end=start + timedelta(minutes=minutes),
        zone=LONDON,
        intervals=WEEKDAYS_NINE_TO_SIX_WITH_LUNCH if intervals is None else intervals,
    )


def test_a_session_well_inside_opening_hours_is_allowed() -> None:
    decision = opening(london(*MONDAY, 10))

    assert decision.allowed is True
    assert decision.rule == Rule.OPENING_HOURS


def test_a_session_starting_at_opening_time_is_allowed() -> None:
    assert opening(london(*MONDAY, 9)).allowed is True


def test_a_session_ending_exactly_at_closing_time_is_allowed() -> None:
    assert opening(london(*MONDAY, 17, 15)).allowed is True


def test_a_session_starting_before_opening_is_refused() -> None:
    assert opening(london(*MONDAY, 8, 59)).allowed is False


def test_a_session_running_past_closing_time_is_refused_with_the_day_s_hours() -> None:
    decision = opening(london(*MONDAY, 17, 30))

    assert decision.allowed is False
    assert decision.rule == Rule.OPENING_HOURS
    assert decision.reason == "Mon 1 Jun 2026 17:30–18:15 is outside opening hours (09:00–12:30, 13:30–18:00)."


def test_a_session_on_a_closed_day_is_refused_saying_so() -> None:
    decision = opening(london(*SUNDAY, 10))

    assert decision.allowed is False
    assert "Sun 7 Jun 2026" in decision.reason
    assert "closed that day" in decision.reason


def test_a_session_ending_as_the_lunch_break_starts_is_allowed() -> None:
    assert opening(london(*MONDAY, 11, 45)).allowed is True


def test_a_session_starting_as_the_lunch_break_ends_is_allowed() -> None:
    assert opening(london(*MONDAY, 13, 30)).allowed is True


def test_a_session_running_into_the_lunch_break_is_refused() -> None:
    assert opening(london(*MONDAY, 12)).allowed is False


def test_a_session_inside_the_lunch_break_is_refused() -> None:
    assert opening(london(*MONDAY, 12, 35), minutes=30).allowed is False


def test_a_session_spanning_the_whole_lunch_break_is_refused_though_both_ends_are_open() -> None:
    assert opening(london(*MONDAY, 12), minutes=120).allowed is False


def test_a_session_crossing_midnight_is_refused_even_where_both_days_are_open_late() -> None:
    late_every_day = [OpeningInterval(weekday=d, opens_at=time(0), closes_at=time(23, 59)) for d in range(7)]

    decision = opening(london(*MONDAY, 23, 30), minutes=45, intervals=late_every_day)

    assert decision.allowed is False
    assert "Mon 1 Jun 2026 23:30–00:15" in decision.reason


def test_opening_hours_are_read_in_the_clinic_zone_not_utc() -> None:
    # 08:30 UTC is 09:30 BST in June: open. 08:30 London would not be.
    utc_start = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)

    assert opening(utc_start).allowed is True
    assert opening(london(*MONDAY, 8, 30)).allowed is False


def test_opening_hours_hold_on_the_day_the_clocks_go_forward() -> None:
    every_day = [OpeningInterval(weekday=d, opens_at=time(8), closes_at=time(20)) for d in range(7)]

    assert opening(london(2026, 3, 29, 8), intervals=every_day).allowed is True
    assert opening(london(2026, 3, 29, 19, 30), intervals=every_day).allowed is False


# --- medical review and product lots ------------------------------------------------------


def test_a_patient_without_medical_flags_needs_no_review() -> None:
    decision = check_medical_review(medical_flags=[])

    assert decision.allowed is True
    assert decision.rule == Rule.MEDICAL_REVIEW


def test_a_patient_with_medical_flags_needs_a_practitioner_s_review_without_naming_them() -> None:
    """The refusal reaches the front desk and booking software: it says a review is needed, not what for."""
    decision = check_medical_review(medical_flags=["anticoagulants", "active_skin_infection"])

    assert decision.allowed is False
    assert decision.rule == Rule.MEDICAL_REVIEW
    assert "practitioner's medical review" in decision.reason
    assert "anticoagulant" not in decision.reason
    assert "infection" not in decision.reason


def test_a_clearance_covers_the_flags_it_reviewed_and_no_other() -> None:
    assert check_medical_review(medical_flags=["anticoagulants"], cleared_flags=["anticoagulants"]).allowed
    assert check_medical_review(
        medical_flags=["anticoagulants"], cleared_flags=["anticoagulants", "pregnancy"]
    ).allowed, "a flag removed since the review needs nothing more"
    added_since = check_medical_review(medical_flags=["anticoagulants", "pregnancy"], cleared_flags=["anticoagulants"])
    assert not added_since.allowed, "a flag added after the review needs a new one"


def test_a_lot_can_be_used_on_its_expiry_day() -> None:
    decision = check_lot_usable(lot_number="HA-2291", expires_on=date(2026, 6, 1), used_on=date(2026, 6, 1))

    assert decision.allowed is True
    assert decision.rule == Rule.LOT_EXPIRED


def test_a_lot_is_refused_the_day_after_it_expires() -> None:
    decision = check_lot_usable(lot_number="HA-2291", expires_on=date(2026, 6, 1), used_on=date(2026, 6, 2))

    assert decision.allowed is False
    assert decision.rule == Rule.LOT_EXPIRED
    assert decision.reason == "Lot HA-2291 expired on Mon 1 Jun 2026."
