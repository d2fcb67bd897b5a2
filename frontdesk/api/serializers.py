from __future__ import annotations

from rest_framework import serializers

from frontdesk.worklist import KINDS


class WorklistQuerySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=KINDS, required=False)
    location = serializers.UUIDField(required=False)
    practitioner = serializers.UUIDField(required=False, help_text="The practitioner of the last session.")


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
    reason = serializers.CharField()
