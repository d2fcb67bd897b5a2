"""The in-process event registry (clinic.events): the one outward door's plumbing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from clinic import events
from tests.treatments.conftest import LONDON
from tests.treatments.conftest import clock as clock  # the fixtures, shared
from tests.treatments.conftest import course as course
from tests.treatments.conftest import location as location
from tests.treatments.conftest import practitioner as practitioner
from tests.treatments.conftest import protocol as protocol
from tests.treatments.conftest import room as room
from treatments import services
from treatments.events import SessionChange, SessionChanged
from treatments.models import Session


class Heard:
    def __init__(self) -> None:
        self.events: list[object] = []

    def __call__(self, event: object) -> None:
        self.events.append(event)


@pytest.fixture
def heard() -> Iterator[Heard]:
    listener = Heard()
    events.subscribe(SessionChanged, listener)
    yield listener
    events.unsubscribe(SessionChanged, listener)


def test_subscribers_hear_each_event_in_order_once_however_often_they_subscribe() -> None:
    class Happened:
        pass

    order: list[str] = []

    def first(event: object) -> None:
        order.append("first")

    def second(event: object) -> None:
        order.append("second")

    for handler in (first, second, first):
        events.subscribe(Happened, handler)
    try:
        events.announce(Happened())
        events.announce(object())  # nobody listens to plain objects
    finally:
        events.unsubscribe(Happened, first)
        events.unsubscribe(Happened, second)

    assert order == ["first", "second"]
    assert events.subscribers(Happened) == ()


@pytest.mark.django_db
def test_every_session_change_is_announced_once_with_its_actor(heard, clock, course, practitioner, room) -> None:
    session = services.session_book(
        course=course,
        practitioner=practitioner,
        room=room,
        starts_at=datetime(2026, 3, 3, 10, tzinfo=LONDON),
        actor=None,
    )
    session = services.session_reschedule(
        session=session, starts_at=datetime(2026, 3, 3, 11, tzinfo=LONDON), actor=None
    )
    clock.move_to(session.ends_at)
    services.session_complete(session=session, actor=session.practitioner.user)

    assert [(e.change, e.session.pk, e.actor) for e in heard.events] == [
        (SessionChange.BOOKED, session.pk, None),
        (SessionChange.RESCHEDULED, session.pk, None),
        (SessionChange.COMPLETED, session.pk, practitioner.user),
    ]


@pytest.mark.django_db
def test_a_subscriber_that_fails_rolls_the_change_back(clock, course, practitioner, room) -> None:
    def refuse(event: SessionChanged) -> None:
        raise RuntimeError("the receiving side broke")

    events.subscribe(SessionChanged, refuse)
    try:
        with pytest.raises(RuntimeError):
            services.session_book(
                course=course,
                practitioner=practitioner,
                room=room,
                starts_at=datetime(2026, 3, 3, 10, tzinfo=LONDON),
                actor=None,
            )
    finally:
        events.unsubscribe(SessionChanged, refuse)

    assert not Session.objects.exists()
    course.refresh_from_db()
    assert course.status == "planned"
