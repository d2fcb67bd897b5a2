from __future__ import annotations

from rest_framework import serializers

from aftercare.models import AftercareStep, ReportSource, ScheduledMessage, Severity, SideEffectReport, Symptom
from clinic.api.serializers import StrictInputMixin
from patients.models import Patient
from treatments.models import Practitioner, Session


class ScheduledMessageOutputSerializer(serializers.ModelSerializer):
    step: serializers.SlugRelatedField[AftercareStep] = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = ScheduledMessage
        fields = [
            "id",
            "kind",
            "patient",
            "course",
            "session",
            "step",
            "channel",
            "to_address",
            "subject",
            "body",
            "due_at",
            "status",
            "suppressed_reason",
            "attempts",
            "last_error",
            "provider_message_id",
            "sent_at",
            "cancelled_at",
            "created_at",
            "updated_at",
        ]


class SideEffectReportOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = SideEffectReport
        fields = [
            "id",
            "patient",
            "session",
            "symptoms",
            "severity",
            "onset_on",
            "notes",
            "source",
            "is_red_flag",
            "red_flag_reasons",
            "resolved_at",
            "resolved_by",
            "resolution_note",
            "created_at",
            "updated_at",
        ]


class SideEffectReportInputSerializer(StrictInputMixin, serializers.Serializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    session = serializers.PrimaryKeyRelatedField(
        queryset=Session.objects.all(), required=False, help_text="Defaults to the patient's latest completed session."
    )
    symptoms = serializers.ListField(
        child=serializers.ChoiceField(choices=Symptom.choices), min_length=1, max_length=len(Symptom)
    )
    severity = serializers.ChoiceField(choices=Severity.choices)
    onset_on = serializers.DateField(help_text="The day the symptoms began.")
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5_000)
    # DRF's metaclass moves declared fields off the class, so this input field
    # does not replace Field.source; mypy sees only the class attribute.
    source = serializers.ChoiceField(choices=ReportSource.choices, required=False)  # type: ignore[assignment]


class SideEffectResolveInputSerializer(StrictInputMixin, serializers.Serializer):
    resolution_note = serializers.CharField(max_length=5_000)
    practitioner = serializers.PrimaryKeyRelatedField(
        queryset=Practitioner.objects.all(), required=False, help_text="Defaults to the logged-in practitioner."
    )
