import django_filters

from aftercare.models import Channel, MessageKind, MessageStatus, ScheduledMessage, SideEffectReport
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
