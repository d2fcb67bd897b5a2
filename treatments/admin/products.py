"""Products and their lots, written through the services; each lot with its recall list."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_forms import ServiceAdminMixin, ServiceForm
from treatments import services
from treatments.models import Product, ProductLot, SessionProductUse

PRODUCT_FIELDS = ["name", "kind", "manufacturer", "unit", "is_active"]
LOT_FIELDS = ("lot_number", "expires_on", "received_on")


class ProductForm(ServiceForm):
    class Meta:
        model = Product
        fields = PRODUCT_FIELDS

    def perform(self, cleaned_data: dict[str, Any]) -> Product:
        if self.instance._state.adding:
            return services.product_create(actor=self.actor, **cleaned_data)
        return services.product_update(product=self.instance, actor=self.actor, **cleaned_data)


class ProductLotInline(admin.TabularInline):
    model = ProductLot
    extra = 0
    fields = LOT_FIELDS
    can_delete = False  # a lot stays on record for recalls; correct a mistake by editing it


@admin.register(Product)
class ProductAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    form = ProductForm
    list_display = ["name", "kind", "manufacturer", "unit", "is_active"]
    list_filter = ["kind", "manufacturer", "is_active"]
    search_fields = ["name", "manufacturer"]
    inlines = [ProductLotInline]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # withdraw a product with is_active; its lots stay traceable

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool) -> None:
        """Lots typed on the product page are registered and changed through the services too."""
        # What formset.save() would have recorded, for the admin's change message.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for lot_form in formset.forms:
            if not lot_form.has_changed():
                continue
            fields = {name: lot_form.cleaned_data[name] for name in LOT_FIELDS}
            if lot_form.instance._state.adding:
                lot = services.product_lot_create(product=form.instance, actor=request.user, **fields)
                formset.new_objects.append(lot)
            else:
                lot = services.product_lot_update(lot=lot_form.instance, actor=request.user, **fields)
                formset.changed_objects.append((lot, lot_form.changed_data))


class ProductLotForm(ServiceForm):
    class Meta:
        model = ProductLot
        fields = ["product", *LOT_FIELDS]

    def perform(self, cleaned_data: dict[str, Any]) -> ProductLot:
        if self.instance._state.adding:
            return services.product_lot_create(actor=self.actor, **cleaned_data)
        cleaned_data.pop("product", None)
        return services.product_lot_update(lot=self.instance, actor=self.actor, **cleaned_data)


class LotUseInline(admin.TabularInline):
    """Who received this lot: the recall list."""

    model = SessionProductUse
    fk_name = "lot"
    fields = ("session", "patient", "quantity")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "received by (recall list)"

    @admin.display(description="patient")
    def patient(self, use: SessionProductUse) -> str:
        return str(use.session.course.patient)

    def get_queryset(self, request: HttpRequest) -> QuerySet[SessionProductUse]:
        # Each row names its session (patient, local time at its location) and its patient.
        return super().get_queryset(request).select_related("session__course__patient", "session__location")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ProductLot)
class ProductLotAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    form = ProductLotForm
    list_display = ["lot_number", "product", "expires_on", "received_on"]
    list_filter = ["product__kind", "product", "expires_on"]
    search_fields = ["lot_number", "product__name"]
    list_select_related = ["product"]
    inlines = [LotUseInline]

    def get_readonly_fields(self, request: HttpRequest, obj: ProductLot | None = None) -> list[str]:
        # A lot belongs to its product for good: the recall list depends on it.
        return ["product"] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
