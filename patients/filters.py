from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from rest_framework.filters import SearchFilter
from rest_framework.request import Request

from clinic.api.filters import BooleanFilter, IsoDateFilter, UpdatedSinceFilterSet
from clinic.phones import typed_phone_e164
from patients.models import ContactChannel, MedicalFlag, Patient
from patients.selectors import patient_search


class PatientFilter(UpdatedSinceFilterSet):
    preferred_channel = django_filters.ChoiceFilter(choices=ContactChannel.choices)
    medical_flag = django_filters.ChoiceFilter(
        choices=MedicalFlag.choices,
        field_name="medical_flags",
        lookup_expr="contains",
        method="filter_medical_flag",
        help_text="Patients carrying this medical flag.",
    )
    needs_medical_review = BooleanFilter(
        method="filter_needs_medical_review", help_text="Patients with at least one medical flag."
    )
    email = django_filters.CharFilter(lookup_expr="iexact")
    phone = django_filters.CharFilter(
        method="filter_phone",
        help_text="This exact number, in E.164 (%2B447400123456: URL-encode the plus) or as dialled nationally.",
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
        # An unencoded "+" in a query string arrives as a space: typed_phone_e164 tries it back.
        number = value.strip()
        return queryset.filter(phone=typed_phone_e164(number) or (number if number.startswith("+") else f"+{number}"))


class PatientSearchFilter(SearchFilter):
    """`search=` over names, email and phone word by word, as DRF does, or the phone however it was typed.

    DRF matches each word on its own: "07400 123456" would need "07400" in the
    stored +447400123456, hence the phone match on the whole term. The search
    itself is patients.selectors.patient_search, which the trigram index serves.
    """

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        return patient_search(
            queryset,
            words=list(self.get_search_terms(request)),
            term=request.query_params.get(self.search_param, ""),
        )
