from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from clinic.api.filters import IsoDateFilter, UpdatedSinceFilterSet
from patients.models import ContactChannel, MedicalFlag, Patient


class PatientFilter(UpdatedSinceFilterSet):
    preferred_channel = django_filters.ChoiceFilter(choices=ContactChannel.choices)
    medical_flag = django_filters.ChoiceFilter(
        choices=MedicalFlag.choices,
        field_name="medical_flags",
        lookup_expr="contains",
        method="filter_medical_flag",
        help_text="Patients carrying this medical flag.",
    )
    needs_medical_review = django_filters.BooleanFilter(
        method="filter_needs_medical_review", help_text="Patients with at least one medical flag."
    )
    email = django_filters.CharFilter(lookup_expr="iexact")
    phone = django_filters.CharFilter(
        method="filter_phone", help_text="Exact E.164 number, e.g. %2B447700900123 (URL-encode the plus)."
    )
    born_after = IsoDateFilter(field_name="date_of_birth", lookup_expr="gte")
    born_before = IsoDateFilter(field_name="date_of_birth", lookup_expr="lte")

    class Meta:
        model = Patient
        fields = ["preferred_channel", "skin_type", "language"]

    def filter_medical_flag(self, queryset: QuerySet[Patient], name: str, value: str) -> QuerySet[Patient]:
        return queryset.filter(medical_flags__contains=[value])

    def filter_needs_medical_review(
        self, queryset: QuerySet[Patient], name: str, value: bool | None
    ) -> QuerySet[Patient]:
        if value is None:
            return queryset
        return queryset.exclude(medical_flags=[]) if value else queryset.filter(medical_flags=[])

    def filter_phone(self, queryset: QuerySet[Patient], name: str, value: str) -> QuerySet[Patient]:
        # An unencoded "+" in a query string arrives as a space.
        number = value.strip()
        return queryset.filter(phone=number if number.startswith("+") else f"+{number}")
