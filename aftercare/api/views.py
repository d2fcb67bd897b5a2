from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from aftercare import inbox, side_effects
from aftercare.api.serializers import (
    InboundMessageHandleInputSerializer,
    InboundMessageOutputSerializer,
    ScheduledMessageOutputSerializer,
    SideEffectReportInputSerializer,
    SideEffectReportOutputSerializer,
    SideEffectResolveInputSerializer,
)
from aftercare.filters import InboundMessageFilter, ScheduledMessageFilter, SideEffectReportFilter
from aftercare.models import InboundMessage, ScheduledMessage, SideEffectReport
from clinic.api.query import StrictQueryParams


@extend_schema_view(
    list=extend_schema(summary="List messages", description="The outbox: every message, scheduled or sent."),
    retrieve=extend_schema(summary="Get a message"),
)
class ScheduledMessageViewSet(StrictQueryParams, viewsets.ReadOnlyModelViewSet):
    queryset = ScheduledMessage.objects.none()
    serializer_class = ScheduledMessageOutputSerializer
    filterset_class = ScheduledMessageFilter
    ordering_fields = ["due_at", "updated_at", "sent_at"]
    ordering = ["due_at", "id"]
    lookup_value_converter = "uuid"

    def get_queryset(self) -> QuerySet[ScheduledMessage]:
        return ScheduledMessage.objects.select_related("step")


@extend_schema_view(
    list=extend_schema(summary="List side-effect reports"),
    retrieve=extend_schema(summary="Get a side-effect report"),
)
class SideEffectReportViewSet(
    StrictQueryParams, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = SideEffectReport.objects.none()
    serializer_class = SideEffectReportOutputSerializer
    filterset_class = SideEffectReportFilter
    ordering_fields = ["created_at", "updated_at"]
    ordering = ["-created_at", "id"]
    lookup_value_converter = "uuid"
    action_permissions = {"resolve": ["aftercare.change_sideeffectreport"]}

    def get_queryset(self) -> QuerySet[SideEffectReport]:
        return SideEffectReport.objects.all()

    @extend_schema(
        summary="Report side effects",
        description=(
            "A red-flag symptom alerts the treating practitioner and the location's clinical contact at once "
            "by email, and sends the patient advice on their preferred channel (with their consent)."
        ),
        request=SideEffectReportInputSerializer,
        responses={201: SideEffectReportOutputSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = SideEffectReportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report = side_effects.side_effect_report_create(actor=request.user, **serializer.validated_data)
        return Response(
            SideEffectReportOutputSerializer(report, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="Resolve a side-effect report",
        request=SideEffectResolveInputSerializer,
        responses={200: SideEffectReportOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        serializer = SideEffectResolveInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report = side_effects.side_effect_report_resolve(
            report=self.get_object(),
            note=serializer.validated_data["resolution_note"],
            actor=request.user,
        )
        return Response(SideEffectReportOutputSerializer(report, context=self.get_serializer_context()).data)


@extend_schema_view(
    list=extend_schema(
        summary="List the inbox",
        description=(
            "Messages patients sent in: texts to the clinic's number and requests from their aftercare page, "
            "newest first. `handled=false` is the open inbox: what still needs a person (a request to rebook or "
            "book, a confirmation with nothing booked ahead, anything the system does not act on). STOP, START, "
            "HELP and confirmations are acted on by the system and listed as handled by `system`. A text from a "
            "number on no patient's record, or on several, has no patient: it is never matched by a guess."
        ),
    ),
    retrieve=extend_schema(summary="Get an inbox message"),
)
class InboundMessageViewSet(
    StrictQueryParams, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = InboundMessage.objects.none()
    serializer_class = InboundMessageOutputSerializer
    filterset_class = InboundMessageFilter
    ordering_fields = ["received_at", "updated_at"]
    ordering = ["-received_at", "id"]
    lookup_value_converter = "uuid"
    action_permissions = {"handle": ["aftercare.change_inboundmessage"]}

    def get_queryset(self) -> QuerySet[InboundMessage]:
        # The patient and the session are shown by id: nothing to join.
        return InboundMessage.objects.all()

    @extend_schema(
        summary="Mark an inbox message handled",
        description="With a note of what was done. A message already handled (by someone, or the system) is a 409.",
        request=InboundMessageHandleInputSerializer,
        responses={200: InboundMessageOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def handle(self, request: Request, pk: str) -> Response:
        serializer = InboundMessageHandleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = inbox.inbound_message_handle(
            message=self.get_object(), note=serializer.validated_data.get("note", ""), actor=request.user
        )
        return Response(InboundMessageOutputSerializer(message, context=self.get_serializer_context()).data)
