from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from aftercare.admin import PatientMessageInline, SideEffectReportInline
from clinic.errors import DomainError
from patients import privacy, services
from patients.models import Consent, MedicalFlag, Patient


class PatientAdminForm(forms.ModelForm):
    medical_flags = forms.MultipleChoiceField(
        choices=MedicalFlag.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = Patient
        fields = sorted(services.PATIENT_EDITABLE_FIELDS)


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
    fields = ["kind", "version", "given_at", "revoked_at", "recorded_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin):
    form = PatientAdminForm
    list_display = ["last_name", "first_name", "email", "phone", "date_of_birth", "preferred_channel", "skin_type"]
    list_display_links = ["last_name", "first_name"]
    search_fields = ["last_name", "first_name", "email", "phone"]
    list_filter = ["preferred_channel", "skin_type", MedicalFlagFilter, "language", "created_at"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "erased_at", "created_at", "updated_at"]
    inlines = [ConsentInline, SideEffectReportInline, PatientMessageInline]
    fieldsets = [
        (None, {"fields": ["id", "first_name", "last_name", "date_of_birth"]}),
        ("Contact", {"fields": ["email", "phone", "preferred_channel", "language", "time_zone"]}),
        ("Clinical", {"fields": ["skin_type", "medical_flags", "medical_notes"]}),
        ("Record", {"fields": ["erased_at", "created_at", "updated_at"]}),
    ]

    actions = ["export_selected", "erase_selected"]

    @admin.action(description="Export selected patients' data (JSON)", permissions=["export"])
    def export_selected(self, request: HttpRequest, queryset: QuerySet[Patient]) -> HttpResponse:
        documents = [privacy.patient_export(patient=patient) for patient in queryset]
        response = HttpResponse(json.dumps(documents, indent=2), content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="patient-export.json"'
        return response

    @admin.action(description="Erase selected patients' personal data", permissions=["erase"])
    def erase_selected(self, request: HttpRequest, queryset: QuerySet[Patient]) -> HttpResponse | None:
        if request.POST.get("confirmed") != "yes":
            # Erasure cannot be undone: show what will happen and ask first.
            return TemplateResponse(
                request,
                "admin/patients/patient/erase_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Erase personal data?",
                    "patients": queryset,
                    "opts": self.model._meta,
                    "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                },
            )
        erased = 0
        for patient in queryset:
            try:
                privacy.patient_erase(patient=patient, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{patient}: {error.message}", messages.ERROR)
            else:
                erased += 1
        self.message_user(request, f"Erased the personal data of {erased} patient(s).", messages.SUCCESS)
        return None

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("patients.export_patient")

    def has_erase_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("patients.erase_patient")

    def get_inlines(self, request: HttpRequest, obj: Patient | None) -> list[type]:
        # All inlines are read-only records, empty for a patient not yet saved.
        return self.inlines if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Clinical records are kept; erasure anonymises instead of deleting.
        return False

    def save_model(self, request: HttpRequest, obj: Patient, form: forms.ModelForm, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in services.PATIENT_EDITABLE_FIELDS if name in form.cleaned_data}
        if change:
            services.patient_update(patient=obj, actor=request.user, data=data)
        else:
            created = services.patient_create(actor=request.user, data=data)
            obj.pk = created.pk
            obj._state.adding = False


class ConsentAdminForm(forms.ModelForm):
    class Meta:
        model = Consent
        fields = ["patient", "kind", "version", "given_at"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if all(cleaned.get(name) for name in ("patient", "kind", "given_at")):
            services.consent_check_new(
                patient=cleaned["patient"], kind=cleaned["kind"], given_at=cleaned["given_at"], now=timezone.now()
            )
        return cleaned

    def validate_constraints(self) -> None:
        # A new consent replaces the active one of its kind (the service
        # revokes it), so the one-active-per-kind constraint is not a form error.
        pass


@admin.register(Consent)
class ConsentAdmin(SimpleHistoryAdmin):
    form = ConsentAdminForm
    list_display = ["patient", "kind", "version", "given_at", "revoked_at", "recorded_by"]
    list_filter = ["kind", ("revoked_at", admin.EmptyFieldListFilter), "given_at"]
    search_fields = ["patient__last_name", "patient__first_name", "patient__email", "version"]
    autocomplete_fields = ["patient"]
    list_select_related = ["patient", "recorded_by"]
    actions = ["revoke_selected"]

    def get_readonly_fields(self, request: HttpRequest, obj: Consent | None = None) -> list[str]:
        # A recorded consent is evidence; it is revoked, never edited.
        if obj is not None:
            return ["patient", "kind", "version", "given_at", "revoked_at", "recorded_by"]
        return []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Consent, form: forms.ModelForm, change: bool) -> None:
        if change:
            return
        created = services.consent_give(
            patient=form.cleaned_data["patient"],
            kind=form.cleaned_data["kind"],
            version=form.cleaned_data["version"],
            given_at=form.cleaned_data["given_at"],
            actor=request.user,
        )
        obj.pk = created.pk
        obj._state.adding = False

    @admin.action(description="Revoke selected consents", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[Consent]) -> None:
        revoked = 0
        for consent in queryset.filter(revoked_at__isnull=True):
            try:
                services.consent_revoke(consent=consent, actor=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{consent}: {'; '.join(exc.messages)}", messages.ERROR)
            else:
                revoked += 1
        self.message_user(request, f"Revoked {revoked} consent(s).", messages.SUCCESS)
