"""Aftercare plans, the message outbox, side-effect reports and the inbox of patients' texts.

Every message is a row here (ScheduledMessage) before anything is sent: its
due time lives in PostgreSQL, never in a broker ETA, so a restart or a
Redis hiccup loses nothing. The dispatcher claims due rows and sends them.
Every text a patient sends in is a row too (InboundMessage), whatever it says.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.files.storage import storages
from django.db import models
from django.db.models import Q

from clinic.audit import audited
from clinic.local_time import local_datetime_text
from patients.validators import validate_one_line


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class ChannelRule(models.TextChoices):
    PREFERRED = "preferred", "Patient's preferred channel"
    EMAIL = "email", "Always email"
    SMS = "sms", "Always SMS"


class OffsetUnit(models.TextChoices):
    HOURS = "hours", "Hours (elapsed time)"
    DAYS = "days", "Days (same local time of day)"


class StepCondition(models.TextChoices):
    ALWAYS = "always", "After every session"
    SESSIONS_REMAIN = "sessions_remain", "Only while course sessions remain"
    FINAL_SESSION = "final_session", "Only after the course's final session"


class MessageKind(models.TextChoices):
    AFTERCARE = "aftercare", "Aftercare advice"
    CHECK_IN = "check_in", "Side-effect check-in"
    FOLLOWUP_OPEN = "followup_open", "Next session window open"
    FOLLOWUP_CLOSING = "followup_closing", "Next session window closing"
    MAINTENANCE_DUE = "maintenance_due", "Maintenance due"
    MAINTENANCE_CLOSING = "maintenance_closing", "Maintenance window closing"
    APPOINTMENT_REMINDER = "appointment_reminder", "Appointment reminder"
    RED_FLAG_ALERT = "red_flag_alert", "Red-flag alert to clinicians"
    RED_FLAG_REPLY = "red_flag_reply", "Red-flag reply to the patient"
    CONFIRM_REPLY = "confirm_reply", "Answer to a text: appointment confirmed"
    OPT_IN_REPLY = "opt_in_reply", "Answer to a text: texts resumed (START)"
    HELP_REPLY = "help_reply", "Answer to a text: help (HELP)"
    BOOKING_CONFIRMATION = "booking_confirmation", "Booking confirmation"
    BOOKING_CHANGE = "booking_change", "Booking change notice"
    BOOKING_CANCELLATION = "booking_cancellation", "Booking cancellation notice"


class AftercarePlan(models.Model):
    """The messages that follow each session of one protocol."""

    protocol = models.OneToOneField("treatments.Protocol", on_delete=models.CASCADE, related_name="aftercare_plan")
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class AftercareStep(models.Model):
    """One message of a plan, sent at an offset from the session's completion.

    An hour offset is elapsed time. A day offset lands on the local date that
    many days later, at `local_send_time` in the patient's zone, whatever the
    clocks did in between.
    """

    plan = models.ForeignKey(AftercarePlan, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField()
    code = models.SlugField(max_length=50, help_text="Stable name, e.g. day-3-early-recovery.")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=MessageKind.choices, default=MessageKind.AFTERCARE)
    offset_unit = models.CharField(max_length=10, choices=OffsetUnit.choices)
    offset_value = models.PositiveSmallIntegerField()
    local_send_time = models.TimeField(null=True, blank=True, help_text="For day offsets: local time to send.")
    channel_rule = models.CharField(max_length=10, choices=ChannelRule.choices, default=ChannelRule.PREFERRED)
    condition = models.CharField(max_length=20, choices=StepCondition.choices, default=StepCondition.ALWAYS)
    prompts_booking = models.BooleanField(
        default=False,
        help_text="The text asks the patient to book the next session (so no separate prompt is sent).",
    )
    announces_clearance = models.BooleanField(
        default=False,
        help_text=(
            "The text tells the patient that treatments this protocol's conflict rules block (peels, laser…) "
            "are fine again: it never goes before the booking rules allow them."
        ),
    )
    expires_after_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=(
            "How long after its due time the advice stays true. A session recorded so late that the message "
            "could not go out in time gets it written as suppressed (out of date) instead. Empty: sent however late."
        ),
    )

    class Meta:
        ordering = ["plan", "order"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "order"], name="aftercare_step_unique_order"),
            models.UniqueConstraint(fields=["plan", "code"], name="aftercare_step_unique_code"),
            models.CheckConstraint(
                condition=Q(offset_unit="hours") | Q(local_send_time__isnull=False),
                name="aftercare_step_day_offset_has_send_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.name} (+{self.offset_value} {self.offset_unit})"


class MessageTemplate(models.Model):
    """The words of one step, for one channel and language (Django template syntax)."""

    step = models.ForeignKey(AftercareStep, on_delete=models.CASCADE, related_name="templates")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    language = models.CharField(max_length=10, default="en")
    subject = models.CharField(max_length=200, blank=True, validators=[validate_one_line], help_text="Email only.")
    body = models.TextField(
        help_text=(
            "Variables: {{ first_name }}, {{ session_date }}, {{ clinic_name }}, {{ clinic_phone }}, "
            "{{ reply_to }} (empty unless replies reach the clinic), {{ first_session }}, {{ session_number }}, "
            "{{ next_window_start }}, {{ next_window_end }}, {{ next_session }}, {{ sessions_remaining }}, "
            "{{ page_url }} (the patient's page for the session: every text should carry it); for texts, short "
            "dates: {{ session_date_short }}, {{ next_window_start_short }}, {{ next_window_end_short }}, "
            "{{ next_session_short }}. An SMS should stay within two segments (306 plain characters)."
        )
    )

    class Meta:
        ordering = ["step", "channel", "language"]
        constraints = [
            models.UniqueConstraint(fields=["step", "channel", "language"], name="template_unique_per_channel_language")
        ]

    def __str__(self) -> str:
        return f"{self.step.code} [{self.channel}/{self.language}]"


class PromptTemplate(models.Model):
    """The words of a message outside the aftercare plan (prompts, reminders, alerts)."""

    kind = models.CharField(max_length=30, choices=MessageKind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    language = models.CharField(max_length=10, default="en")
    subject = models.CharField(max_length=200, blank=True, validators=[validate_one_line], help_text="Email only.")
    body = models.TextField()

    class Meta:
        ordering = ["kind", "channel", "language"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "channel", "language"], name="prompt_template_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} [{self.channel}/{self.language}]"


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    SUPPRESSED = "suppressed", "Suppressed"


class SuppressionReason(models.TextChoices):
    NO_CONSENT = "no_consent", "No consent for service messages"
    NO_CONTACT = "no_contact", "No contact detail for the channel"
    PATIENT_ERASED = "patient_erased", "Patient erased"
    NO_TEMPLATE = "no_template", "No template for the channel and language"
    OUT_OF_DATE = "out_of_date", "Out of date: the session was recorded too late for it"


class ScheduledMessage(models.Model):
    """The outbox: one message, from scheduling to its last delivery attempt."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=30, choices=MessageKind.choices)
    # Makes scheduling idempotent: the same fact never schedules two messages.
    dedupe_key = models.CharField(max_length=200, unique=True)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="messages")
    course = models.ForeignKey(
        "treatments.Course", on_delete=models.PROTECT, related_name="messages", null=True, blank=True
    )
    session = models.ForeignKey(
        "treatments.Session", on_delete=models.PROTECT, related_name="messages", null=True, blank=True
    )
    step = models.ForeignKey(AftercareStep, on_delete=models.PROTECT, related_name="messages", null=True, blank=True)
    report = models.ForeignKey(
        "SideEffectReport",
        on_delete=models.PROTECT,
        related_name="messages",
        null=True,
        blank=True,
        help_text="The side-effect report a red-flag alert or reply is about.",
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    to_address = models.CharField(max_length=254, blank=True)
    reply_to = models.EmailField(
        blank=True, help_text="Email only: where the patient's replies go (the location's address), if anywhere."
    )
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    page_url = models.URLField(
        max_length=300, blank=True, help_text="The patient's page the message links to (an email shows it as a button)."
    )
    announces_start = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "Booking notices and reminders: the appointment time the message tells the patient of (for a "
            "cancellation, the time cancelled). What a patient knows of a session is what its last notice sent said."
        ),
    )
    due_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    suppressed_reason = models.CharField(max_length=30, choices=SuppressionReason.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The staff member who cancelled it; empty when a booking change made it untrue.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # The dispatcher's query: due pending rows, oldest first.
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="message_pending_due_idx"),
            models.Index(fields=["claimed_at"], condition=Q(status="sending"), name="message_sending_claim_idx"),
            # The outbox list's default order.
            models.Index(fields=["due_at", "id"], name="message_due_order_idx"),
            # When a message last reached a patient (the worklist's last contact).
            models.Index(
                fields=["patient", "sent_at"], condition=Q(status="sent"), name="message_sent_per_patient_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "step"], condition=Q(step__isnull=False), name="message_one_per_session_step"
            ),
            models.CheckConstraint(condition=Q(status__in=MessageStatus.values), name="message_status_valid"),
            models.CheckConstraint(
                condition=~Q(status="suppressed") | ~Q(suppressed_reason=""), name="message_suppressed_has_reason"
            ),
        ]

    def __str__(self) -> str:
        # In the patient's zone: the time on their clock when it reaches them.
        due = local_datetime_text(self.due_at, self.patient.time_zone)
        return f"{self.get_kind_display()} to {self.patient} at {due} ({self.status})"


class Symptom(models.TextChoices):
    PAIN = "pain", "Pain"
    SWELLING = "swelling", "Swelling"
    REDNESS = "redness", "Redness"
    IRRITATION = "irritation", "Irritation (stinging, burning, soreness of the skin)"
    BRUISING = "bruising", "Bruising"
    ITCHING = "itching", "Itching"
    RASH = "rash", "Rash"
    PUS = "pus", "Pus or discharge"
    FEVER = "fever", "Fever"
    BUMPS = "bumps", "Small bumps"


class Severity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class ReportSource(models.TextChoices):
    STAFF = "staff", "Entered by staff"
    INTEGRATION = "integration", "Received by API"
    PATIENT = "patient", "Sent by the patient (aftercare page)"


def private_storage() -> Any:
    """Where files patients send are kept: never served at a public URL (settings.STORAGES["private"])."""
    return storages["private"]


def photo_path(report: SideEffectReport, filename: str) -> str:
    return f"side-effect-photos/{report.patient_id}/{filename}"


class SideEffectReport(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="side_effect_reports")
    session = models.ForeignKey(
        "treatments.Session", on_delete=models.PROTECT, related_name="side_effect_reports", null=True, blank=True
    )
    symptoms = ArrayField(models.CharField(max_length=20, choices=Symptom.choices))
    severity = models.CharField(max_length=10, choices=Severity.choices)
    onset_on = models.DateField(help_text="The day the symptoms began.")
    notes = models.TextField(blank=True)
    photo = models.FileField(
        storage=private_storage,
        upload_to=photo_path,
        blank=True,
        max_length=300,
        help_text="A photo the patient sent, re-encoded without its metadata; stored privately.",
    )
    source = models.CharField(max_length=20, choices=ReportSource.choices, default=ReportSource.STAFF)
    is_red_flag = models.BooleanField(default=False)
    red_flag_reasons = models.TextField(blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        "treatments.Practitioner", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    history = audited()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["patient"], condition=Q(is_red_flag=True, resolved_at__isnull=True), name="report_open_flag_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{', '.join(self.symptoms)} ({self.severity}) for {self.patient}"


class InboundChannel(models.TextChoices):
    SMS = "sms", "SMS"
    WEB = "web", "Aftercare page"


class InboundIntent(models.TextChoices):
    """What a patient's message asks for (aftercare.inbound_keywords reads it from a text)."""

    CONFIRM = "confirm", "Confirms the next appointment"
    REBOOK_REQUEST = "rebook_request", "Asks to rebook"
    BOOKING_REQUEST = "booking_request", "Asks to book"
    OPT_OUT = "opt_out", "Opts out of texts (STOP)"
    OPT_IN = "opt_in", "Opts back in to texts (START)"
    HELP = "help", "Asks for help (HELP)"
    OTHER = "other", "Other"


class SenderMatch(models.TextChoices):
    """Whose message it is, from the number it came from: exactly one patient, or nobody (never a guess)."""

    MATCHED = "matched", "Matched to the patient"
    UNKNOWN_NUMBER = "unknown_number", "Unknown number"
    SHARED_NUMBER = "shared_number", "Number on several patients' records"


class InboundMessage(models.Model):
    """A message from a patient to the clinic: a text, or a request from their aftercare page.

    Every one is kept. What the system can act on by itself (a STOP, a
    confirmation) is acted on and recorded as handled by the system; the rest
    stays open (`handled_at` empty) in the front desk's inbox until a person
    marks it handled (aftercare.inbox).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.CharField(max_length=10, choices=InboundChannel.choices)
    from_number = models.CharField(
        max_length=32, blank=True, help_text="The sender as the provider gave it (E.164 for a phone)."
    )
    to_number = models.CharField(max_length=32, blank=True, help_text="The clinic's number the text was sent to.")
    body = models.TextField(blank=True)
    provider_message_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="The provider's id (Twilio's MessageSid): a delivery retried with the same id is stored once.",
    )
    received_at = models.DateTimeField()
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="inbound_messages", null=True, blank=True
    )
    session = models.ForeignKey(
        "treatments.Session",
        on_delete=models.PROTECT,
        related_name="inbound_messages",
        null=True,
        blank=True,
        help_text="The appointment it is about: the one confirmed, or the next booked one.",
    )
    intent = models.CharField(max_length=20, choices=InboundIntent.choices)
    match = models.CharField(max_length=20, choices=SenderMatch.choices)
    handled_at = models.DateTimeField(null=True, blank=True, help_text="Empty while it waits in the inbox.")
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handled_by_label = models.CharField(
        max_length=150, blank=True, help_text="Who handled it: a staff member, an integration, or the system."
    )
    handled_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    history = audited()

    class Meta:
        ordering = ["-received_at", "id"]
        verbose_name = "inbox message"
        verbose_name_plural = "inbox"
        indexes = [
            # The open inbox, newest first (the admin's list, the worklist's count).
            models.Index(fields=["-received_at", "id"], condition=Q(handled_at__isnull=True), name="inbound_open_idx"),
            # A patient's open items (the worklist's marker, the patient card).
            models.Index(
                fields=["patient", "-received_at"],
                condition=Q(handled_at__isnull=True),
                name="inbound_open_per_patient_idx",
            ),
            # The whole inbox, newest first (the API's default order).
            models.Index(fields=["-received_at", "id"], name="inbound_received_idx"),
            # Texts from one number: its last STOP or START, erasure, the admin's search by number.
            models.Index(fields=["from_number", "-received_at"], name="inbound_from_number_idx"),
        ]
        constraints = [
            # Twilio retries a webhook that timed out: the second delivery must change nothing.
            models.UniqueConstraint(
                fields=["provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="inbound_one_per_provider_message",
            ),
            models.CheckConstraint(condition=Q(intent__in=InboundIntent.values), name="inbound_intent_valid"),
            models.CheckConstraint(condition=Q(match__in=SenderMatch.values), name="inbound_match_valid"),
            models.CheckConstraint(
                condition=Q(match="matched", patient__isnull=False) | (~Q(match="matched") & Q(patient__isnull=True)),
                name="inbound_patient_only_when_matched",
            ),
        ]

    def __str__(self) -> str:
        who = str(self.patient) if self.patient_id else (self.from_number or "unknown sender")
        return f"{self.get_intent_display()} from {who} at {local_datetime_text(self.received_at)}"

    @property
    def is_open(self) -> bool:
        return self.handled_at is None
