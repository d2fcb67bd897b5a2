from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from clinic.api.query import StrictQueryParams
from treatments import selectors, services
from treatments.api.serializers import (
    AvailabilityQuerySerializer,
    CourseCancelInputSerializer,
    CourseCreateInputSerializer,
    CourseOutputSerializer,
    CourseOverrideInputSerializer,
    CourseOverrideOutputSerializer,
    LocationOutputSerializer,
    LotRecipientSerializer,
    MedicalClearanceInputSerializer,
    MedicalClearanceOutputSerializer,
    NoFieldsInputSerializer,
    PractitionerOutputSerializer,
    ProductLotSerializer,
    ProductSerializer,
    ProtocolOutputSerializer,
    RoomOutputSerializer,
    SessionBookInputSerializer,
    SessionCancelInputSerializer,
    SessionCompleteInputSerializer,
    SessionOutputSerializer,
    SessionRescheduleInputSerializer,
    SlotSerializer,
)
from treatments.filters import (
    CourseFilter,
    LocationFilter,
    PractitionerFilter,
    ProductLotFilter,
    RoomFilter,
    SessionFilter,
)
from treatments.models import (
    Course,
    Location,
    MedicalClearance,
    Practitioner,
    Product,
    ProductLot,
    Protocol,
    Room,
    Session,
)

RULE_ERROR = OpenApiResponse(
    description="A rule refused it: `rule` names the rule, `earliest_start` gives the first allowed start."
)
SLOT_TAKEN = OpenApiResponse(description="The practitioner or room is taken: `clashing_session` names the session.")
WRONG_STATE = OpenApiResponse(description="The session or course is not in a state that allows this.")
NOT_A_PRACTITIONER = OpenApiResponse(
    description="Only a practitioner may do this, as themself (for the patients they treat, or as a clinical admin)."
)


class ReadOnlyReferenceViewSet(StrictQueryParams, viewsets.ReadOnlyModelViewSet):
    """Reference data managed in the admin and read by integrations."""

    lookup_value_converter = "uuid"


@extend_schema_view(list=extend_schema(summary="List locations"), retrieve=extend_schema(summary="Get a location"))
class LocationViewSet(ReadOnlyReferenceViewSet):
    queryset = Location.objects.none()
    serializer_class = LocationOutputSerializer
    filterset_class = LocationFilter
    search_fields = ["name", "address"]
    ordering_fields = ["name", "updated_at"]
    ordering = ["name", "id"]

    def get_queryset(self) -> QuerySet[Location]:
        return selectors.location_list()


@extend_schema_view(list=extend_schema(summary="List rooms"), retrieve=extend_schema(summary="Get a room"))
class RoomViewSet(ReadOnlyReferenceViewSet):
    queryset = Room.objects.none()
    serializer_class = RoomOutputSerializer
    filterset_class = RoomFilter
    search_fields = ["name"]
    ordering_fields = ["name", "updated_at"]
    ordering = ["name", "id"]

    def get_queryset(self) -> QuerySet[Room]:
        return selectors.room_list()


@extend_schema_view(
    list=extend_schema(summary="List practitioners"), retrieve=extend_schema(summary="Get a practitioner")
)
class PractitionerViewSet(ReadOnlyReferenceViewSet):
    queryset = Practitioner.objects.none()
    serializer_class = PractitionerOutputSerializer
    filterset_class = PractitionerFilter
    search_fields = ["display_name"]
    ordering_fields = ["display_name", "updated_at"]
    ordering = ["display_name", "id"]

    def get_queryset(self) -> QuerySet[Practitioner]:
        return selectors.practitioner_list()


@extend_schema_view(list=extend_schema(summary="List protocols"), retrieve=extend_schema(summary="Get a protocol"))
class ProtocolViewSet(ReadOnlyReferenceViewSet):
    queryset = Protocol.objects.none()
    serializer_class = ProtocolOutputSerializer
    filterset_fields = ["is_active"]
    search_fields = ["name"]
    ordering_fields = ["name", "updated_at"]
    ordering = ["name", "id"]

    def get_queryset(self) -> QuerySet[Protocol]:
        return selectors.protocol_list()


@extend_schema_view(list=extend_schema(summary="List courses"), retrieve=extend_schema(summary="Get a course"))
class CourseViewSet(StrictQueryParams, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Course.objects.none()
    serializer_class = CourseOutputSerializer
    filterset_class = CourseFilter
    ordering_fields = ["created_at", "updated_at", "next_maintenance_earliest"]
    ordering = ["-created_at", "id"]
    lookup_value_converter = "uuid"
    action_permissions = {
        "cancel": ["treatments.change_course"],
        "add_override": ["treatments.add_courseoverride"],
    }

    def get_queryset(self) -> QuerySet[Course]:
        return selectors.course_list()

    @extend_schema(
        summary="Start a course",
        request=CourseCreateInputSerializer,
        responses={201: CourseOutputSerializer, 400: RULE_ERROR},
    )
    def create(self, request: Request) -> Response:
        serializer = CourseCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        course = services.course_create(actor=request.user, **serializer.validated_data)
        return Response(self._output(course), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Cancel a course and its booked sessions",
        request=CourseCancelInputSerializer,
        responses={200: CourseOutputSerializer, 409: WRONG_STATE},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        serializer = CourseCancelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        course = services.course_cancel(course=self.get_object(), actor=request.user, **serializer.validated_data)
        return Response(self._output(course))

    @extend_schema(
        summary="Set a rule aside for the course's next booking",
        description=(
            "A practitioner who treats the patient decides ahead that the next booking of this course may go ahead "
            "despite the spacing or conflict rule, with a reason; the front desk then books normally and the "
            "session records the practitioner's decision. Only practitioners (staff login); API keys get 403."
        ),
        request=CourseOverrideInputSerializer,
        responses={201: CourseOverrideOutputSerializer, 403: NOT_A_PRACTITIONER},
    )
    @action(detail=True, methods=["post"], url_path="overrides")
    def add_override(self, request: Request, pk: str) -> Response:
        serializer = CourseOverrideInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        override = services.course_override_record(
            course=self.get_object(), actor=request.user, **serializer.validated_data
        )
        return Response(
            CourseOverrideOutputSerializer(override, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    def _output(self, course: Course) -> dict[str, Any]:
        return CourseOutputSerializer(selectors.course_list().get(pk=course.pk)).data


def _override_args(data: dict[str, Any]) -> dict[str, Any]:
    return {"overrides": [services.Override(**o) for o in data.pop("overrides", [])]}


@extend_schema_view(
    list=extend_schema(summary="List sessions"),
    retrieve=extend_schema(summary="Get a session"),
)
class SessionViewSet(StrictQueryParams, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Sessions (appointments). Book with POST; change through the action endpoints."""

    queryset = Session.objects.none()
    serializer_class = SessionOutputSerializer
    filterset_class = SessionFilter
    ordering_fields = ["starts_at", "updated_at"]
    ordering = ["starts_at", "id"]
    lookup_value_converter = "uuid"
    action_permissions = {
        "reschedule": ["treatments.change_session"],
        "cancel": ["treatments.change_session"],
        "no_show": ["treatments.change_session"],
        "check_in": ["treatments.change_session"],
        "start_treatment": ["treatments.change_session"],
        "complete": ["treatments.change_session", "treatments.complete_session"],
    }

    def get_queryset(self) -> QuerySet[Session]:
        return selectors.session_list()

    def _field_free_action(self, request: Request, service: Any) -> Response:
        """An action whose body has no fields: the session changed by `service`, as the list shows it."""
        NoFieldsInputSerializer(data=request.data).is_valid(raise_exception=True)
        return self._output(service(session=self.get_object(), actor=request.user))

    def _output(self, session: Session, *, status_code: int = status.HTTP_200_OK) -> Response:
        session = selectors.session_list().get(pk=session.pk)
        return Response(
            SessionOutputSerializer(session, context=self.get_serializer_context()).data, status=status_code
        )

    @extend_schema(
        summary="Book a session",
        request=SessionBookInputSerializer,
        responses={201: SessionOutputSerializer, 400: RULE_ERROR, 409: SLOT_TAKEN},
    )
    def create(self, request: Request) -> Response:
        serializer = SessionBookInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data["course"] = Course(pk=data["course"])  # read and locked by the service, which refuses an unknown id
        session = services.session_book(actor=request.user, **_override_args(data), **data)
        # The booked session comes back with what the response shows in hand: it is not read back.
        return Response(
            SessionOutputSerializer(
                selectors.with_treatment_consent(session), context=self.get_serializer_context()
            ).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="Move a booked session",
        request=SessionRescheduleInputSerializer,
        responses={200: SessionOutputSerializer, 400: RULE_ERROR, 409: SLOT_TAKEN},
    )
    @action(detail=True, methods=["post"])
    def reschedule(self, request: Request, pk: str) -> Response:
        serializer = SessionRescheduleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        session = services.session_reschedule(
            session=self.get_object(), actor=request.user, **_override_args(data), **data
        )
        return self._output(session)

    @extend_schema(
        summary="Cancel a booked session",
        request=SessionCancelInputSerializer,
        responses={200: SessionOutputSerializer, 409: WRONG_STATE},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        serializer = SessionCancelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        session = services.session_cancel(session=self.get_object(), actor=request.user, **serializer.validated_data)
        return self._output(session)

    @extend_schema(
        summary="Complete a session",
        description="Records notes, treated areas and the product lots used. An expired lot is refused.",
        request=SessionCompleteInputSerializer,
        responses={200: SessionOutputSerializer, 400: RULE_ERROR, 409: WRONG_STATE},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str) -> Response:
        serializer = SessionCompleteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        uses = [services.ProductUse(lot=u["lot"], quantity=u["quantity"]) for u in data.pop("product_uses", [])]
        session = services.session_complete(session=self.get_object(), actor=request.user, product_uses=uses, **data)
        return self._output(session)

    @extend_schema(
        summary="Mark a session as a no-show",
        request=NoFieldsInputSerializer,
        responses={200: SessionOutputSerializer, 409: WRONG_STATE},
    )
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request: Request, pk: str) -> Response:
        return self._field_free_action(request, services.session_mark_no_show)

    @extend_schema(
        summary="Check a patient in",
        description="The patient has arrived for a booked session, on its local day: `arrived_at` is set "
        "(a second check-in keeps the first) and `fhir_status` becomes `arrived`; the session stays booked.",
        request=NoFieldsInputSerializer,
        responses={200: SessionOutputSerializer, 409: WRONG_STATE},
    )
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request: Request, pk: str) -> Response:
        return self._field_free_action(request, services.session_check_in)

    @extend_schema(
        summary="Start the treatment",
        description="The patient has gone in, on the session's local day: `treatment_started_at` is set (and "
        "`arrived_at`, if the desk had not checked them in); the session stays booked until completed.",
        request=NoFieldsInputSerializer,
        responses={200: SessionOutputSerializer, 409: WRONG_STATE},
    )
    @action(detail=True, methods=["post"], url_path="start-treatment")
    def start_treatment(self, request: Request, pk: str) -> Response:
        return self._field_free_action(request, services.session_start_treatment)


@extend_schema_view(
    list=extend_schema(summary="List medical clearances"),
    retrieve=extend_schema(summary="Get a medical clearance"),
)
class MedicalClearanceViewSet(
    StrictQueryParams, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Practitioners' medical reviews: with one in force, the front desk books a patient with medical flags."""

    queryset = MedicalClearance.objects.none()
    serializer_class = MedicalClearanceOutputSerializer
    filterset_fields = ["patient", "course"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "id"]
    lookup_value_converter = "uuid"
    action_permissions = {"revoke": ["treatments.change_medicalclearance"]}

    def get_queryset(self) -> QuerySet[MedicalClearance]:
        return MedicalClearance.objects.all()

    @extend_schema(
        summary="Record a medical clearance",
        description=(
            "A practitioner who treats the patient (or a clinical admin) reviewed the patient's medical flags: "
            "bookings for the course, or until the date, may go ahead. It covers the flags on file now. "
            "Recorded as the logged-in practitioner's decision; anyone else gets 403."
        ),
        request=MedicalClearanceInputSerializer,
        responses={201: MedicalClearanceOutputSerializer, 403: NOT_A_PRACTITIONER},
    )
    def create(self, request: Request) -> Response:
        serializer = MedicalClearanceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        clearance = services.medical_clearance_record(actor=request.user, **serializer.validated_data)
        return Response(
            MedicalClearanceOutputSerializer(clearance, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="Withdraw a medical clearance",
        request=None,
        responses={200: MedicalClearanceOutputSerializer, 403: NOT_A_PRACTITIONER, 409: WRONG_STATE},
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        clearance = services.medical_clearance_revoke(clearance=self.get_object(), actor=request.user)
        return Response(MedicalClearanceOutputSerializer(clearance, context=self.get_serializer_context()).data)


class AvailabilityView(StrictQueryParams, APIView):
    """Free slots for booking software."""

    queryset = Session.objects.none()  # reading availability needs view_session
    query_serializer_class = AvailabilityQuerySerializer

    @extend_schema(
        summary="Free slots",
        description=(
            "Slots of the protocol's length inside the location's opening hours (local time), "
            "where the practitioner has no live session and at least one room is free. "
            "Patient-specific rules (spacing, conflicts) are checked when booking."
        ),
        parameters=[AvailabilityQuerySerializer],
        responses=SlotSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        query = AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        slots = selectors.availability(
            practitioner=params["practitioner"],
            location=params["location"],
            protocol=params["protocol"],
            date_from=params["date_from"],
            date_to=params["date_to"],
            step_minutes=params["step_minutes"],
            # A slot that has already begun cannot be booked; do not offer it.
            not_before=timezone.now(),
        )
        return Response(SlotSerializer(slots, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="List products"),
    retrieve=extend_schema(summary="Get a product"),
    create=extend_schema(summary="Add a product"),
)
class ProductViewSet(mixins.CreateModelMixin, ReadOnlyReferenceViewSet):
    queryset = Product.objects.none()
    serializer_class = ProductSerializer
    filterset_fields = ["kind", "is_active"]
    search_fields = ["name", "manufacturer"]
    ordering_fields = ["name", "updated_at"]
    ordering = ["name", "id"]

    def get_queryset(self) -> QuerySet[Product]:
        return Product.objects.all()

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        serializer.instance = services.product_create(actor=self.request.user, **serializer.validated_data)


@extend_schema_view(
    list=extend_schema(summary="List product lots"),
    retrieve=extend_schema(summary="Get a product lot"),
    create=extend_schema(summary="Register a lot"),
)
class ProductLotViewSet(mixins.CreateModelMixin, ReadOnlyReferenceViewSet):
    queryset = ProductLot.objects.none()
    serializer_class = ProductLotSerializer
    filterset_class = ProductLotFilter
    search_fields = ["lot_number", "product__name"]
    ordering_fields = ["expires_on", "updated_at"]
    ordering = ["expires_on", "id"]
    # The recall list names patients.
    action_permissions = {
        "recipients": ["treatments.view_productlot", "patients.view_patient", "treatments.view_session"]
    }

    def get_queryset(self) -> QuerySet[ProductLot]:
        return ProductLot.objects.select_related("product")

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        serializer.instance = services.product_lot_create(actor=self.request.user, **serializer.validated_data)

    @extend_schema(
        summary="Who received this lot",
        description="Every session that used the lot, with its patient: the recall list.",
        responses=LotRecipientSerializer(many=True),
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int), OpenApiParameter("count", bool)],
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[], paginated_action=True)
    def recipients(self, request: Request, pk: str) -> Response:
        lot = get_object_or_404(ProductLot, pk=pk)
        uses = selectors.lot_recipients(lot_id=lot.pk)
        page = self.paginate_queryset(uses)
        return self.get_paginated_response(LotRecipientSerializer(page, many=True).data)
