from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from clinic.admin_actions import apply_to_each
from clinic.admin_forms import ServiceAdminMixin, ServiceForm
from integrations.models import (
    ApiKey,
    Scope,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from integrations.services import api_key_create, api_key_revoke
from integrations.targets import check_webhook_url
from integrations.webhooks import webhook_deliveries_retry


class ApiKeyAddForm(ServiceForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = ["name", "scopes"]

    def perform(self, cleaned_data: dict[str, Any]) -> ApiKey:
        api_key, self.raw_key = api_key_create(actor=self.actor, **cleaned_data)
        return api_key


@admin.register(ApiKey)
class ApiKeyAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    actions = ["revoke_selected"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return ["name", "prefix", "scopes", "created_at", "created_by", "last_used_at", "revoked_at", "revoked_by"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ("name", "scopes")
        return tuple(self.get_readonly_fields(request, obj))

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool) -> None:
        raw_key = getattr(form, "raw_key", None)
        if raw_key:
            self.message_user(
                request,
                f"API key created. Copy it now, it will not be shown again: {raw_key}",
                messages.WARNING,
            )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        apply_to_each(
            self,
            request,
            queryset.filter(revoked_at__isnull=True),
            lambda api_key: api_key_revoke(api_key=api_key, actor=request.user),
            done="Revoked {count} key(s).",
        )


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "events", "is_active"]

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        try:
            check_webhook_url(url)
        except ValidationError as refused:
            raise ValidationError(refused.message_dict["url"]) from None
        return url


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    """The signing secret is made here and shown once, on the page after saving; never again."""

    form = WebhookSubscriptionForm
    list_display = ["name", "url", "is_active", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "url"]
    readonly_fields = ["signing_secret"]
    actions = ["new_secrets"]

    @admin.display(description="Signing secret")
    def signing_secret(self, obj: WebhookSubscription) -> str:
        return "Set; shown only once, when it was made. Use the list's action to make a new one."

    def save_model(self, request: HttpRequest, obj: WebhookSubscription, form: Any, change: bool) -> None:
        fresh = not change
        if fresh:
            obj.secret = secrets.token_urlsafe(32)
        super().save_model(request, obj, form, change)
        if fresh:
            _show_secret_once(request, obj)

    @admin.action(description="Make a new signing secret (shown once)", permissions=["change"])
    def new_secrets(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset:
            subscription.secret = secrets.token_urlsafe(32)
            subscription.save(update_fields=["secret", "updated_at"])
            _show_secret_once(request, subscription)


def _show_secret_once(request: HttpRequest, subscription: WebhookSubscription) -> None:
    messages.warning(
        request,
        f"Signing secret for {subscription.name}: {subscription.secret}. Copy it into the receiver now: "
        "it is not shown again.",
    )


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ("attempted_at", "status_code", "error", "duration_ms")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "event_type", "object_id", "subscription", "status", "attempts", "next_attempt_at"]
    list_filter = ["status", "event_type", "subscription"]
    search_fields = ["object_id", "event_id"]
    list_select_related = ["subscription"]
    inlines = [WebhookAttemptInline]
    actions = ["retry_now"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Retry selected deliveries now", permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = webhook_deliveries_retry(deliveries=queryset)
        self.message_user(request, f"Queued {count} delivery(ies).", messages.SUCCESS)
