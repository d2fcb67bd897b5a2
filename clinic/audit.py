"""The audit trail: who changed what, when, on patient data (django-simple-history).

Each audited model gets `history = audited()`. A historical row records the
user (a staff account, through the request) and a readable actor label,
which also names API keys ("integration:Booking widget") and background
work ("system"), which have no user row.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models
from django.dispatch import receiver
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record


class AuditedHistory(models.Model):
    history_actor = models.CharField(max_length=150, blank=True)

    class Meta:
        abstract = True


def _history_user(request: Any = None, **kwargs: Any) -> AbstractBaseUser | None:
    user = getattr(request, "user", None)
    return user if isinstance(user, AbstractBaseUser) and user.is_authenticated else None


def audited(**options: Any) -> HistoricalRecords:
    return HistoricalRecords(bases=[AuditedHistory], get_user=_history_user, **options)


def current_actor_label() -> str:
    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return str(user.get_username())[:150]
    return "system"


@receiver(pre_create_historical_record)
def _label_actor(sender: Any, history_instance: Any, **kwargs: Any) -> None:
    if isinstance(history_instance, AuditedHistory) and not history_instance.history_actor:
        history_instance.history_actor = current_actor_label()
