from __future__ import annotations

from typing import Any
from uuid import UUID

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template import TemplateSyntaxError
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from aftercare import inbox, outbox, side_effects
from aftercare.models import (
    AftercarePlan,
    AftercareStep,
    InboundMessage,
    MessageKind,
    MessageTemplate,
    PromptTemplate,
    ScheduledMessage,
    SideEffectReport,
    Symptom,
)
from aftercare.rendering import message_context, render, render_subject
from clinic.admin_actions import apply_to_each
from clinic.admin_forms import ServiceAdminMixin, ServiceForm, domain_error_as_validation_error
from clinic.errors import DomainError
from clinic.local_time import local_datetime_text
from clinic.phones import phone_search_fragment
from patients.admin_clinical import ClinicalRecordAdminMixin
from patients.selectors import clinical_access
from treatments.models import Session
from treatments.services import acting_practitioner


class AftercareStepInline(admin.TabularInline):
    model = AftercareStep
    fields = [
        "order",
        "code",
        "name",
        "kind",
        "offset_unit",
        "offset_value",
        "local_send_time",
        "condition",
        "expires_after_hours",
        "announces_clearance",
    ]
    extra = 0
    show_change_link = True


@admin.register(AftercarePlan)
class AftercarePlanAdmin(admin.ModelAdmin):
    list_display = ["name", "protocol", "is_active"]
    inlines = [AftercareStepInline]


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["channel", "language", "subject", "body"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        for name in ("subject", "body"):
            try:
                render(cleaned.get(name, ""), {})
            except TemplateSyntaxError as exc:
                self.add_error(name, f"Template error: {exc}")
        return cleaned


class MessageTemplateInline(admin.StackedInline):
    model = MessageTemplate
    form = MessageTemplateForm
    extra = 0


@admin.register(AftercareStep)
class AftercareStepAdmin(admin.ModelAdmin):
    list_display = ["name", "plan", "order", "kind", "offset_value", "offset_unit", "local_send_time", "condition"]
    list_filter = ["plan", "kind", "condition"]
    inlines = [MessageTemplateInline]
    change_form_template = "admin/aftercare/aftercarestep/change_form.html"

    def get_urls(self) -> list:
        return [
            path(
                "<int:step_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="aftercare_aftercarestep_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, step_id: int) -> HttpResponse:
        """The step's texts rendered for a chosen session (?session=<id>), or the latest completed one."""
        step = get_object_or_404(AftercareStep.objects.select_related("plan__protocol"), pk=step_id)
        if not self.has_view_permission(request, step):
            raise PermissionDenied
        sessions = Session.objects.filter(course__protocol=step.plan.protocol).select_related(
            "course__patient", "course__location", "location"
        )
        chosen = request.GET.get("session")
        session = sessions.filter(pk=chosen).first() if chosen else sessions.order_by("-starts_at").first()
        rendered = []
        if session is not None:
            context = message_context(patient=session.course.patient, course=session.course, session=session)
            for template in step.templates.all():
                try:
                    rendered.append(
                        (
                            template,
                            render_subject(template.subject, context),
                            render(template.body, context),
                        )
                    )
                except TemplateSyntaxError as exc:
                    rendered.append((template, "", f"Template error: {exc}"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Preview: {step.name}",
            "step": step,
            "session": session,
            "sessions": sessions.order_by("-starts_at")[:50],
            "rendered": rendered,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/aftercare/aftercarestep/preview.html", context)


@admin.register(PromptTemplate)
class PromptTemplateAdmin(admin.ModelAdmin):
    list_display = ["kind", "channel", "language", "subject"]
    list_filter = ["kind", "channel", "language"]


class ScheduledMessageReadOnly(admin.TabularInline):
    """A person's or a session's messages, read-only; subclasses name the foreign key."""

    model = ScheduledMessage
    fields = ("kind", "channel", "status", "due_at", "sent_at", "suppressed_reason", "attempts", "subject")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["due_at"]
    verbose_name_plural = "messages"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ScheduledMessage]:
        # A red-flag alert to the practitioner quotes the report: for those with the clinical record only.
        return _without_unreadable_alerts(super().get_queryset(request), request)


def _without_unreadable_alerts(
    messages: QuerySet[ScheduledMessage], request: HttpRequest
) -> QuerySet[ScheduledMessage]:
    access = clinical_access(request.user)
    if access.every_patient:
        return messages
    return messages.exclude(Q(kind=MessageKind.RED_FLAG_ALERT) & ~Q(patient_id__in=access.treated))


class SessionMessageInline(ScheduledMessageReadOnly):
    fk_name = "session"


class PatientMessageInline(ScheduledMessageReadOnly):
    fk_name = "patient"


class ReportMessageInline(ScheduledMessageReadOnly):
    """A red-flag report's alerts to clinicians and reply to the patient, and whether they went."""

    fk_name = "report"
    fields = ("kind", "channel", "to_address", "status", "sent_at", "suppressed_reason", "attempts", "last_error")
    readonly_fields = fields


@admin.register(ScheduledMessage)
class ScheduledMessageAdmin(admin.ModelAdmin):
    list_display = ["due_at", "patient", "kind", "channel", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind", "channel", "suppressed_reason", "due_at"]
    search_fields = ["patient__last_name", "patient__first_name", "patient__email", "to_address", "id"]
    list_select_related = ["patient"]
    date_hierarchy = "due_at"
    actions = ["cancel_pending", "retry_failed"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The outbox is a record: it is read, cancelled or retried, never edited.
        return [field.name for field in ScheduledMessage._meta.fields]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = self.get_readonly_fields(request, obj)
        alert = obj is not None and obj.kind == MessageKind.RED_FLAG_ALERT
        if alert and not clinical_access(request.user).covers(obj.patient_id):
            return [field for field in fields if field not in ("subject", "body")]
        return fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Cancel selected pending messages", permissions=["change"])
    def cancel_pending(self, request: HttpRequest, queryset: QuerySet[ScheduledMessage]) -> None:
        count = outbox.messages_cancel(messages=queryset, actor=request.user)
        self.message_user(request, f"Cancelled {count} message(s).", messages.SUCCESS)

    @admin.action(description="Retry selected failed messages now", permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[ScheduledMessage]) -> None:
        count = outbox.messages_retry(messages=queryset)
        self.message_user(request, f"Queued {count} message(s) again.", messages.SUCCESS)


class SideEffectReportAddForm(ServiceForm):
    class Meta:
        model = SideEffectReport
        fields = ["patient", "session", "symptoms", "severity", "onset_on", "notes"]

    symptoms = forms.MultipleChoiceField(
        choices=Symptom.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    def perform(self, cleaned_data: dict[str, Any]) -> SideEffectReport:
        return side_effects.side_effect_report_create(actor=self.actor, **cleaned_data)


class ResolveForm(forms.Form):
    resolution_note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), help_text="What you did, in your own words: it is kept as yours."
    )


@admin.register(SideEffectReport)
class SideEffectReportAdmin(ClinicalRecordAdminMixin, ServiceAdminMixin, SimpleHistoryAdmin):
    list_display = ["created_at", "patient", "severity", "symptom_list", "red_flag", "resolved_at"]
    list_filter = ["is_red_flag", ("resolved_at", admin.EmptyFieldListFilter), "severity", "source"]
    search_fields = ["patient__last_name", "patient__first_name", "patient__email"]
    list_select_related = ["patient"]
    autocomplete_fields = ["patient"]
    # The patient's photo is as clinical as the notes: only those who treat them see it.
    clinical_fields = ("notes", "resolution_note", "photo")
    change_form_template = "admin/aftercare/sideeffectreport/change_form.html"
    inlines = [ReportMessageInline]

    def patient_id_of(self, obj: SideEffectReport) -> Any:
        return obj.patient_id

    def get_inlines(self, request: HttpRequest, obj: SideEffectReport | None) -> list[type]:
        # The messages exist once the report does.
        return self.inlines if obj is not None else []

    @admin.display(description="symptoms")
    def symptom_list(self, report: SideEffectReport) -> str:
        return ", ".join(report.symptoms)

    @admin.display(description="red flag", boolean=False, ordering="is_red_flag")
    def red_flag(self, report: SideEffectReport) -> str:
        if not report.is_red_flag:
            return "—"
        return format_html('<strong style="color:#ba2121">RED FLAG</strong>: {}', report.red_flag_reasons)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        if obj is None:
            kwargs["form"] = SideEffectReportAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "session":
            # The patient's own sessions only (the card opens this page with ?patient=): never a list of every
            # session of the chain, nor a session of someone else.
            patient_id = request.POST.get("patient") or request.GET.get("patient")
            try:
                sessions = Session.objects.filter(course__patient_id=UUID(str(patient_id)))
            except ValueError:
                sessions = Session.objects.none()
                kwargs["help_text"] = "Choose the patient and save, or open this page from the patient's card."
            kwargs["queryset"] = sessions.select_related("course__patient", "location").order_by("-starts_at")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        # A report is a record: read, and resolved on its own page.
        fields = [field.name for field in SideEffectReport._meta.fields]
        if not self.shows_clinical(request, obj):
            return [f for f in fields if f not in self.clinical_fields]
        # The photo is served by photo_view, never at a storage URL.
        return [("photo_link" if f == "photo" else f) for f in fields]

    @admin.display(description="photo")
    def photo_link(self, report: SideEffectReport) -> str:
        if not report.photo:
            return "—"
        url = reverse("admin:aftercare_sideeffectreport_photo", args=[report.pk])
        return format_html('<a href="{}" target="_blank" rel="noopener">Open the photo the patient sent</a>', url)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # -- resolving: a practitioner's note, written on its own page ------------------

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<uuid:report_id>/resolve/",
                self.admin_site.admin_view(self.resolve_view),
                name="aftercare_sideeffectreport_resolve",
            ),
            path(
                "<uuid:report_id>/photo/",
                self.admin_site.admin_view(self.photo_view),
                name="aftercare_sideeffectreport_photo",
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
        report = context.get("original")
        context["may_resolve"] = report is not None and self._may_resolve(request, report)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _may_resolve(self, request: HttpRequest, report: SideEffectReport) -> bool:
        return (
            report.resolved_at is None
            and request.user.has_perm("aftercare.change_sideeffectreport")
            and acting_practitioner(request.user) is not None
            and self.clinical_access(request).covers(report.patient_id)
        )

    def photo_view(self, request: HttpRequest, report_id: str) -> FileResponse:
        """The photo a patient sent, to those who may read the report's clinical fields; never cached."""
        report = get_object_or_404(SideEffectReport, pk=report_id)
        if not (self.has_view_permission(request, report) and self.shows_clinical(request, report)):
            raise PermissionDenied
        if not report.photo:
            raise Http404("This report has no photo.")
        response = FileResponse(report.photo.open("rb"), content_type="image/jpeg")
        response["Cache-Control"] = "no-store, private"
        response["Content-Disposition"] = "inline"
        return response

    def resolve_view(self, request: HttpRequest, report_id: str) -> HttpResponse:
        report = get_object_or_404(SideEffectReport.objects.select_related("patient"), pk=report_id)
        if not self._may_resolve(request, report):
            raise PermissionDenied
        change_url = reverse("admin:aftercare_sideeffectreport_change", args=[report.pk])
        form = ResolveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                side_effects.side_effect_report_resolve(
                    report=report, note=form.cleaned_data["resolution_note"], actor=request.user
                )
            except DomainError as error:
                form.add_error(None, domain_error_as_validation_error(error, form))
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(request, f"Resolved: {report}.", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Resolve: {report}",
            "report": report,
            "form": form,
            "opts": self.model._meta,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/aftercare/sideeffectreport/resolve.html", context)


class SideEffectReportInline(admin.TabularInline):
    model = SideEffectReport
    fk_name = "patient"
    fields = ("created_at", "symptoms", "severity", "is_red_flag", "resolved_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- the inbox: patients' texts, for the front desk -------------------------------------------------------


class InboxStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open: needs a person"), ("handled", "Handled")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> QuerySet[InboundMessage]:
        if self.value() == "open":
            return queryset.filter(handled_at__isnull=True)
        if self.value() == "handled":
            return queryset.filter(handled_at__isnull=False)
        return queryset


class InboundMessageHandleForm(ServiceForm):
    """An open message's page: saving it marks it handled, through the service, with the note."""

    class Meta:
        model = InboundMessage
        fields = ["handled_note"]

    handled_note = forms.CharField(
        label="Note",
        required=False,
        max_length=2_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What you did (called back, rebooked…). Saving marks the message handled.",
    )

    def perform(self, cleaned_data: dict[str, Any]) -> InboundMessage:
        return inbox.inbound_message_handle(
            message=self.instance, note=cleaned_data.get("handled_note", ""), actor=self.actor
        )


# What a message says and where it came from: read, never edited.
INBOX_CONTENT_FIELDS = [
    "received_at",
    "channel",
    "from_number",
    "to_number",
    "patient",
    "match",
    "session",
    "intent",
    "body",
    "provider_message_id",
    "handled_at",
    "handled_by_label",
]


@admin.register(InboundMessage)
class InboundMessageAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    """The front desk's inbox: what patients texted, newest first; open ones wait for a person."""

    list_display = ["received_at", "sender", "appointment", "intent", "text", "status", "match"]
    list_filter = [InboxStatusFilter, "intent", "match", "channel"]
    search_fields = ["from_number", "patient__first_name", "patient__last_name"]
    list_select_related = ["patient", "session__location"]
    date_hierarchy = "received_at"
    ordering = ["-received_at", "id"]
    actions = ["mark_handled"]

    @admin.display(description="from", ordering="patient__last_name")
    def sender(self, message: InboundMessage) -> str:
        if message.patient is None:
            return f"{message.from_number or 'unknown'} ({message.get_match_display().lower()})"
        return str(message.patient)

    @admin.display(description="appointment", ordering="session__starts_at")
    def appointment(self, message: InboundMessage) -> str:
        # Not str(session): that names the patient again, from two more tables a row.
        return (
            local_datetime_text(message.session.starts_at, message.session.location.time_zone)
            if message.session
            else "—"
        )

    @admin.display(description="text")
    def text(self, message: InboundMessage) -> str:
        return message.body if len(message.body) <= 80 else message.body[:79] + "…"

    @admin.display(description="status", ordering="handled_at")
    def status(self, message: InboundMessage) -> str:
        if message.handled_at is None:
            return format_html('<strong style="color:#ba2121">{}</strong>', "Open")
        return f"Handled by {message.handled_by_label}"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[InboundMessage], search_term: str
    ) -> tuple[QuerySet[InboundMessage], bool]:
        """Names as Django searches them, or the sender's number however it is typed ("07700 900123")."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        fragment = phone_search_fragment(search_term)
        if fragment is not None:
            found |= queryset.filter(from_number__contains=fragment)
        return found, may_have_duplicates

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        if obj is not None and obj.handled_at is None:
            kwargs["form"] = InboundMessageHandleForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*INBOX_CONTENT_FIELDS, "handled_note"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The note is written once, when a person marks the message handled.
        open_for_this_user = obj is not None and obj.handled_at is None and self.has_change_permission(request, obj)
        return INBOX_CONTENT_FIELDS if open_for_this_user else [*INBOX_CONTENT_FIELDS, "handled_note"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # texts come in through the SMS provider's webhook

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the inbox is a record

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A handled message is read only: its handling stays as it was recorded.
        return super().has_change_permission(request, obj) and (obj is None or obj.handled_at is None)

    @admin.action(description="Mark selected messages handled", permissions=["change"])
    def mark_handled(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            lambda message: inbox.inbound_message_handle(message=message, actor=request.user),
            done="Marked {count} message(s) handled.",
        )
