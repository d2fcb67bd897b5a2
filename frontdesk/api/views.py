from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.api.pagination import PagePagination
from clinic.api.query import StrictQueryParams
from frontdesk import data_rights, services
from frontdesk.api.serializers import (
    ContactAttemptInputSerializer,
    ContactAttemptOutputSerializer,
    WorklistQuerySerializer,
    WorklistRowSerializer,
)
from frontdesk.models import ContactAttempt
from frontdesk.worklist import worklist_rows
from patients import selectors as patient_selectors
from patients.api.serializers import PatientOutputSerializer
from patients.models import Patient
from treatments.models import Course


class WorklistView(StrictQueryParams, APIView):
    """Who must be booked next, and by when: for the front desk and booking software."""

    queryset = Course.objects.none()  # reading the worklist needs view_course
    query_serializer_class = WorklistQuerySerializer
    pagination_class = PagePagination  # also what the schema documents: a page, not an array

    @extend_schema(
        summary="Follow-up worklist",
        description=(
            "Courses whose next-session window is open or overdue with nothing booked, maintenance "
            "that is due, and patients with an unresolved red flag; most urgent first. A window is "
            "open once the date at the course's location reaches its first day."
        ),
        parameters=[WorklistQuerySerializer],
        responses=WorklistRowSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        query = self.query_serializer_class(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        rows = worklist_rows(
            location_id=params.get("location"), practitioner_id=params.get("practitioner"), kind=params.get("kind")
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(WorklistRowSerializer(page, many=True).data)


class PatientExportView(StrictQueryParams, APIView):
    """Everything held on one patient (a data-rights request)."""

    queryset = Patient.objects.none()
    required_permissions = ["patients.export_patient"]

    @extend_schema(
        summary="Export everything held on a patient",
        description="Identity, consents, courses with sessions and lots used, messages, side-effect reports, history.",
        responses={200: OpenApiResponse(description="JSON document of all data held on the patient.")},
        tags=["patients"],
    )
    def get(self, request: Request, pk: str) -> Response:
        patient = get_object_or_404(patient_selectors.patient_list(), pk=pk)
        return Response(data_rights.patient_export(patient=patient, actor=request.user))


class PatientEraseView(StrictQueryParams, APIView):
    """Erase one patient's personal data (a data-rights request)."""

    queryset = Patient.objects.none()
    required_permissions = ["patients.erase_patient"]

    @extend_schema(
        summary="Erase a patient's personal data",
        description=(
            "Anonymises identity, contact details and message texts (in the audit history too), cancels "
            "booked sessions and pending messages, and keeps the clinical and audit skeleton."
        ),
        request=None,
        responses={200: PatientOutputSerializer},
        tags=["patients"],
    )
    def post(self, request: Request, pk: str) -> Response:
        patient = get_object_or_404(patient_selectors.patient_list(), pk=pk)
        patient = data_rights.patient_erase(patient=patient, actor=request.user)
        return Response(PatientOutputSerializer(patient, context={"request": request}).data)


@extend_schema_view(
    list=extend_schema(summary="List contact attempts", description="Calls about booking, newest first."),
    retrieve=extend_schema(summary="Get a contact attempt"),
)
class ContactAttemptViewSet(
    StrictQueryParams, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = ContactAttempt.objects.none()
    serializer_class = ContactAttemptOutputSerializer
    filterset_fields = ["course", "outcome"]
    ordering_fields = ["made_at"]
    ordering = ["-made_at", "id"]
    lookup_value_converter = "uuid"

    def get_queryset(self) -> QuerySet[ContactAttempt]:
        return ContactAttempt.objects.all()

    @extend_schema(
        summary="Record a contact attempt",
        description=(
            "An attempt to reach the patient about booking a course: reached, no answer, left a message, call back "
            "on a date (the course leaves the worklist until then), or declined (the course is cancelled)."
        ),
        request=ContactAttemptInputSerializer,
        responses={201: ContactAttemptOutputSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = ContactAttemptInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attempt = services.contact_attempt_record(actor=request.user, **serializer.validated_data)
        return Response(ContactAttemptOutputSerializer(attempt).data, status=status.HTTP_201_CREATED)
