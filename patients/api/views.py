from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.filters import FilterBackend
from clinic.api.query import StrictOrderingFilter, StrictQueryParams
from patients import selectors, services
from patients.api.serializers import (
    ConsentInputSerializer,
    ConsentOutputSerializer,
    ConsentRevokeInputSerializer,
    MedicalFlagAddSerializer,
    MedicalFlagRemoveSerializer,
    PatientInputSerializer,
    PatientOutputSerializer,
)
from patients.filters import PatientFilter, PatientSearchFilter
from patients.models import Consent, Patient


@extend_schema_view(
    list=extend_schema(
        summary="List patients", description="Filter, search (`search=`), order and page through patients."
    ),
    retrieve=extend_schema(summary="Get a patient"),
)
class PatientViewSet(StrictQueryParams, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Patients. There is no DELETE: erasure anonymises, and is a data-rights operation (frontdesk.api)."""

    queryset = Patient.objects.none()  # for the schema and permissions; get_queryset does the read
    serializer_class = PatientOutputSerializer
    filterset_class = PatientFilter
    filter_backends = [FilterBackend, PatientSearchFilter, StrictOrderingFilter]
    search_fields = ["first_name", "last_name", "email", "phone"]
    ordering_fields = ["last_name", "first_name", "date_of_birth", "created_at", "updated_at"]
    ordering = ["last_name", "first_name", "id"]
    lookup_value_converter = "uuid"
    # Changing a flag changes the patient, whatever HTTP verb carries it.
    action_permissions = {
        "add_medical_flag": ["patients.change_patient"],
        "remove_medical_flag": ["patients.change_patient"],
    }

    def get_queryset(self) -> QuerySet[Patient]:
        return selectors.patient_list()

    @extend_schema(summary="Create a patient", request=PatientInputSerializer, responses={201: PatientOutputSerializer})
    def create(self, request: Request) -> Response:
        serializer = PatientInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        patient = services.patient_create(actor=request.user, data=serializer.validated_data)
        return Response(
            PatientOutputSerializer(patient, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="Replace a patient", request=PatientInputSerializer, responses={200: PatientOutputSerializer}
    )
    def update(self, request: Request, pk: str) -> Response:
        return self._update(request, partial=False)

    @extend_schema(
        summary="Change some fields of a patient",
        request=PatientInputSerializer,
        responses={200: PatientOutputSerializer},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        return self._update(request, partial=True)

    @extend_schema(
        summary="Add a medical flag",
        description="A condition the patient mentions; the next booking then needs a practitioner's review. "
        "Anyone who may change the patient may add one.",
        request=MedicalFlagAddSerializer,
        responses={200: PatientOutputSerializer},
    )
    @action(detail=True, methods=["post"], url_path="medical-flags")
    def add_medical_flag(self, request: Request, pk: str) -> Response:
        serializer = MedicalFlagAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        patient = services.patient_medical_flag_add(
            patient=self.get_object(), flag=serializer.validated_data["flag"], actor=request.user
        )
        return Response(PatientOutputSerializer(patient, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Remove a medical flag",
        description="A practitioner who treats the patient (or a clinical admin) removes a flag, saying why; "
        "the reason is kept in the audit trail. Anyone else gets 403.",
        request=MedicalFlagRemoveSerializer,
        responses={200: PatientOutputSerializer, 403: OpenApiResponse(description="Not a treating practitioner.")},
    )
    @action(detail=True, methods=["post"], url_path="medical-flags/remove")
    def remove_medical_flag(self, request: Request, pk: str) -> Response:
        serializer = MedicalFlagRemoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        patient = services.patient_medical_flag_remove(
            patient=self.get_object(), actor=request.user, **serializer.validated_data
        )
        return Response(PatientOutputSerializer(patient, context=self.get_serializer_context()).data)

    def _update(self, request: Request, *, partial: bool) -> Response:
        patient = self.get_object()
        serializer = PatientInputSerializer(instance=patient, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        patient = services.patient_update(patient=patient, actor=request.user, data=serializer.validated_data)
        return Response(PatientOutputSerializer(patient, context=self.get_serializer_context()).data)


class PatientConsentViewSet(StrictQueryParams, viewsets.GenericViewSet):
    """Consents of one patient: list them, record one, revoke one."""

    queryset = Consent.objects.none()
    serializer_class = ConsentOutputSerializer
    pagination_class = None  # a patient holds a handful of consents
    filter_backends: list[type] = []
    lookup_value_converter = "uuid"
    # Revoking changes a recorded consent, whatever HTTP verb carries it.
    action_permissions = {"revoke": ["patients.change_consent"]}

    def get_patient(self) -> Patient:
        return get_object_or_404(selectors.patient_list(), pk=self.kwargs["patient_pk"])

    @extend_schema(summary="List a patient's consents", responses=ConsentOutputSerializer(many=True))
    def list(self, request: Request, patient_pk: str) -> Response:
        consents = selectors.consent_list(patient=self.get_patient())
        return Response(ConsentOutputSerializer(consents, many=True).data)

    @extend_schema(
        summary="Record a consent",
        description="A consent of the same kind already in force is revoked at the new one's `given_at`.",
        request=ConsentInputSerializer,
        responses={201: ConsentOutputSerializer},
    )
    def create(self, request: Request, patient_pk: str) -> Response:
        patient = self.get_patient()
        serializer = ConsentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        consent = services.consent_give(patient=patient, actor=request.user, **serializer.validated_data)
        return Response(ConsentOutputSerializer(consent).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke a consent",
        request=ConsentRevokeInputSerializer,
        responses={200: ConsentOutputSerializer, 400: OpenApiResponse(description="Already revoked.")},
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, patient_pk: str, pk: str) -> Response:
        consent = get_object_or_404(selectors.consent_list(patient=self.get_patient()), pk=pk)
        serializer = ConsentRevokeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        consent = services.consent_revoke(consent=consent, actor=request.user, **serializer.validated_data)
        return Response(ConsentOutputSerializer(consent).data)
