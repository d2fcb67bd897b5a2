"""The audit trail: who changed what, when, on patient data (django-simple-history).

Each audited model gets `history = audited()`. A historical row records the
user (a staff account) and a readable actor label, which also names API keys
("integration:Booking widget") and background work ("system"), which have no
user row.

The actor a service was given is authoritative: services run under
`acting_as(actor)` (the `records_actor` decorator), and the history reads it
from there. So a change made by a Celery task or a management command on
behalf of a user is recorded as that user's, and a request whose code calls
a service for someone else records the someone else. Only writes made
outside any service (the admin saving reference data) fall back to the
request's user, which simple-history's middleware provides.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from django.contrib.auth.models import User
from django.db import models
from django.dispatch import receiver
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from clinic.actors import actor_label, staff_user

P = ParamSpec("P")
R = TypeVar("R")

_NO_SERVICE = object()
# The actor of the innermost running service; _NO_SERVICE outside any service.
_service_actor: ContextVar[Any] = ContextVar("service_actor", default=_NO_SERVICE)


class AuditedHistory(models.Model):
    history_actor = models.CharField(max_length=150, blank=True)

    class Meta:
        abstract = True


@contextmanager
def acting_as(actor: Any) -> Iterator[None]:
    """Attribute every audited write inside the block to `actor` (None: the system)."""
    token = _service_actor.set(actor)
    try:
        yield
    finally:
        _service_actor.reset(token)


def records_actor(service: Callable[P, R]) -> Callable[P, R]:
    """Run `service` (keyword-only, with an `actor=` argument) under `acting_as(actor)`."""

    @functools.wraps(service)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if "actor" not in kwargs:
            raise TypeError(f"{service.__name__}() needs actor=, the person or key it acts for (None: the system)")
        with acting_as(kwargs["actor"]):
            return service(*args, **kwargs)

    return run


def _request_user(request: Any) -> Any:
    user = getattr(request, "user", None)
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def current_actor() -> Any:
    """The actor writes are attributed to now: the running service's, else the request's user."""
    actor = _service_actor.get()
    if actor is not _NO_SERVICE:
        return actor
    return _request_user(getattr(HistoricalRecords.context, "request", None))


def _history_user(request: Any = None, **kwargs: Any) -> User | None:
    return staff_user(current_actor())


def audited(**options: Any) -> HistoricalRecords:
    return HistoricalRecords(bases=[AuditedHistory], get_user=_history_user, **options)


def current_actor_label() -> str:
    return actor_label(current_actor())


@receiver(pre_create_historical_record)
def _label_actor(sender: Any, history_instance: Any, **kwargs: Any) -> None:
    if isinstance(history_instance, AuditedHistory) and not history_instance.history_actor:
        history_instance.history_actor = current_actor_label()
