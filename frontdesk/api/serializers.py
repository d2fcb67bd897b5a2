from __future__ import annotations

from rest_framework import serializers

from clinic.api.serializers import FastRepresentationMixin, StrictInputMixin
from frontdesk.models import ContactAttempt, ContactOutcome
from frontdesk.worklist import KINDS
from treatments.models import Course


class WorklistQuerySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=KINDS, required=False)
    location = serializers.UUIDField(required=False)
    practitioner = serializers.UUIDField(required=False, help_text="The practitioner of the last session.")


class LastAttemptSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=ContactOutcome.choices)
    made_at = serializers.DateTimeField()
    made_by = serializers.CharField()
    call_back_on = serializers.DateField(allow_null=True)
    note = serializers.CharField(allow_blank=True)


class WorklistRowSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=KINDS)
    patient = serializers.UUIDField(source="patient_id")
    patient_name = serializers.CharField()
    patient_phone = serializers.CharField()
    course = serializers.UUIDField(source="course_id", allow_null=True)
    protocol = serializers.CharField()
    location = serializers.UUIDField(source="location_id", allow_null=True)
    practitioner = serializers.UUIDField(source="practitioner_id", allow_null=True)
    sessions_done = serializers.IntegerField(help_text="Completed course sessions (maintenance not counted).")
    sessions_planned = serializers.IntegerField()
    window_start = serializers.DateField(allow_null=True, help_text="Earliest date for the next session.")
    window_end = serializers.DateField(allow_null=True, help_text="Latest date for the next session.")
    days_overdue = serializers.IntegerField()
    last_contact_at = serializers.DateTimeField(allow_null=True, help_text="When a message last reached the patient.")
    reason = serializers.CharField(
        help_text="Why the row is here, with the last booking if it was cancelled or missed."
    )
    treatment_consent_needed = serializers.BooleanField(
        help_text="The patient has not consented to the protocol's current form: book, but collect it first."
    )
    last_attempt = LastAttemptSerializer(allow_null=True, help_text="The last attempt to reach the patient.")
    open_inbox_messages = serializers.IntegerField(
        help_text="Texts from the patient waiting in the inbox for a person (GET /api/v1/inbox/?patient=…)."
    )


class ContactAttemptOutputSerializer(FastRepresentationMixin, serializers.ModelSerializer[ContactAttempt]):
    made_by = serializers.CharField(source="made_by_label", read_only=True)

    class Meta:
        model = ContactAttempt
        fields = ["id", "course", "outcome", "call_back_on", "note", "made_by", "made_at"]


class ContactAttemptInputSerializer(StrictInputMixin, serializers.Serializer):
    course = serializers.PrimaryKeyRelatedField(queryset=Course.objects.all())
    outcome = serializers.ChoiceField(
        choices=ContactOutcome.choices,
        help_text="call_back needs call_back_on and keeps the row off the worklist until then; declined cancels "
        "the course.",
    )
    call_back_on = serializers.DateField(required=False, help_text="The day to try again (at the clinic).")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2_000)
