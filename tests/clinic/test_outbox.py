"""The outbox helper, on both outboxes that use it: aftercare messages and webhook deliveries.

Each test runs once per outbox, against the real rows in PostgreSQL, so the
same claim, finish and recovery rules are shown to hold for both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection, models, transaction
from django.db.models import F
from django.utils import timezone

from aftercare.dispatch import MESSAGE_OUTBOX
from clinic.outbox import Claim, Outbox
from integrations.models import WebhookDelivery, WebhookSubscription
from integrations.webhooks import DELIVERY_OUTBOX
from tests.factories import ScheduledMessageFactory


@dataclass(frozen=True)
class Scene:
    outbox: Outbox
    # Writes one row due at `due_at`, with any outbox fields given (status, claimed_at …).
    make_row: Callable[..., models.Model]
    finished: str  # a status that ends a row's life


def scheduled_message(*, due_at: datetime, **fields: Any) -> models.Model:
    return ScheduledMessageFactory(due_at=due_at, **fields)


def webhook_delivery(*, due_at: datetime, **fields: Any) -> models.Model:
    subscription, _ = WebhookSubscription.objects.get_or_create(
        name="Booking app",
        defaults={"url": "http://127.0.0.1:9/unused", "events": ["session.booked"], "secret": "s3cret"},
    )
    return WebhookDelivery.objects.create(
        subscription=subscription,
        event_type="session.booked",
        object_id="a-session",
        occurred_at=due_at,
        next_attempt_at=due_at,
        **fields,
    )


@pytest.fixture(
    params=[
        pytest.param(Scene(MESSAGE_OUTBOX, scheduled_message, "sent"), id="aftercare messages"),
        pytest.param(Scene(DELIVERY_OUTBOX, webhook_delivery, "delivered"), id="webhook deliveries"),
    ]
)
def scene(request, settings) -> Scene:
    settings.AFTERCARE_SENDING_LEASE_SECONDS = 300
    return request.param


def fresh(row: models.Model) -> Any:
    return type(row)._default_manager.get(pk=row.pk)


def due_time(scene: Scene, row: models.Model) -> datetime:
    return getattr(fresh(row), scene.outbox.due_field)


@pytest.mark.django_db
def test_a_claim_takes_due_pending_rows_earliest_first_up_to_the_limit(scene: Scene) -> None:
    now = timezone.now()
    due_now = scene.make_row(due_at=now)
    oldest = scene.make_row(due_at=now - timedelta(hours=2))
    older = scene.make_row(due_at=now - timedelta(minutes=5))
    tomorrow = scene.make_row(due_at=now + timedelta(days=1))
    already_sent = scene.make_row(due_at=now - timedelta(days=1), status=scene.finished)

    claims = scene.outbox.claim(now=now, limit=2, attempts=F("attempts") + 1)

    assert claims == [(oldest.pk, now), (older.pk, now)]
    for row in (oldest, older):
        row = fresh(row)
        assert (row.status, row.claimed_at, row.attempts) == ("sending", now, 1)
    for row in (due_now, tomorrow):
        row = fresh(row)
        assert (row.status, row.claimed_at, row.attempts) == ("pending", None, 0)
    assert fresh(already_sent).status == scene.finished

    assert scene.outbox.claim(now=now, limit=10) == [Claim(due_now.pk, now)], "claimed rows are not claimed again"
    assert scene.outbox.claim(now=now, limit=10) == []


@pytest.mark.django_db(transaction=True)
def test_rows_another_worker_is_claiming_are_skipped_not_waited_for(scene: Scene) -> None:
    now = timezone.now()
    locked, first, second = (scene.make_row(due_at=now - timedelta(minutes=m)) for m in (3, 2, 1))
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def other_worker() -> None:
        # Holds the row lock the way another worker's claim transaction does.
        try:
            with transaction.atomic():
                type(locked)._default_manager.select_for_update().get(pk=locked.pk)
                holding.set()
                release.wait(timeout=30)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert holding.wait(timeout=30)
        claims = scene.outbox.claim(now=now, limit=10)
    finally:
        release.set()
        thread.join(timeout=30)

    assert errors == []
    assert [claim.pk for claim in claims] == [first.pk, second.pk]
    assert fresh(locked).status == "pending", "the locked row is left for whoever holds it"
    assert [claim.pk for claim in scene.outbox.claim(now=now, limit=10)] == [locked.pk]


@pytest.mark.django_db
def test_an_outcome_is_written_only_while_the_claim_holds(scene: Scene) -> None:
    now = timezone.now()
    row = scene.make_row(due_at=now)
    [claim] = scene.outbox.claim(now=now, limit=1)

    assert scene.outbox.finish(claim, status=scene.finished) is True
    assert fresh(row).status == scene.finished
    assert scene.outbox.finish(claim, status="pending") is False, "a finished row is no longer sending"
    assert fresh(row).status == scene.finished


@pytest.mark.django_db
def test_a_worker_that_lost_its_claim_cannot_overwrite_the_new_owner(scene: Scene) -> None:
    first_claim_at = timezone.now()
    row = scene.make_row(due_at=first_claim_at)
    [stale] = scene.outbox.claim(now=first_claim_at, limit=1)
    # The first worker stalls past the lease; the row is recovered, then claimed by another worker.
    later = first_claim_at + scene.outbox.lease() + timedelta(seconds=1)
    assert scene.outbox.recover_stale_claims(now=later) == 1
    assert scene.outbox.finish(stale, status=scene.finished) is False, "recovered: pending, no claim"
    [current] = scene.outbox.claim(now=later, limit=1)
    assert current == Claim(row.pk, later)

    assert scene.outbox.finish(stale, status=scene.finished) is False
    assert (fresh(row).status, fresh(row).claimed_at) == ("sending", later)

    assert scene.outbox.finish(current, status="pending", claimed_at=None) is True
    assert (fresh(row).status, fresh(row).claimed_at) == ("pending", None)


@pytest.mark.django_db
def test_claims_older_than_the_lease_are_recovered_and_live_ones_are_left_alone(scene: Scene) -> None:
    now = timezone.now()
    lease = scene.outbox.lease()
    assert lease == timedelta(minutes=5)
    abandoned = scene.make_row(
        due_at=now - timedelta(hours=1), status="sending", claimed_at=now - lease - timedelta(seconds=1)
    )
    live = scene.make_row(
        due_at=now - timedelta(hours=1), status="sending", claimed_at=now - lease + timedelta(seconds=1)
    )
    long_finished = scene.make_row(
        due_at=now - timedelta(days=1), status=scene.finished, claimed_at=now - timedelta(days=1)
    )

    assert scene.outbox.recover_stale_claims(now=now) == 1

    recovered = fresh(abandoned)
    assert (recovered.status, recovered.claimed_at) == ("pending", None)
    assert due_time(scene, abandoned) == now - timedelta(hours=1), "due as before: claimed again at once"
    untouched = fresh(live)
    assert (untouched.status, untouched.claimed_at) == ("sending", now - lease + timedelta(seconds=1))
    finished = fresh(long_finished)
    assert (finished.status, finished.claimed_at) == (scene.finished, now - timedelta(days=1))
    assert scene.outbox.recover_stale_claims(now=now) == 0
    assert [claim.pk for claim in scene.outbox.claim(now=now, limit=10)] == [abandoned.pk]


@pytest.mark.django_db
def test_every_outbox_write_stamps_updated_at_where_the_model_has_one() -> None:
    # Queryset updates skip auto_now; the outbox stamps the field itself.
    created = timezone.now() - timedelta(hours=2)
    message = ScheduledMessageFactory(due_at=created)
    type(message).objects.filter(pk=message.pk).update(updated_at=created)

    claim_time = created + timedelta(hours=1)
    [claim] = MESSAGE_OUTBOX.claim(now=claim_time, limit=1)
    assert fresh(message).updated_at == claim_time

    recovery_time = claim_time + MESSAGE_OUTBOX.lease() + timedelta(seconds=1)
    assert MESSAGE_OUTBOX.recover_stale_claims(now=recovery_time) == 1
    assert fresh(message).updated_at == recovery_time

    [claim] = MESSAGE_OUTBOX.claim(now=recovery_time, limit=1)
    before_finish = timezone.now()
    assert MESSAGE_OUTBOX.finish(claim, status="sent")
    assert fresh(message).updated_at >= before_finish


def test_finishing_without_an_outcome_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="outcome"):
        DELIVERY_OUTBOX.finish(Claim("any-id", timezone.now()))


@pytest.mark.django_db
def test_a_batch_of_outcomes_is_written_where_the_claims_hold_each_row_with_its_own_values(scene: Scene) -> None:
    now = timezone.now()
    rows = [scene.make_row(due_at=now - timedelta(minutes=minutes)) for minutes in (4, 3, 2, 1)]
    first, second, lost, put_back = scene.outbox.claim(now=now, limit=4)
    # Another worker took `lost` over after the lease.
    type(rows[2])._default_manager.filter(pk=lost.pk).update(claimed_at=now + timedelta(minutes=6))
    later = now + timedelta(hours=1)

    written = scene.outbox.finish_many(
        [
            (first, {"status": scene.finished, "attempts": 7}),
            (second, {"status": scene.finished, "attempts": 8}),
            (lost, {"status": scene.finished, "attempts": 9}),
            (put_back, {"status": "pending", "claimed_at": None, scene.outbox.due_field: later}),
        ]
    )

    assert written == {first.pk, second.pk, put_back.pk}
    assert [(fresh(row).status, fresh(row).attempts) for row in rows[:3]] == [
        (scene.finished, 7),
        (scene.finished, 8),
        ("sending", 0),
    ]
    assert (fresh(rows[3]).status, fresh(rows[3]).claimed_at, due_time(scene, rows[3])) == ("pending", None, later)


@pytest.mark.django_db
def test_a_batch_may_write_query_expressions_the_same_or_different_for_each_row(scene: Scene) -> None:
    now = timezone.now()
    rows = [scene.make_row(due_at=now - timedelta(minutes=minutes)) for minutes in (3, 2, 1)]
    claims = scene.outbox.claim(now=now, limit=3)

    written = scene.outbox.finish_many(
        [
            (claims[0], {"status": "pending", "claimed_at": None, "attempts": F("attempts") + 1}),
            (claims[1], {"status": "pending", "claimed_at": None, "attempts": F("attempts") + 2}),
            (claims[2], {"status": scene.finished, "attempts": F("attempts") + 5}),
        ]
    )

    assert written == {claim.pk for claim in claims}
    assert [(fresh(row).status, fresh(row).attempts) for row in rows] == [
        ("pending", 1),
        ("pending", 2),
        (scene.finished, 5),
    ]


def test_finishing_a_batch_without_an_outcome_for_each_claim_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="outcome"):
        DELIVERY_OUTBOX.finish_many([(Claim("any-id", timezone.now()), {})])
