from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import mark_safe
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_actions import apply_to_each
from clinic.admin_forms import ServiceAdminMixin, ServiceForm
from clinic.phones import phone_help_text
from patients import selectors, services
from patients.admin_clinical import ClinicalRecordAdminMixin
from patients.models import Consent, MedicalFlag, Patient


class PatientAdminForm(ServiceForm):
    """A patient's page. Its clinical fields appear only for those who may see them (ClinicalRecordAdminMixin);
    everyone may add a flag the patient mentions, and removing one needs a reason."""

    medical_flags = forms.MultipleChoiceField(
        choices=MedicalFlag.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Untick a flag only after reviewing it, and say why below.",
    )
    flag_removal_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why a flag no longer applies (kept in the audit trail).",
    )
    add_medical_flags = forms.MultipleChoiceField(
        choices=MedicalFlag.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Add a medical flag",
        help_text="A condition the patient mentions; a practitioner reviews it before the next treatment.",
    )

    # A zone typed (Europe/London), not chosen among 600 options: the select made the page 84 KB.
    time_zone = forms.CharField(
        max_length=63,
        initial=settings.CLINIC_DEFAULT_TIME_ZONE,
        help_text="IANA zone, e.g. Europe/London. Aftercare messages go out at local times in this zone.",
    )

    class Meta:
        model = Patient
        fields = sorted(services.PATIENT_EDITABLE_FIELDS)

    def clean_time_zone(self) -> ZoneInfo:
        name = self.cleaned_data["time_zone"].strip()
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(f"{name!r} is not a time zone: write it as Europe/London.") from None

    def perform(self, cleaned_data: dict[str, Any]) -> Patient:
        data = {
            name: cleaned_data[name]
            for name in services.PATIENT_EDITABLE_FIELDS - {"medical_flags"}
            if name in cleaned_data
        }
        added = list(cleaned_data.get("add_medical_flags") or [])
        if self.instance._state.adding:
            flags = list(dict.fromkeys([*(cleaned_data.get("medical_flags") or []), *added]))
            return services.patient_create(actor=self.actor, data={**data, "medical_flags": flags})
        patient = services.patient_update(patient=self.instance, actor=self.actor, data=data)
        if "medical_flags" in cleaned_data:  # shown: the user may see (and review) the flags
            wanted = set(cleaned_data["medical_flags"])
            added += sorted(wanted - set(patient.medical_flags))
            for flag in sorted(set(patient.medical_flags) - wanted):
                patient = services.patient_medical_flag_remove(
                    patient=patient, flag=flag, reason=cleaned_data.get("flag_removal_reason", ""), actor=self.actor
                )
        for flag in added:
            patient = services.patient_medical_flag_add(patient=patient, flag=flag, actor=self.actor)
        return patient


class MedicalFlagFilter(admin.SimpleListFilter):
    title = "medical flag"
    parameter_name = "medical_flag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("any", "Any flag (needs review)"), *MedicalFlag.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Patient]) -> QuerySet[Patient]:
        value = self.value()
        if value == "any":
            return queryset.exclude(medical_flags=[])
        if value in MedicalFlag.values:
            return queryset.filter(medical_flags__contains=[value])
        return queryset


class ConsentInline(admin.TabularInline):
    """Consents are shown here; they are recorded and revoked on the Consent page,
    through the service that keeps one active consent per kind."""

    model = Consent
    fields = ("kind", "scope", "version", "given_at", "revoked_at", "recorded_by")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Patient)
class PatientAdmin(ClinicalRecordAdminMixin, ServiceAdminMixin, SimpleHistoryAdmin):
    form = PatientAdminForm
    clinical_fields = ("medical_flags", "medical_notes", "flag_removal_reason")
    list_display = ["last_name", "first_name", "email", "phone", "date_of_birth", "preferred_channel", "skin_type"]
    list_display_links = ["last_name", "first_name"]
    search_fields = ["last_name", "first_name", "email", "phone"]
    list_filter = ["preferred_channel", "skin_type", "language", "created_at"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "needs_medical_review", "erased_at", "created_at", "updated_at"]
    inlines = [ConsentInline]
    formfield_overrides = {PhoneNumberField: {"help_text": phone_help_text()}}
    fieldsets = [
        (None, {"fields": ["id", "first_name", "last_name", "date_of_birth"]}),
        ("Contact", {"fields": ["email", "phone", "preferred_channel", "language", "time_zone"]}),
        (
            "Clinical",
            {
                "fields": [
                    "skin_type",
                    "needs_medical_review",
                    "medical_flags",
                    "flag_removal_reason",
                    "add_medical_flags",
                    "medical_notes",
                ]
            },
        ),
        ("Record", {"fields": ["erased_at", "created_at", "updated_at"]}),
    ]

    def patient_id_of(self, obj: Patient) -> Any:
        return obj.pk

    @admin.display(description="medical review")
    def needs_medical_review(self, patient: Patient) -> str:
        if not patient.medical_flags:
            return "Not needed: no medical flags on file."
        return mark_safe(  # a constant, no user data
            '<strong style="color:#ba2121">Needed</strong>: a practitioner reviews the medical flags before treatment.'
        )

    def get_fieldsets(self, request: HttpRequest, obj: Patient | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if self.shows_clinical(request, obj):
            # Those who see the flags tick them directly.
            return [
                (name, {**o, "fields": [f for f in o["fields"] if f != "add_medical_flags"]}) for name, o in fieldsets
            ]
        return fieldsets

    def get_list_filter(self, request: HttpRequest) -> Any:
        # Filtering by flag would tell what the list may not show.
        if self.clinical_access(request).every_patient:
            return [*self.list_filter[:2], MedicalFlagFilter, *self.list_filter[2:]]
        return self.list_filter

    def get_inlines(self, request: HttpRequest, obj: Patient | None) -> list[type]:
        # All inlines are read-only records, empty for a patient not yet saved.
        return self.inlines if obj is not None else []

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Patient], search_term: str
    ) -> tuple[QuerySet[Patient], bool]:
        """Names and email as Django searches them, or the phone however it was typed."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # Django matches each word on its own: "07400 123456" would need "07400" in the stored +447400123456.
        by_phone = selectors.patient_phone_match(search_term)
        if by_phone is not None:
            found |= queryset.filter(by_phone)
        return found, may_have_duplicates

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Clinical records are kept; erasure anonymises instead of deleting.
        return False


class ConsentAdminForm(ServiceForm):
    """Record a consent through the service, which revokes the one of the same kind (and form) it replaces."""

    class Meta:
        model = Consent
        fields = ["patient", "kind", "scope", "version", "given_at"]

    def perform(self, cleaned_data: dict[str, Any]) -> Consent:
        return services.consent_give(actor=self.actor, **cleaned_data)


@admin.register(Consent)
class ConsentAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    form = ConsentAdminForm
    list_display = ["patient", "kind", "scope", "version", "given_at", "revoked_at", "recorded_by"]
    list_filter = ["kind", "scope", ("revoked_at", admin.EmptyFieldListFilter), "given_at"]
    search_fields = ["patient__last_name", "patient__first_name", "patient__email", "version"]
    autocomplete_fields = ["patient"]
    list_select_related = ["patient", "recorded_by"]
    actions = ["revoke_selected"]

    def get_readonly_fields(self, request: HttpRequest, obj: Consent | None = None) -> list[str]:
        # A recorded consent is evidence; it is revoked, never edited.
        if obj is not None:
            return ["patient", "kind", "scope", "version", "given_at", "revoked_at", "recorded_by"]
        return []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Revoke selected consents", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[Consent]) -> None:
        apply_to_each(
            self,
            request,
            queryset.filter(revoked_at__isnull=True),
            lambda consent: services.consent_revoke(consent=consent, actor=request.user),
            done="Revoked {count} consent(s).",
        )
