"""Sessions: booked and moved through the services (with rule overrides), completed on a page
of their own (it records lots), cancelled or marked no-show by action."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_actions import apply_to_each
from clinic.admin_forms import ServiceAdminMixin, ServiceForm, came_from, domain_error_as_validation_error
from clinic.errors import DomainError
from patients.admin_clinical import ClinicalRecordAdminMixin, form_without
from patients.selectors import clinical_access
from treatments import rules, services
from treatments.models import (
    CancelReason,
    Practitioner,
    ProductLot,
    RuleOverride,
    Session,
    SessionProductUse,
    SessionStatus,
    TreatedArea,
)
from treatments.services import acting_practitioner

if TYPE_CHECKING:
    from django_stubs_ext import FieldOpts, FieldsetSpec


class OverrideFields(forms.Form):
    """Fields to override overridable rules, shared by booking and rescheduling: shown to practitioners only,
    whose own decision it is (there is no one else to name)."""

    override_rules = forms.MultipleChoiceField(
        choices=[(rule.value, rule.value.replace("_", " ")) for rule in sorted(rules.OVERRIDABLE_RULES)],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Your decision, as the practitioner, to go ahead despite the rule.",
    )
    override_reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


OVERRIDE_FIELDS = tuple(OverrideFields.base_fields)


def _override_kwargs(cleaned: dict[str, Any]) -> dict[str, Any]:
    reason = cleaned.get("override_reason", "")
    return {"overrides": [services.Override(rule=rule, reason=reason) for rule in cleaned.get("override_rules", [])]}


class SessionBookForm(ServiceForm):
    override_rules = OverrideFields.base_fields["override_rules"]
    override_reason = OverrideFields.base_fields["override_reason"]

    class Meta:
        model = Session
        fields = ["course", "practitioner", "room", "starts_at"]

    def perform(self, cleaned_data: dict[str, Any]) -> Session:
        return services.session_book(
            course=cleaned_data["course"],
            practitioner=cleaned_data["practitioner"],
            room=cleaned_data["room"],
            starts_at=cleaned_data["starts_at"],
            actor=self.actor,
            **_override_kwargs(cleaned_data),
        )


class SessionRescheduleForm(ServiceForm):
    override_rules = OverrideFields.base_fields["override_rules"]
    override_reason = OverrideFields.base_fields["override_reason"]

    class Meta:
        model = Session
        fields = ["practitioner", "room", "starts_at"]

    def perform(self, cleaned_data: dict[str, Any]) -> Session:
        if not self.has_changed():
            return self.instance
        return services.session_reschedule(
            session=self.instance,
            starts_at=cleaned_data["starts_at"],
            practitioner=cleaned_data["practitioner"],
            room=cleaned_data["room"],
            actor=self.actor,
            **_override_kwargs(cleaned_data),
        )


class SessionCompleteForm(forms.Form):
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    treated_areas = forms.MultipleChoiceField(
        choices=TreatedArea.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    completed_at = forms.DateTimeField(required=False, help_text="Leave empty for now.")


class ProductUseForm(forms.Form):
    lot = forms.ModelChoiceField(queryset=ProductLot.objects.select_related("product"), required=False)
    quantity = forms.DecimalField(max_digits=8, decimal_places=2, min_value=0, required=False)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("lot") and not cleaned.get("quantity"):
            raise ValidationError({"quantity": "Give the quantity used."})
        return cleaned


ProductUseFormSet = forms.formset_factory(ProductUseForm, extra=3)


class ProductUseInline(admin.TabularInline):
    """Lots used, recorded at completion; the record is never edited afterwards."""

    model = SessionProductUse
    fields = ("lot", "quantity")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RuleOverrideInline(admin.TabularInline):
    """The rules set aside for the session; the reasons are clinical (shown to those who may see them)."""

    model = RuleOverride
    fields = ("rule", "reason", "practitioner", "rule_message", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and clinical_access(request.user).covers(obj.course.patient_id):
            return self.fields
        return ("rule", "practitioner", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_fields(request, obj)


def _may_complete(request: HttpRequest, session: Session) -> bool:
    """Only the session's own practitioner completes it (treatments.services says so too)."""
    own = acting_practitioner(request.user)
    return (
        own is not None
        and own.pk == session.practitioner_id
        and session.status == SessionStatus.BOOKED
        and request.user.has_perms(["treatments.change_session", "treatments.complete_session"])
    )


@admin.register(Session)
class SessionAdmin(ClinicalRecordAdminMixin, ServiceAdminMixin, SimpleHistoryAdmin):
    list_display = ["starts_at", "patient", "protocol", "kind", "status", "practitioner", "room", "booked_late"]
    list_filter = ["status", "practitioner", "location", "kind", "booked_late", "starts_at"]
    search_fields = ["course__patient__last_name", "course__patient__first_name", "course__patient__email"]
    list_select_related = ["course__patient", "course__protocol", "practitioner", "room"]
    date_hierarchy = "starts_at"
    autocomplete_fields = ["course"]
    inlines = [ProductUseInline, RuleOverrideInline]
    actions = ["cancel_sessions", "mark_no_show"]
    change_form_template = "admin/treatments/session/change_form.html"
    clinical_fields = ("notes", "treated_areas")
    readonly_fields = [
        "course",
        "kind",
        "location",
        "ends_at",
        "status",
        "booked_late",
        "completed_at",
        "notes",
        "treated_areas",
        "cancelled_at",
        "cancel_reason",
        "cancel_note",
        "no_show_at",
        "arrived_at",
        "treatment_started_at",
        "confirmed_at",
        "sequence",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="patient", ordering="course__patient__last_name")
    def patient(self, session: Session) -> str:
        return str(session.course.patient)

    @admin.display(description="protocol")
    def protocol(self, session: Session) -> str:
        return str(session.course.protocol)

    def patient_id_of(self, obj: Session) -> Any:
        return obj.course.patient_id

    def get_form(
        self, request: HttpRequest, obj: Session | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        if obj is None:
            kwargs["form"] = SessionBookForm
        elif obj.status == SessionStatus.BOOKED:
            kwargs["form"] = SessionRescheduleForm
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if acting_practitioner(request.user) is None:
            form_class = form_without(form_class, OVERRIDE_FIELDS)
        if "practitioner" in form_class.base_fields and not request.user.has_perm(
            "treatments.book_for_any_practitioner"
        ):
            # A practitioner books and moves only their own sessions.
            own = acting_practitioner(request.user)
            field = form_class.base_fields["practitioner"]
            field.queryset = Practitioner.objects.filter(pk=own.pk) if own else Practitioner.objects.none()
            field.initial = own.pk if own else None
        return form_class

    def get_fieldsets(self, request: HttpRequest, obj: Session | None = None) -> FieldsetSpec:
        # Overriding a rule is a practitioner's own decision: only they see the fields.
        overrides: list[tuple[str, FieldOpts]] = (
            [("Rule overrides", {"fields": list(OVERRIDE_FIELDS)})] if acting_practitioner(request.user) else []
        )
        if obj is None:
            return [(None, {"fields": ["course", "practitioner", "room", "starts_at"]}), *overrides]
        record = [
            "course",
            "kind",
            "location",
            "status",
            "confirmed_at",
            "arrived_at",
            "treatment_started_at",
            "ends_at",
            "booked_late",
            "sequence",
        ]
        if obj.status == SessionStatus.BOOKED:
            return [(None, {"fields": ["practitioner", "room", "starts_at", *record]}), *overrides]
        fieldsets: FieldsetSpec = [
            (None, {"fields": ["practitioner", "room", "starts_at", *record]}),
            ("Clinical record", {"fields": ["completed_at", "notes", "treated_areas"]}),
            ("Cancellation", {"fields": ["cancelled_at", "cancel_reason", "cancel_note", "no_show_at"]}),
        ]
        return fieldsets if self.shows_clinical(request, obj) else self.without_clinical(fieldsets)

    def get_readonly_fields(self, request: HttpRequest, obj: Session | None = None) -> list[str]:
        if obj is None:
            return []
        if obj.status == SessionStatus.BOOKED:
            return self.readonly_fields
        return [*self.readonly_fields, "practitioner", "room", "starts_at"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """Pre-fill from the query string (the worklist's Book link), times in the clinic's zone."""
        # Django types the initial data as query-string values; a parsed datetime goes in.
        initial: dict[str, Any] = super().get_changeform_initial_data(request)
        raw = initial.get("starts_at")
        if isinstance(raw, str):
            parsed = parse_datetime(raw)
            initial["starts_at"] = (
                timezone.make_aware(parsed) if parsed is not None and timezone.is_naive(parsed) else parsed
            )
        return initial

    def get_inlines(self, request: HttpRequest, obj: Session | None) -> list[type]:
        # Lots and overrides are recorded by completing and booking, not typed in.
        return self.inlines if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # -- completing a session: its own page, since it records lots ---------------

    def get_urls(self) -> list:
        return [
            path(
                "<uuid:session_id>/complete/",
                self.admin_site.admin_view(self.complete_view),
                name="treatments_session_complete",
            ),
            *super().get_urls(),
        ]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        obj = context.get("original")
        # The Complete button is for the one who may press it: the session's practitioner.
        context["may_complete"] = obj is not None and _may_complete(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def complete_view(self, request: HttpRequest, session_id: str) -> HttpResponse:
        session = get_object_or_404(Session.objects.select_related("course__patient", "location"), pk=session_id)
        if not _may_complete(request, session):
            raise PermissionDenied
        change_url = reverse("admin:treatments_session_change", args=[session.pk])
        form = SessionCompleteForm(request.POST or None)
        formset = ProductUseFormSet(request.POST or None, prefix="lots")
        if request.method == "POST" and form.is_valid() and formset.is_valid():
            uses = [
                services.ProductUse(lot=row["lot"], quantity=row["quantity"])
                for row in formset.cleaned_data
                if row.get("lot")
            ]
            try:
                with transaction.atomic():
                    services.session_complete(
                        session=session, actor=request.user, product_uses=uses, **form.cleaned_data
                    )
            except DomainError as error:
                form.add_error(None, domain_error_as_validation_error(error, form))
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(request, f"Session completed: {session.course.patient}.", messages.SUCCESS)
                return HttpResponseRedirect(came_from(request) or change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Complete session: {session.course.patient}, {session.local_start_text()}",
            "session": session,
            "form": form,
            "formset": formset,
            "opts": self.model._meta,
            "change_url": change_url,
            "next": came_from(request) or "",
        }
        return TemplateResponse(request, "admin/treatments/session/complete.html", context)

    # -- bulk actions ---------------------------------------------------------------

    @admin.action(description="Cancel selected sessions (patient asked)", permissions=["change"])
    def cancel_sessions(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            lambda s: services.session_cancel(session=s, reason=CancelReason.PATIENT_REQUEST, actor=request.user),
            done="Cancelled {count} session(s).",
        )

    @admin.action(description="Mark selected sessions as no-show", permissions=["change"])
    def mark_no_show(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            lambda s: services.session_mark_no_show(session=s, actor=request.user),
            done="Marked {count} session(s).",
        )
