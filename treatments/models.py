"""Treatments: where and by whom (locations, rooms, practitioners), what
(protocols and their conflict rules), for whom (courses and sessions), and
with which products (lots used per session, for recalls)."""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateTimeRangeField, RangeBoundary, RangeOperators
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Func, Q
from django.utils import timezone
from timezone_field import TimeZoneField

from clinic.audit import audited
from clinic.local_time import date_text, local_datetime_text, local_time_text
from clinic.phones import PhoneField
from patients.validators import validate_one_line


def new_calendar_token() -> str:
    return secrets.token_urlsafe(32)


class TsTzRange(Func):
    """PostgreSQL's tstzrange(start, end, bounds), for the exclusion constraints."""

    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class Location(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True, validators=[validate_one_line])
    address = models.TextField(blank=True)
    phone = PhoneField(blank=True)
    email = models.EmailField(
        blank=True, help_text="Patients' replies to messages come here; without it, messages ask for none."
    )
    sender_name = models.CharField(
        max_length=100,
        blank=True,
        validators=[validate_one_line],
        help_text="The name emails to patients come from; empty: the location's name.",
    )
    sender_email = models.EmailField(
        blank=True,
        help_text=(
            "The address emails to patients come from (your mail provider must be allowed to send as it); "
            "empty: the clinic's DEFAULT_FROM_EMAIL."
        ),
    )
    clinical_alert_email = models.EmailField(
        blank=True,
        help_text=(
            "Told of every red flag here, besides the treating practitioner: the clinical lead or a "
            "monitored clinical inbox. Empty: CLINIC_CLINICAL_ALERT_EMAIL is told instead."
        ),
    )
    time_zone = TimeZoneField(default=settings.CLINIC_DEFAULT_TIME_ZONE, use_pytz=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def today(self, *, now: datetime | None = None) -> date:
        """The date it is here, in the location's own zone: what "today" means for its courses."""
        return (now or timezone.now()).astimezone(self.time_zone).date()


class OpeningHours(models.Model):
    """One opening interval on one weekday, in the location's local time.

    A day may have several intervals (a lunch break); a day with none is closed.
    """

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens_at = models.TimeField()
    closes_at = models.TimeField()

    class Meta:
        ordering = ["location", "weekday", "opens_at"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.CheckConstraint(condition=Q(closes_at__gt=F("opens_at")), name="opening_hours_close_after_open"),
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="opening_hours_weekday_valid"),
            models.UniqueConstraint(fields=["location", "weekday", "opens_at"], name="opening_hours_unique_start"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}–{self.closes_at:%H:%M}"

    def clean(self) -> None:
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValidationError({"closes_at": "Closing time must be after opening time."})


class Room(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="rooms")
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["location__name", "name"]
        constraints = [models.UniqueConstraint(fields=["location", "name"], name="room_unique_name_per_location")]

    def __str__(self) -> str:
        return f"{self.name} ({self.location})"


class Practitioner(models.Model):
    """A clinician who treats patients; always a staff user who can log in."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="practitioner")
    display_name = models.CharField(max_length=200)
    locations = models.ManyToManyField(Location, related_name="practitioners", blank=True)
    calendar_token = models.CharField(
        max_length=64,
        unique=True,
        default=new_calendar_token,
        editable=False,
        help_text="Secret part of the practitioner's calendar feed URL; rotate it to revoke old links.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


# --- Protocols ----------------------------------------------------------------


class TreatmentCategory(models.Model):
    """A kind of treatment (mesotherapy, chemical peel, laser…); conflict rules name these."""

    code = models.SlugField(max_length=50, unique=True, help_text="Stable identifier, e.g. chemical_peel.")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "treatment categories"

    def __str__(self) -> str:
        return self.name


class Protocol(models.Model):
    """A treatment programme: how many sessions, how far apart, and when to maintain."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True)
    category = models.ForeignKey(TreatmentCategory, on_delete=models.PROTECT, related_name="protocols")
    description = models.TextField(blank=True)
    min_sessions = models.PositiveSmallIntegerField()
    max_sessions = models.PositiveSmallIntegerField()
    default_sessions = models.PositiveSmallIntegerField()
    min_spacing_days = models.PositiveSmallIntegerField(help_text="Least days between two sessions of a course.")
    max_spacing_days = models.PositiveSmallIntegerField(
        help_text="Most days between two sessions; later bookings are allowed but marked overdue."
    )
    maintenance_min_days = models.PositiveSmallIntegerField(
        help_text="Earliest maintenance session, in days after the course's last session."
    )
    maintenance_max_days = models.PositiveSmallIntegerField(
        help_text="Latest maintenance session, in days after the previous session."
    )
    session_duration_minutes = models.PositiveSmallIntegerField(default=45)
    treatment_consent_form = models.SlugField(
        max_length=50,
        default="treatment",
        help_text="The consent form a patient signs for this treatment (a patient consent's scope), e.g. "
        "facial-mesotherapy.",
    )
    treatment_consent_version = models.CharField(
        max_length=50,
        default="1",
        help_text="The form's current version. A session is completed only for a patient who consented to this "
        "version before the session began.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_sessions__gte=1)
                & Q(min_sessions__lte=F("default_sessions"))
                & Q(default_sessions__lte=F("max_sessions")),
                name="protocol_sessions_min_default_max",
            ),
            models.CheckConstraint(
                condition=Q(min_spacing_days__gte=1) & Q(min_spacing_days__lte=F("max_spacing_days")),
                name="protocol_spacing_min_max",
            ),
            models.CheckConstraint(
                condition=Q(maintenance_min_days__gte=1) & Q(maintenance_min_days__lte=F("maintenance_max_days")),
                name="protocol_maintenance_min_max",
            ),
            models.CheckConstraint(
                condition=Q(session_duration_minutes__gte=5, session_duration_minutes__lte=480),
                name="protocol_duration_5_to_480_minutes",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if None not in (self.min_sessions, self.default_sessions, self.max_sessions) and not (
            1 <= self.min_sessions <= self.default_sessions <= self.max_sessions
        ):
            errors["default_sessions"] = "Sessions must satisfy 1 ≤ minimum ≤ default ≤ maximum."
        if None not in (self.min_spacing_days, self.max_spacing_days) and not (
            1 <= self.min_spacing_days <= self.max_spacing_days
        ):
            errors["max_spacing_days"] = "Maximum spacing must be at least the minimum (and the minimum at least 1)."
        if None not in (self.maintenance_min_days, self.maintenance_max_days) and not (
            1 <= self.maintenance_min_days <= self.maintenance_max_days
        ):
            errors["maintenance_max_days"] = "The maintenance window must end after it starts."
        if errors:
            raise ValidationError(errors)


class ConflictRule(models.Model):
    """After a session of `protocol`, treatments of `blocked_category` are refused for `days` days."""

    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="conflict_rules")
    blocked_category = models.ForeignKey(TreatmentCategory, on_delete=models.PROTECT, related_name="+")
    days = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["protocol", "blocked_category"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "blocked_category"], name="conflict_rule_unique"),
            models.CheckConstraint(condition=Q(days__gte=1), name="conflict_rule_days_positive"),
        ]

    def __str__(self) -> str:
        return f"No {self.blocked_category} for {self.days} days after {self.protocol}"


# --- Courses and sessions -------------------------------------------------------


class CourseStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    MAINTENANCE = "maintenance", "Maintenance"
    CANCELLED = "cancelled", "Cancelled"


class Course(models.Model):
    """One patient on one protocol, for a planned number of sessions."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="courses")
    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, related_name="courses")
    planned_sessions = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=20, choices=CourseStatus.choices, default=CourseStatus.PLANNED)
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="courses", help_text="Where the course is followed up."
    )
    next_maintenance_earliest = models.DateField(null=True, blank=True)
    next_maintenance_latest = models.DateField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    history = audited()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["-created_at"], name="course_newest_first_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CourseStatus.values), name="course_status_valid"),
            models.CheckConstraint(condition=Q(planned_sessions__gte=1), name="course_planned_sessions_positive"),
            # One course of a protocol in progress per patient (treatments.services.course_create says why).
            models.UniqueConstraint(
                fields=["patient", "protocol"],
                condition=Q(status__in=["planned", "active"]),
                name="course_one_in_progress_per_protocol",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.protocol} for {self.patient}"


class FollowupKind(models.TextChoices):
    """What a course waits for next (treatments.followup)."""

    FIRST_SESSION = "first_session", "First session"
    NEXT_SESSION = "next_session", "Next session"
    MAINTENANCE = "maintenance", "Maintenance"


class FollowupState(models.Model):
    """A course's follow-up state, kept on write (treatments.followup owns it).

    Every change to a course's sessions, and every course status change,
    refreshes this row in the same transaction (treatments.events), so the
    worklist is an indexed range read instead of a computation over every
    session. `manage.py followup_check` recomputes it from the sessions and
    reports (or fixes) any row that drifted.
    """

    course = models.OneToOneField(Course, on_delete=models.CASCADE, primary_key=True, related_name="followup_state")
    # The course's, copied here so the worklist's index covers it.
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=FollowupKind.choices, blank=True, help_text="Blank: nothing due.")
    sessions_done = models.PositiveSmallIntegerField(default=0)
    maintenance_done = models.PositiveSmallIntegerField(default=0)
    last_session = models.ForeignKey("Session", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_practitioner = models.ForeignKey(
        Practitioner, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_completed_at = models.DateTimeField(null=True, blank=True)
    window_start = models.DateField(null=True, blank=True)
    window_end = models.DateField(null=True, blank=True)
    is_booked = models.BooleanField(default=False)
    # Which kind comes first when several wait (treatments.followup.KIND_RANK): 0 for none.
    rank = models.PositiveSmallIntegerField(default=0)
    last_booking_status = models.CharField(max_length=20, blank=True)
    last_booking_cancel_reason = models.CharField(max_length=40, blank=True)
    last_booking_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField()

    class Meta:
        indexes = [
            # The worklist: waiting courses of a location whose window has opened.
            models.Index(
                fields=["location", "window_start"],
                name="followup_open_window_idx",
                condition=Q(is_booked=False) & ~Q(kind=""),
            ),
            models.Index(fields=["last_practitioner"], name="followup_last_practitioner_idx"),
            # The worklist's order (most urgent first), read in order until a page is full.
            models.Index(
                fields=["rank", "window_end", "window_start", "course"],
                name="followup_urgency_idx",
                condition=Q(is_booked=False) & ~Q(kind=""),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["", *FollowupKind.values]), name="followup_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"Follow-up of course {self.course_id}"


class SessionStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


# Sessions in these states hold their practitioner and room.
LIVE_SESSION_STATUSES = (SessionStatus.BOOKED, SessionStatus.COMPLETED)

# How session statuses read as FHIR Appointment.status, for integrators.
FHIR_APPOINTMENT_STATUS = {
    SessionStatus.BOOKED: "booked",
    SessionStatus.COMPLETED: "fulfilled",
    SessionStatus.CANCELLED: "cancelled",
    SessionStatus.NO_SHOW: "noshow",
}


class SessionKind(models.TextChoices):
    COURSE = "course", "Course session"
    MAINTENANCE = "maintenance", "Maintenance session"


class CancelReason(models.TextChoices):
    PATIENT_REQUEST = "patient_request", "Patient asked"
    PATIENT_UNWELL = "patient_unwell", "Patient unwell"
    CLINICAL = "clinical", "Clinical reason"
    PRACTITIONER_UNAVAILABLE = "practitioner_unavailable", "Practitioner unavailable"
    CLINIC_CLOSED = "clinic_closed", "Clinic closed"
    BOOKED_IN_ERROR = "booked_in_error", "Booked in error"
    COURSE_CANCELLED = "course_cancelled", "Course cancelled"
    OTHER = "other", "Other"


class TreatedArea(models.TextChoices):
    FOREHEAD = "forehead", "Forehead"
    PERIORBITAL = "periorbital", "Around the eyes"
    CHEEKS = "cheeks", "Cheeks"
    NASOLABIAL = "nasolabial", "Nasolabial folds"
    PERIORAL = "perioral", "Around the mouth"
    JAWLINE = "jawline", "Jawline"
    NECK = "neck", "Neck"
    DECOLLETAGE = "decolletage", "Décolletage"
    HANDS = "hands", "Hands"
    SCALP = "scalp", "Scalp"


class Session(models.Model):
    """An appointment in a course: booked → completed, cancelled or no-show.

    PostgreSQL itself refuses two live sessions for one practitioner, or one
    room, that overlap in time (exclusion constraints below), so two
    concurrent bookings cannot both win whatever door they came through.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="sessions")
    kind = models.CharField(max_length=20, choices=SessionKind.choices, default=SessionKind.COURSE)
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="sessions")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="sessions")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="sessions")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=SessionStatus.choices, default=SessionStatus.BOOKED)
    booked_late = models.BooleanField(
        default=False, help_text="Booked after the protocol's maximum spacing: the follow-up was overdue."
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)
    treated_areas = ArrayField(models.CharField(max_length=30, choices=TreatedArea.choices), default=list, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=30, choices=CancelReason.choices, blank=True)
    cancel_note = models.TextField(blank=True)
    no_show_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(
        null=True, blank=True, help_text="When the patient checked in at the desk (a booked session, on its day)."
    )
    treatment_started_at = models.DateTimeField(
        null=True, blank=True, help_text="When the patient went in for treatment (the session is still booked)."
    )
    confirmed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the patient confirmed they will come (a reply to a reminder); the first confirmation stays.",
    )
    # Raised on every change, for calendar feeds (iCalendar SEQUENCE) and ETags.
    sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    history = audited()

    class Meta:
        ordering = ["starts_at"]
        permissions = [
            ("complete_session", "Can complete a session and record its clinical notes"),
            ("view_clinical_notes", "Can read and write the clinical record of the patients they treat"),
            ("view_all_clinical_notes", "Can read and write every patient's clinical record"),
            ("book_for_any_practitioner", "Can book and move sessions for any practitioner"),
        ]
        indexes = [
            models.Index(fields=["practitioner", "starts_at"], name="session_practitioner_start_idx"),
            models.Index(fields=["course", "starts_at"], name="session_course_start_idx"),
            models.Index(fields=["starts_at"], name="session_start_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="session_ends_after_start"),
            models.CheckConstraint(condition=Q(status__in=SessionStatus.values), name="session_status_valid"),
            models.CheckConstraint(
                condition=~Q(status=SessionStatus.COMPLETED) | Q(completed_at__isnull=False),
                name="session_completed_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status=SessionStatus.CANCELLED) | ~Q(cancel_reason=""),
                name="session_cancelled_has_reason",
            ),
            ExclusionConstraint(
                name="session_no_practitioner_double_booking",
                expressions=[
                    (TsTzRange("starts_at", "ends_at", RangeBoundary()), RangeOperators.OVERLAPS),
                    ("practitioner", RangeOperators.EQUAL),
                ],
                condition=Q(status__in=LIVE_SESSION_STATUSES),
            ),
            ExclusionConstraint(
                name="session_no_room_double_booking",
                expressions=[
                    (TsTzRange("starts_at", "ends_at", RangeBoundary()), RangeOperators.OVERLAPS),
                    ("room", RangeOperators.EQUAL),
                ],
                condition=Q(status__in=LIVE_SESSION_STATUSES),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.course.patient} — {self.local_start_text()} ({self.get_status_display()})"

    def local_start_text(self) -> str:
        """When it starts, as people at its location read it: "Tue 3 Mar 2026 10:00"."""
        return local_datetime_text(self.starts_at, self.location.time_zone)

    def local_span_text(self) -> str:
        """When it starts and ends, at its location: "Tue 3 Mar 2026 10:00 to 10:45"."""
        zone = self.location.time_zone
        return f"{local_datetime_text(self.starts_at, zone)} to {local_time_text(self.ends_at, zone)}"

    @property
    def spacing_anchor(self) -> datetime:
        """The instant spacing is measured from: completion when done, else the booked start."""
        return self.completed_at if self.completed_at is not None else self.starts_at

    @property
    def fhir_status(self) -> str:
        if self.status == SessionStatus.BOOKED and self.arrived_at is not None:
            return "arrived"
        return FHIR_APPOINTMENT_STATUS[SessionStatus(self.status)]


class RuleOverride(models.Model):
    """A practitioner's recorded decision to go ahead despite a rule, for one session."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="overrides")
    rule = models.CharField(max_length=30)
    reason = models.TextField()
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="overrides")
    rule_message = models.TextField(help_text="What the rule said when it was overridden.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.rule} overridden by {self.practitioner}"


class CourseOverride(models.Model):
    """A practitioner's decision, made ahead of booking, to go ahead despite a rule for a course's next session.

    The next booking of the course that the rule would refuse uses it (and
    records it as that session's RuleOverride, decided by this practitioner),
    so the front desk can book what the practitioner already decided.
    """

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="advance_overrides")
    rule = models.CharField(max_length=30)
    reason = models.TextField()
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="advance_overrides")
    created_at = models.DateTimeField(auto_now_add=True)
    used_by = models.OneToOneField(
        Session, on_delete=models.PROTECT, null=True, blank=True, related_name="advance_override"
    )
    history = audited()

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.rule} override for {self.course}, by {self.practitioner}"


class MedicalClearance(models.Model):
    """A practitioner's review of a patient's medical flags: treatment may go ahead despite them.

    It covers the flags the patient had when reviewed (a flag added later
    needs a new review), for one course or until a date, until revoked.
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="medical_clearances")
    flags_reviewed = ArrayField(models.CharField(max_length=30), help_text="The medical flags this review covered.")
    course = models.ForeignKey(
        Course, on_delete=models.PROTECT, null=True, blank=True, related_name="medical_clearances"
    )
    valid_until = models.DateField(null=True, blank=True, help_text="Last day covered, at the clinic.")
    reason = models.TextField()
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="medical_clearances")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    history = audited()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(course__isnull=False) | Q(valid_until__isnull=False),
                name="clearance_for_a_course_or_until_a_date",
            ),
        ]

    def __str__(self) -> str:
        scope = f"course {self.course}" if self.course_id else f"until {self.valid_until:%d/%m/%Y}"
        return f"Medical review of {self.patient} by {self.practitioner} ({scope})"


# --- Products and lots --------------------------------------------------------


class ProductKind(models.TextChoices):
    SOLUTION = "solution", "Solution (hyaluronic acid, vitamin cocktail…)"
    MULTI_INJECTOR_NEEDLE = "multi_injector_needle", "Multi-injector needle"
    MICROCANNULA = "microcannula", "Microcannula"
    LIFTING_THREAD = "lifting_thread", "Facial lifting thread"
    OTHER = "other", "Other"


class Product(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=ProductKind.choices)
    manufacturer = models.CharField(max_length=200)
    unit = models.CharField(max_length=20, default="unit", help_text="What a quantity counts: ml, vial, needle…")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    history = audited()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["manufacturer", "name"], name="product_unique_per_manufacturer"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.manufacturer})"


class ProductLot(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(max_length=100)
    expires_on = models.DateField()
    received_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # Who registered a lot, and any later change to its expiry, matter in a recall.
    history = audited()

    class Meta:
        ordering = ["product__name", "expires_on"]
        constraints = [models.UniqueConstraint(fields=["product", "lot_number"], name="lot_unique_per_product")]

    def __str__(self) -> str:
        return f"{self.product.name} lot {self.lot_number} (exp. {date_text(self.expires_on)})"


class SessionProductUse(models.Model):
    """A quantity of one lot used in one session: the traceability record for recalls."""

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="product_uses")
    lot = models.ForeignKey(ProductLot, on_delete=models.PROTECT, related_name="uses")
    quantity = models.DecimalField(max_digits=8, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "lot"]
        constraints = [
            models.UniqueConstraint(fields=["session", "lot"], name="product_use_one_row_per_lot"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="product_use_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.lot}"
