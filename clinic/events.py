"""Domain events, in process: an app announces what happened; apps above it react.

The layering (patients < treatments < aftercare < integrations < frontdesk)
means treatments cannot call aftercare or integrations, yet both must act
when a session changes. So treatments announces a typed event (see
treatments.events) and the apps above subscribe to it in their
`AppConfig.ready()`.

Why not Django signals: they fire from `save()`, so the same row written by
a migration, a bulk update or a test factory would send messages; and a
receiver can be connected from anywhere. Here an event is announced only by
the service that made the change, and `subscribers()` lists who reacts.

Contract: handlers run synchronously, in the order they subscribed, inside
the announcing service's transaction. What they write (outbox rows, webhook
deliveries) therefore exists exactly when the change does, and a handler
that raises rolls the whole change back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

E = TypeVar("E")

_handlers: defaultdict[type, list[Callable[[Any], None]]] = defaultdict(list)


def subscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    """Call `handler(event)` for every `event_type` announced from now on (once, however often subscribed)."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def unsubscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    if handler in _handlers[event_type]:
        _handlers[event_type].remove(handler)


def subscribers(event_type: type) -> tuple[Callable[[Any], None], ...]:
    """Who reacts to `event_type`, in calling order."""
    return tuple(_handlers[event_type])


def announce(event: object) -> None:
    """Hand `event` to each subscriber of its type, in order."""
    for handler in tuple(_handlers[type(event)]):
        handler(event)
