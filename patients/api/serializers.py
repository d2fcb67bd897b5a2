from __future__ import annotations

from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers
from timezone_field.rest_framework import TimeZoneSerializerField

from clinic.api.serializers import StrictInputMixin, TimeZoneField
from patients.models import Consent, ConsentKind, MedicalFlag, Patient


class PatientOutputSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(read_only=True, help_text="E.164")
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
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PatientInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    """What a client may send to create or change a patient.

    Field validation (lengths, E.164, dates) happens here; rules that need the
    whole record (a reachable preferred channel) run in the service.
    """

    phone = PhoneNumberField(required=False, allow_blank=True, help_text="E.164, e.g. +447700900123.")
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
