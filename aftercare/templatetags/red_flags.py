"""Template tags for the admin pages that must show red flags wherever staff look."""

from __future__ import annotations

from django import template
from django.db.models import QuerySet

from aftercare import selectors
from aftercare.models import ScheduledMessage, SideEffectReport
from patients.models import Patient

register = template.Library()


@register.simple_tag
def open_red_flags(patient: Patient) -> QuerySet[SideEffectReport]:
    """`{% open_red_flags original as flags %}`: the patient's unresolved red-flag reports."""
    return selectors.open_red_flag_reports(patient=patient)


@register.simple_tag
def undelivered_red_flag_messages() -> QuerySet[ScheduledMessage]:
    """`{% undelivered_red_flag_messages as undelivered %}`: alerts and replies that reached nobody."""
    return selectors.undelivered_red_flag_messages()
