from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode
from simple_history.admin import SimpleHistoryAdmin

from aftercare.admin import SessionMessageInline
from aftercare.services import course_next_window
from clinic.admin_forms import ServiceForm, domain_error_as_validation_error
from clinic.errors import DomainError
from treatments import rules, selectors, services
from treatments.models import (
    CancelReason,
    ConflictRule,
    Course,
    Location,
    OpeningHours,
    Practitioner,
    Product,
    ProductLot,
    Protocol,
    Room,
    RuleOverride,
    Session,
    SessionProductUse,
    SessionStatus,
    TreatedArea,
    TreatmentCategory,
    new_calendar_token,
)
from treatments.worklist import KINDS, worklist

# --- places and people ---------------------------------------------------------


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0
    fields = ["name", "is_active"]


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "phone", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "address"]
    inlines = [OpeningHoursInline, RoomInline]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "location", "is_active"]
    list_filter = ["location", "is_active"]
    search_fields = ["name", "location__name"]
    list_select_related = ["location"]


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "is_active"]
    readonly_fields = ["calendar_feed"]
    actions = ["rotate_calendar_links"]

    @admin.display(description="calendar feed (subscribe in any calendar app)")
    def calendar_feed(self, practitioner: Practitioner) -> str:
        if practitioner.pk is None:
            return "—"
        return reverse("practitioner-calendar", args=[practitioner.calendar_token])

    @admin.action(description="Rotate calendar links (old links stop working)", permissions=["change"])
    def rotate_calendar_links(self, request: HttpRequest, queryset: QuerySet[Practitioner]) -> None:
        for practitioner in queryset:
            practitioner.calendar_token = new_calendar_token()
            practitioner.save(update_fields=["calendar_token", "updated_at"])
        self.message_user(request, f"Rotated {queryset.count()} calendar link(s).", messages.SUCCESS)

    list_filter = ["is_active", "locations"]
    search_fields = ["display_name", "user__username", "user__email"]
    filter_horizontal = ["locations"]
    autocomplete_fields = ["user"]
    list_select_related = ["user"]


# --- protocols --------------------------------------------------------------------


@admin.register(TreatmentCategory)
class TreatmentCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]


class ConflictRuleInline(admin.TabularInline):
    model = ConflictRule
    extra = 0


@admin.register(Protocol)
class ProtocolAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "min_sessions", "default_sessions", "max_sessions", "is_active"]
    list_filter = ["category", "is_active"]
    search_fields = ["name"]
    inlines = [ConflictRuleInline]
    fieldsets = [
        (None, {"fields": ["name", "category", "description", "is_active"]}),
        ("Course", {"fields": ["min_sessions", "default_sessions", "max_sessions", "session_duration_minutes"]}),
        ("Spacing (days)", {"fields": ["min_spacing_days", "max_spacing_days"]}),
        ("Maintenance (days)", {"fields": ["maintenance_min_days", "maintenance_max_days"]}),
    ]


# --- courses ----------------------------------------------------------------------


class CourseSessionInline(admin.TabularInline):
    """A course's sessions, read-only here: they are booked and changed on the Session page."""

    model = Session
    fields = ["starts_at", "kind", "status", "practitioner", "room", "booked_late", "completed_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["starts_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CourseAddForm(ServiceForm):
    planned_sessions = forms.IntegerField(
        required=False, min_value=1, help_text="Leave empty for the protocol's default number of sessions."
    )

    class Meta:
        model = Course
        fields = ["patient", "protocol", "location", "planned_sessions", "notes"]

    def perform(self, cleaned_data: dict[str, Any]) -> Course:
        return services.course_create(actor=self.actor, **cleaned_data)  # type: ignore[attr-defined]


@admin.register(Course)
class CourseAdmin(SimpleHistoryAdmin):
    list_display = ["patient", "protocol", "status", "planned_sessions", "location", "next_maintenance_earliest"]
    list_filter = ["status", "protocol", "location", "created_at"]
    search_fields = ["patient__last_name", "patient__first_name", "patient__email"]
    list_select_related = ["patient", "protocol", "location"]
    autocomplete_fields = ["patient"]
    date_hierarchy = "created_at"
    inlines = [CourseSessionInline]
    actions = ["cancel_courses"]
    readonly_fields = [
        "patient",
        "protocol",
        "location",
        "planned_sessions",
        "status",
        "next_maintenance_earliest",
        "next_maintenance_latest",
        "cancelled_at",
        "cancel_reason",
        "created_at",
        "updated_at",
    ]

    def get_form(self, request: HttpRequest, obj: Course | None = None, **kwargs: Any) -> type[forms.ModelForm]:
        if obj is None:
            # A subclass per request, so the acting user never leaks between requests.
            kwargs["form"] = type(CourseAddForm.__name__, (CourseAddForm,), {"actor": request.user})
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Course | None = None) -> list[str]:
        return self.readonly_fields if obj is not None else []

    def get_inlines(self, request: HttpRequest, obj: Course | None) -> list[type]:
        return self.inlines if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list:
        return [
            path("worklist/", self.admin_site.admin_view(self.worklist_view), name="treatments_worklist"),
            path(
                "worklist/<uuid:course_id>/book/",
                self.admin_site.admin_view(self.book_from_worklist_view),
                name="treatments_worklist_book",
            ),
            *super().get_urls(),
        ]

    def worklist_view(self, request: HttpRequest) -> HttpResponse:
        """The front desk's worklist; each Book link finds a slot only when clicked."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        kind = request.GET.get("kind") if request.GET.get("kind") in KINDS else None
        entries = [
            {
                "row": row,
                "book_url": reverse("admin:treatments_worklist_book", args=[row.course_id])
                if row.course_id and row.window_start
                else None,
            }
            for row in worklist(kind=kind)
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Follow-up worklist",
            "entries": entries,
            "kinds": [("red_flag", "red flags"), ("next_session", "next sessions"), ("maintenance", "maintenance")],
            "kind": kind,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/treatments/worklist.html", context)

    def book_from_worklist_view(self, request: HttpRequest, course_id: str) -> HttpResponse:
        """Open the booking form pre-filled with the last practitioner's first free slot in the window.

        Computed here, on click, not for every row of the worklist: availability
        costs a few queries per course.
        """
        if not request.user.has_perm("treatments.add_session"):
            raise PermissionDenied
        course = get_object_or_404(Course.objects.select_related("protocol", "location"), pk=course_id)
        window = course_next_window(course)
        if window is None:
            raise Http404("This course has no open window.")
        today = timezone.localdate(timezone=course.location.time_zone)
        first_day = max(window[0], today)
        query = {"course": str(course.pk), "starts_at": f"{first_day:%Y-%m-%d} 10:00"}
        last = (
            Session.objects.filter(course=course, status=SessionStatus.COMPLETED, practitioner__is_active=True)
            .select_related("practitioner")
            .order_by("-completed_at")
            .first()
        )
        if last is not None:
            query["practitioner"] = str(last.practitioner_id)
            slots = selectors.availability(
                practitioner=last.practitioner,
                location=course.location,
                protocol=course.protocol,
                date_from=first_day,
                date_to=min(max(window[1], first_day), first_day + timedelta(days=selectors.MAX_AVAILABILITY_DAYS - 1)),
                step_minutes=15,
                not_before=timezone.now(),
            )
            if slots:
                local_start = slots[0].starts_at.astimezone(timezone.get_current_timezone())
                query["starts_at"] = f"{local_start:%Y-%m-%d %H:%M}"
                query["room"] = slots[0].room_ids[0]
        return HttpResponseRedirect(f"{reverse('admin:treatments_session_add')}?{urlencode(query)}")

    @admin.action(description="Cancel selected courses (and their booked sessions)", permissions=["change"])
    def cancel_courses(self, request: HttpRequest, queryset: QuerySet[Course]) -> None:
        done = 0
        for course in queryset:
            try:
                services.course_cancel(course=course, reason="Cancelled from the admin", actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{course}: {error.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"Cancelled {done} course(s).", messages.SUCCESS)


# --- sessions ---------------------------------------------------------------------


class OverrideFields(forms.Form):
    """Fields to override overridable rules, shared by booking and rescheduling."""

    override_rules = forms.MultipleChoiceField(
        choices=[(rule.value, rule.value.replace("_", " ")) for rule in sorted(rules.OVERRIDABLE_RULES)],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only if a practitioner decides to go ahead despite the rule.",
    )
    override_reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    override_by = forms.ModelChoiceField(queryset=Practitioner.objects.filter(is_active=True), required=False)


def _override_kwargs(cleaned: dict[str, Any]) -> dict[str, Any]:
    reason = cleaned.get("override_reason", "")
    return {
        "overrides": [services.Override(rule=rule, reason=reason) for rule in cleaned.get("override_rules", [])],
        "override_by": cleaned.get("override_by"),
    }


class SessionBookForm(ServiceForm):
    override_rules = OverrideFields.base_fields["override_rules"]
    override_reason = OverrideFields.base_fields["override_reason"]
    override_by = OverrideFields.base_fields["override_by"]

    class Meta:
        model = Session
        fields = ["course", "practitioner", "room", "starts_at"]

    def perform(self, cleaned_data: dict[str, Any]) -> Session:
        return services.session_book(
            course=cleaned_data["course"],
            practitioner=cleaned_data["practitioner"],
            room=cleaned_data["room"],
            starts_at=cleaned_data["starts_at"],
            actor=self.actor,  # type: ignore[attr-defined]
            **_override_kwargs(cleaned_data),
        )


class SessionRescheduleForm(ServiceForm):
    override_rules = OverrideFields.base_fields["override_rules"]
    override_reason = OverrideFields.base_fields["override_reason"]
    override_by = OverrideFields.base_fields["override_by"]

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
            actor=self.actor,  # type: ignore[attr-defined]
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
        cleaned = super().clean()
        if cleaned.get("lot") and not cleaned.get("quantity"):
            raise ValidationError({"quantity": "Give the quantity used."})
        return cleaned


ProductUseFormSet = forms.formset_factory(ProductUseForm, extra=3)


class ProductUseInline(admin.TabularInline):
    """Lots used, recorded at completion; the record is never edited afterwards."""

    model = SessionProductUse
    fields = ["lot", "quantity"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RuleOverrideInline(admin.TabularInline):
    model = RuleOverride
    fields = ["rule", "reason", "practitioner", "rule_message", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Session)
class SessionAdmin(SimpleHistoryAdmin):
    list_display = ["starts_at", "patient", "protocol", "kind", "status", "practitioner", "room", "booked_late"]
    list_filter = ["status", "practitioner", "location", "kind", "booked_late", "starts_at"]
    search_fields = ["course__patient__last_name", "course__patient__first_name", "course__patient__email"]
    list_select_related = ["course__patient", "course__protocol", "practitioner", "room"]
    date_hierarchy = "starts_at"
    autocomplete_fields = ["course"]
    inlines = [ProductUseInline, RuleOverrideInline, SessionMessageInline]
    actions = ["cancel_sessions", "mark_no_show"]
    change_form_template = "admin/treatments/session/change_form.html"
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

    def get_form(self, request: HttpRequest, obj: Session | None = None, **kwargs: Any) -> type[forms.ModelForm]:
        if obj is None:
            base: type[ServiceForm] = SessionBookForm
        elif obj.status == SessionStatus.BOOKED:
            base = SessionRescheduleForm
        else:
            return super().get_form(request, obj, **kwargs)
        # A subclass per request, so the acting user never leaks between requests.
        kwargs["form"] = type(base.__name__, (base,), {"actor": request.user})
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Session | None = None) -> list[tuple[str | None, dict]]:
        overrides = ("Rule overrides", {"fields": ["override_rules", "override_reason", "override_by"]})
        if obj is None:
            return [(None, {"fields": ["course", "practitioner", "room", "starts_at"]}), overrides]
        record = ["course", "kind", "location", "status", "ends_at", "booked_late", "sequence"]
        if obj.status == SessionStatus.BOOKED:
            return [(None, {"fields": ["practitioner", "room", "starts_at", *record]}), overrides]
        return [
            (None, {"fields": ["practitioner", "room", "starts_at", *record]}),
            ("Clinical record", {"fields": ["completed_at", "notes", "treated_areas"]}),
            ("Cancellation", {"fields": ["cancelled_at", "cancel_reason", "cancel_note", "no_show_at"]}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Session | None = None) -> list[str]:
        if obj is None:
            return []
        if obj.status == SessionStatus.BOOKED:
            return self.readonly_fields
        return [*self.readonly_fields, "practitioner", "room", "starts_at"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """Pre-fill from the query string (the worklist's Book link), times in the clinic's zone."""
        initial = super().get_changeform_initial_data(request)
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

    def complete_view(self, request: HttpRequest, session_id: str) -> HttpResponse:
        session = get_object_or_404(Session.objects.select_related("course__patient"), pk=session_id)
        if not request.user.has_perms(["treatments.change_session", "treatments.complete_session"]):
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
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Complete session: {session.course.patient}, {session.starts_at:%Y-%m-%d %H:%M}",
            "session": session,
            "form": form,
            "formset": formset,
            "opts": self.model._meta,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/treatments/session/complete.html", context)

    # -- bulk actions ---------------------------------------------------------------

    @admin.action(description="Cancel selected sessions (patient asked)", permissions=["change"])
    def cancel_sessions(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        self._each(
            request,
            queryset,
            lambda s: services.session_cancel(session=s, reason=CancelReason.PATIENT_REQUEST, actor=request.user),
            "Cancelled",
        )

    @admin.action(description="Mark selected sessions as no-show", permissions=["change"])
    def mark_no_show(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        self._each(request, queryset, lambda s: services.session_mark_no_show(session=s, actor=request.user), "Marked")

    def _each(self, request: HttpRequest, queryset: QuerySet[Session], change: Any, verb: str) -> None:
        done = 0
        for session in queryset:
            try:
                with transaction.atomic():
                    change(session)
            except DomainError as error:
                self.message_user(request, f"{session}: {error.message}", messages.ERROR)
            except ValidationError as error:
                self.message_user(request, f"{session}: {' '.join(error.messages)}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{verb} {done} session(s).", messages.SUCCESS)


# --- products ---------------------------------------------------------------------


class ProductLotInline(admin.TabularInline):
    model = ProductLot
    extra = 0
    fields = ["lot_number", "expires_on", "received_on"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "manufacturer", "unit", "is_active"]
    list_filter = ["kind", "manufacturer", "is_active"]
    search_fields = ["name", "manufacturer"]
    inlines = [ProductLotInline]


class LotUseInline(admin.TabularInline):
    """Who received this lot: the recall list."""

    model = SessionProductUse
    fk_name = "lot"
    fields = ["session", "patient", "quantity"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "received by (recall list)"

    @admin.display(description="patient")
    def patient(self, use: SessionProductUse) -> str:
        return str(use.session.course.patient)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ProductLot)
class ProductLotAdmin(admin.ModelAdmin):
    list_display = ["lot_number", "product", "expires_on", "received_on"]
    list_filter = ["product__kind", "product", "expires_on"]
    search_fields = ["lot_number", "product__name"]
    list_select_related = ["product"]
    inlines = [LotUseInline]
