from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_actions import apply_to_each
from clinic.phones import phone_help_text
from patients import selectors, services
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
    fields = ("kind", "version", "given_at", "revoked_at", "recorded_by")
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
    inlines = [ConsentInline]
    formfield_overrides = {PhoneNumberField: {"help_text": phone_help_text()}}
    fieldsets = [
        (None, {"fields": ["id", "first_name", "last_name", "date_of_birth"]}),
        ("Contact", {"fields": ["email", "phone", "preferred_channel", "language", "time_zone"]}),
        ("Clinical", {"fields": ["skin_type", "medical_flags", "medical_notes"]}),
        ("Record", {"fields": ["erased_at", "created_at", "updated_at"]}),
    ]

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
        super().clean()
        cleaned = self.cleaned_data
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
        apply_to_each(
            self,
            request,
            queryset.filter(revoked_at__isnull=True),
            lambda consent: services.consent_revoke(consent=consent, actor=request.user),
            done="Revoked {count} consent(s).",
        )
