"""What the front desk records: attempts to reach a patient about a course that needs booking."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from clinic.audit import audited


class ContactOutcome(models.TextChoices):
    REACHED = "reached", "Called: spoke to the patient"
    NO_ANSWER = "no_answer", "Called: no answer"
    LEFT_MESSAGE = "left_message", "Called: left a message"
    CALL_BACK = "call_back", "Call back on a date"
    DECLINED = "declined", "Declined further sessions"


class ContactAttempt(models.Model):
    """One attempt to reach a patient about booking their course.

    A call-back date keeps the course off the worklist until that day; a
    patient who declines ends the course (it is cancelled with the reason).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey("treatments.Course", on_delete=models.PROTECT, related_name="contact_attempts")
    outcome = models.CharField(max_length=20, choices=ContactOutcome.choices)
    call_back_on = models.DateField(null=True, blank=True, help_text="The day to try again (at the clinic).")
    note = models.TextField(blank=True)
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    made_by_label = models.CharField(max_length=150, help_text="Who made it: a staff member or an integration.")
    made_at = models.DateTimeField()
    history = audited()

    class Meta:
        ordering = ["-made_at"]
        indexes = [models.Index(fields=["course", "-made_at"], name="contact_attempt_latest_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(outcome="call_back") | Q(call_back_on__isnull=False),
                name="contact_attempt_call_back_has_date",
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=ContactOutcome.values), name="contact_attempt_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} about {self.course}"
