from __future__ import annotations

from typing import Any

from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers
from timezone_field.rest_framework import TimeZoneSerializerField

from clinic.access import access_all_clinical_notes, access_patient_notes
from clinic.api.serializers import StrictInputMixin, TimeZoneField
from clinic.phones import phone_help_text
from patients.models import Consent, ConsentKind, MedicalFlag, Patient
from patients.selectors import patient_ids_treated_by


class PatientOutputSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(read_only=True, help_text="E.164, e.g. +447400123456.")
    time_zone = TimeZoneSerializerField(use_pytz=False, read_only=True)
    medical_flags = serializers.ListField(child=serializers.ChoiceField(choices=MedicalFlag.choices), read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "date_of_birth",
            "preferred_channel",
            "language",
            "time_zone",
            "skin_type",
            "medical_flags",
            "medical_notes",
            "erased_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, patient: Patient) -> dict[str, Any]:
        data = super().to_representation(patient)
        if not self._may_read_notes(patient):
            # Front desk and integrations see that notes exist as null, never their text.
            data["medical_notes"] = None
        return data

    def _may_read_notes(self, patient: Patient) -> bool:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if access_all_clinical_notes(user):
            return True
        root_context = self.root.context if self.root is not None else self.context
        if "_treated_patient_ids" not in root_context:
            # Once per response, not once per patient. The context is the root
            # serializer's own dict; djangorestframework-stubs type it read-only.
            root_context["_treated_patient_ids"] = patient_ids_treated_by(user)  # type: ignore[index]
        treating = {user.pk} if user is not None and patient.pk in root_context["_treated_patient_ids"] else set()
        return access_patient_notes(user, treating_user_ids=treating)


class PatientInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    """What a client may send to create or change a patient.

    Field validation (lengths, phone numbers, dates) happens here; rules that need the
    whole record (a reachable preferred channel) run in the service.
    """

    phone = PhoneNumberField(required=False, allow_blank=True, help_text=phone_help_text())
    time_zone = TimeZoneField(use_pytz=False, required=False, help_text="IANA zone, e.g. Europe/London.")
    medical_flags = serializers.ListField(
        child=serializers.ChoiceField(choices=MedicalFlag.choices), required=False, allow_empty=True, max_length=10
    )

    class Meta:
        model = Patient
        fields = [
            "first_name",
            "last_name",
            "email",
            "phone",
            "date_of_birth",
            "preferred_channel",
            "language",
            "time_zone",
            "skin_type",
            "medical_flags",
            "medical_notes",
        ]
        extra_kwargs = {"medical_notes": {"max_length": 10_000}}


class ConsentOutputSerializer(serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)
    recorded_by = serializers.CharField(source="recorded_by.get_username", read_only=True, allow_null=True)

    class Meta:
        model = Consent
        fields = ["id", "kind", "version", "given_at", "revoked_at", "is_active", "recorded_by", "updated_at"]
        read_only_fields = fields


class ConsentInputSerializer(StrictInputMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=ConsentKind.choices)
    version = serializers.CharField(max_length=50)
    given_at = serializers.DateTimeField(required=False, help_text="Defaults to now.")


class ConsentRevokeInputSerializer(StrictInputMixin, serializers.Serializer):
    revoked_at = serializers.DateTimeField(required=False, help_text="Defaults to now.")
