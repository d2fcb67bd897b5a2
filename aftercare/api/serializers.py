from __future__ import annotations

from typing import Any

from rest_framework import serializers

from aftercare.models import (
    AftercareStep,
    InboundMessage,
    MessageKind,
    ScheduledMessage,
    Severity,
    SideEffectReport,
    Symptom,
)
from clinic.api.serializers import FastRepresentationMixin, StrictInputMixin
from patients.api.serializers import response_clinical_access
from patients.models import Patient
from treatments.models import Session


class ScheduledMessageOutputSerializer(FastRepresentationMixin, serializers.ModelSerializer[ScheduledMessage]):
    """An outbox row. A red-flag alert's subject and body quote the report: null without clinical access."""

    step: serializers.SlugRelatedField[AftercareStep] = serializers.SlugRelatedField(
        slug_field="code",
        read_only=True,
        allow_null=True,
        help_text="The aftercare plan step; null for messages outside the plan (reminders, prompts, alerts).",
    )
    subject = serializers.CharField(read_only=True, allow_null=True)
    body = serializers.CharField(read_only=True, allow_null=True)

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
            "announces_start",
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

    def to_representation(self, message: ScheduledMessage) -> dict[str, Any]:
        data = super().to_representation(message)
        # An alert to the practitioner quotes the report (symptoms, notes): clinical.
        if message.kind == MessageKind.RED_FLAG_ALERT and not response_clinical_access(self).covers(message.patient_id):
            data["subject"] = data["body"] = None
        return data


class SideEffectReportOutputSerializer(FastRepresentationMixin, serializers.ModelSerializer[SideEffectReport]):
    """A side-effect report. Its notes and resolution note are clinical: null without access to the record."""

    notes = serializers.CharField(read_only=True, allow_null=True)
    resolution_note = serializers.CharField(read_only=True, allow_null=True)

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

    def to_representation(self, report: SideEffectReport) -> dict[str, Any]:
        data = super().to_representation(report)
        if not response_clinical_access(self).covers(report.patient_id):
            data["notes"] = data["resolution_note"] = None
        return data


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


class SideEffectResolveInputSerializer(StrictInputMixin, serializers.Serializer):
    resolution_note = serializers.CharField(
        max_length=5_000, help_text="What was done, written by the resolving practitioner (the logged-in user)."
    )


class InboundMessageOutputSerializer(FastRepresentationMixin, serializers.ModelSerializer[InboundMessage]):
    """A message from a patient in the front desk's inbox."""

    handled = serializers.SerializerMethodField(help_text="False while it waits for a person.")
    handled_by = serializers.CharField(
        source="handled_by_label",
        read_only=True,
        help_text="Who handled it: a staff member's username, `integration:<key name>`, or `system`.",
    )

    class Meta:
        model = InboundMessage
        fields = [
            "id",
            "channel",
            "from_number",
            "to_number",
            "body",
            "received_at",
            "patient",
            "session",
            "intent",
            "match",
            "handled",
            "handled_at",
            "handled_by",
            "handled_note",
            "created_at",
            "updated_at",
        ]

    def get_handled(self, message: InboundMessage) -> bool:
        return message.handled_at is not None


class InboundMessageHandleInputSerializer(StrictInputMixin, serializers.Serializer):
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=2_000, help_text="What was done (a call, a booking…)."
    )
