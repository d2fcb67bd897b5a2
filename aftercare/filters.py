import django_filters

from aftercare.models import (
    Channel,
    InboundChannel,
    InboundIntent,
    InboundMessage,
    MessageKind,
    MessageStatus,
    ScheduledMessage,
    SenderMatch,
    SideEffectReport,
)
from clinic.api.filters import BooleanFilter, OffsetDateTimeFilter, UpdatedSinceFilterSet


class ScheduledMessageFilter(UpdatedSinceFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=MessageStatus.choices)
    kind = django_filters.MultipleChoiceFilter(choices=MessageKind.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    due_after = OffsetDateTimeFilter(field_name="due_at", lookup_expr="gte")
    due_before = OffsetDateTimeFilter(field_name="due_at", lookup_expr="lt")

    class Meta:
        model = ScheduledMessage
        fields = ["patient", "course", "session"]


class SideEffectReportFilter(UpdatedSinceFilterSet):
    resolved = BooleanFilter(field_name="resolved_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = SideEffectReport
        fields = ["patient", "session", "is_red_flag", "severity"]


class InboundMessageFilter(UpdatedSinceFilterSet):
    handled = BooleanFilter(
        field_name="handled_at",
        lookup_expr="isnull",
        exclude=True,
        help_text="false: the open inbox, what still needs a person; true: what was handled (by staff or the system).",
    )
    intent = django_filters.MultipleChoiceFilter(choices=InboundIntent.choices)
    match = django_filters.ChoiceFilter(choices=SenderMatch.choices)
    channel = django_filters.ChoiceFilter(choices=InboundChannel.choices)
    received_after = OffsetDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = OffsetDateTimeFilter(field_name="received_at", lookup_expr="lt")

    class Meta:
        model = InboundMessage
        fields = ["patient", "session"]
