from __future__ import annotations

from typing import Any

from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers
from timezone_field.rest_framework import TimeZoneSerializerField

from clinic.api.serializers import FastRepresentationMixin, OffsetDateTimeField, StrictInputMixin, TimeZoneField
from clinic.phones import phone_help_text
from patients.models import Consent, ConsentKind, MedicalFlag, Patient
from patients.selectors import ClinicalAccess, clinical_access


def response_clinical_access(serializer: serializers.BaseSerializer[Any]) -> ClinicalAccess:
    """The requesting user's clinical access, worked out once per response (cached on the root serializer)."""
    root = serializer.root if serializer.root is not None else serializer
    cached = getattr(root, "_clinical_access", None)
    if cached is None:
        request = serializer.context.get("request")
        cached = clinical_access(getattr(request, "user", None))
        root._clinical_access = cached  # type: ignore[attr-defined]
    return cached


class PatientOutputSerializer(FastRepresentationMixin, serializers.ModelSerializer[Patient]):
    """A patient. Medical flags and notes read as null for anyone without access to the clinical record;
    `needs_medical_review` tells everyone whether a practitioner must review before treatment."""

    phone = serializers.CharField(read_only=True, help_text="E.164, e.g. +447400123456.")
    time_zone = TimeZoneSerializerField(use_pytz=False, read_only=True)
    medical_flags = serializers.ListField(
        child=serializers.ChoiceField(choices=MedicalFlag.choices),
        read_only=True,
        allow_null=True,
        help_text="Null unless you treat the patient or are a clinical admin.",
    )
    medical_notes = serializers.CharField(
        read_only=True, allow_null=True, help_text="Null unless you treat the patient or are a clinical admin."
    )
    needs_medical_review = serializers.SerializerMethodField(
        help_text="The patient has medical flags: a practitioner reviews them before treatment."
    )

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
            "needs_medical_review",
            "medical_flags",
            "medical_notes",
            "erased_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_needs_medical_review(self, patient: Patient) -> bool:
        return bool(patient.medical_flags)

    def to_representation(self, patient: Patient) -> dict[str, Any]:
        data = super().to_representation(patient)
        if not response_clinical_access(self).covers(patient.pk):
            # The front desk and integrations know a review is needed, never what for.
            data["medical_flags"] = None
            data["medical_notes"] = None
        return data


class PatientInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    """What a client may send to create or change a patient.

    Field validation (lengths, phone numbers, dates) happens here; rules that need the
    whole record (a reachable preferred channel) run in the service.
    """

    phone = PhoneNumberField(required=False, allow_blank=True, help_text=phone_help_text())
    time_zone = TimeZoneField(use_pytz=False, required=False, help_text="IANA zone, e.g. Europe/London.")
    medical_flags = serializers.ListField(
        child=serializers.ChoiceField(choices=MedicalFlag.choices),
        required=False,
        allow_empty=True,
        max_length=10,
        help_text="On creation, the flags the patient mentions. A change may only add flags; a flag is removed by a "
        "treating practitioner with a reason (medical-flags/remove).",
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
        extra_kwargs = {
            "medical_notes": {
                "max_length": 10_000,
                "help_text": "Written only by a practitioner who treats the patient, or a clinical admin.",
            }
        }

    def validate_medical_flags(self, flags: list[str]) -> list[str]:
        if len(set(flags)) != len(flags):
            raise serializers.ValidationError("Each medical flag may appear once.")
        return flags


class ConsentOutputSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)
    recorded_by = serializers.CharField(source="recorded_by.get_username", read_only=True, allow_null=True)

    class Meta:
        model = Consent
        fields = ["id", "kind", "scope", "version", "given_at", "revoked_at", "is_active", "recorded_by", "updated_at"]
        read_only_fields = fields


class ConsentInputSerializer(StrictInputMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=ConsentKind.choices)
    scope = serializers.SlugField(
        max_length=50,
        required=False,
        default="",
        help_text="For a treatment consent: the protocol's consent form (`treatment_consent_form`), required.",
    )
    version = serializers.CharField(max_length=50)
    given_at = OffsetDateTimeField(required=False, help_text="Defaults to now.")


class MedicalFlagAddSerializer(StrictInputMixin, serializers.Serializer):
    flag = serializers.ChoiceField(choices=MedicalFlag.choices, help_text="A condition the patient mentions.")


class MedicalFlagRemoveSerializer(StrictInputMixin, serializers.Serializer):
    flag = serializers.ChoiceField(choices=MedicalFlag.choices)
    reason = serializers.CharField(max_length=2_000, help_text="Why the flag no longer applies (audit trail).")


class ConsentRevokeInputSerializer(StrictInputMixin, serializers.Serializer):
    revoked_at = OffsetDateTimeField(required=False, help_text="Defaults to now.")
