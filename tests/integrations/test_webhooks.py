"""Outbound webhooks: signed, delivered by the worker side, retried with back-off, every attempt logged."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from integrations import webhooks
from integrations.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from tests.factories import CourseFactory, PatientFactory
from tests.integrations.receiver import webhook_receiver
from tests.treatments.conftest import LONDON
from treatments import services

pytestmark = pytest.mark.django_db

SECRET = "s3cret-shared-with-the-receiver"
TUESDAY_TEN = datetime(2026, 3, 3, 10, tzinfo=LONDON)


def subscribe(url: str, events: list[str], **fields: object) -> WebhookSubscription:
    return WebhookSubscription.objects.create(name="Booking app", url=url, events=events, secret=SECRET, **fields)


def book(course, practitioner, room, starts_at):
    return services.session_book(course=course, practitioner=practitioner, room=room, starts_at=starts_at, actor=None)


def test_a_booking_is_delivered_signed_with_event_id_type_time_and_object(clock, course, practitioner, room) -> None:
    with webhook_receiver() as receiver:
        subscribe(receiver.url, ["session.booked"])
        session = book(course, practitioner, room, TUESDAY_TEN)

        assert webhooks.deliver_due() == 1

    [request] = receiver.received
    body = json.loads(request.body)
    delivery = WebhookDelivery.objects.get()
    assert body == {
        "id": str(delivery.event_id),
        "type": "session.booked",
        "occurred_at": delivery.occurred_at.isoformat(),
        "object_id": str(session.pk),
    }
    timestamp = int(request.headers["X-Webhook-Timestamp"])
    assert webhooks.verify(SECRET, timestamp, request.body, request.headers["X-Signature"], now=time.time())
    assert not webhooks.verify("wrong-secret", timestamp, request.body, request.headers["X-Signature"], now=time.time())
    assert not webhooks.verify(
        SECRET, timestamp, request.body, request.headers["X-Signature"], now=time.time() + 3600
    ), "a replay an hour later must be refused"
    assert request.headers["X-Webhook-Event"] == "session.booked"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert delivery.attempt_log.get().status_code == 200


def test_only_subscribed_events_reach_active_subscriptions(clock, course, practitioner, room) -> None:
    with webhook_receiver() as receiver:
        subscribe(receiver.url, ["session.cancelled"])
        subscribe(receiver.url, ["session.booked", "session.cancelled"], is_active=False)
        session = book(course, practitioner, room, TUESDAY_TEN)
        services.session_cancel(session=session, reason="patient_request", actor=None)
        webhooks.deliver_due()

    assert [json.loads(r.body)["type"] for r in receiver.received] == ["session.cancelled"]


def test_a_failing_receiver_is_retried_with_back_off_and_each_attempt_logged(clock, course, practitioner, room) -> None:
    with webhook_receiver(statuses=[500, 503]) as receiver:
        subscribe(receiver.url, ["session.booked"])
        book(course, practitioner, room, TUESDAY_TEN)
        delivery = WebhookDelivery.objects.get()

        webhooks.deliver_due()
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING
        first_wait = delivery.next_attempt_at - timezone.now()
        assert timedelta(seconds=50) < first_wait <= timedelta(minutes=1)
        assert webhooks.deliver_due() == 0, "not due again before the back-off"

        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        webhooks.deliver_due()
        delivery.refresh_from_db()
        second_wait = delivery.next_attempt_at - timezone.now()
        assert timedelta(minutes=4) < second_wait <= timedelta(minutes=5)

        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        webhooks.deliver_due()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    assert [a.status_code for a in delivery.attempt_log.all()] == [500, 503, 200]
    event_ids = {json.loads(r.body)["id"] for r in receiver.received}
    assert event_ids == {str(delivery.event_id)}, "a retry is the same event"


def test_a_delivery_gives_up_after_about_a_day(clock, course, practitioner, room) -> None:
    assert timedelta(hours=20) < sum(webhooks.RETRY_DELAYS, timedelta()) <= timedelta(hours=24)
    with webhook_receiver(statuses=[500] * 20) as receiver:
        subscribe(receiver.url, ["session.booked"])
        book(course, practitioner, room, TUESDAY_TEN)
        for _ in range(len(webhooks.RETRY_DELAYS) + 1):
            WebhookDelivery.objects.update(next_attempt_at=timezone.now())
            webhooks.deliver_due()

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == len(webhooks.RETRY_DELAYS) + 1 == len(receiver.received)


def test_an_unreachable_receiver_is_logged_as_an_error_and_retried(clock, course, practitioner, room) -> None:
    with webhook_receiver() as receiver:
        url = receiver.url
    subscribe(url, ["session.booked"])  # the receiver has stopped: connection refused
    book(course, practitioner, room, TUESDAY_TEN)

    webhooks.deliver_due()

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert "ConnectionError" in delivery.attempt_log.get().error


def test_a_red_flag_report_and_a_due_follow_up_raise_events(clock, course, practitioner, room) -> None:
    from aftercare.prompts import schedule_followup_prompts
    from aftercare.side_effects import side_effect_report_create

    subscribe("http://127.0.0.1:9/unused", ["side_effect.red_flag", "followup.due"])
    session = book(course, practitioner, room, datetime(2026, 3, 3, 10, tzinfo=LONDON))
    clock.move_to(session.ends_at)
    session = services.session_complete(session=session, actor=session.practitioner.user)
    report = side_effect_report_create(
        patient=course.patient,
        symptoms=["fever"],
        severity="moderate",
        onset_on=session.completed_at.date(),
        actor=None,
    )
    clock.move_to(datetime(2026, 3, 17, 10, 5, tzinfo=LONDON))
    schedule_followup_prompts()
    schedule_followup_prompts()

    events = sorted(WebhookDelivery.objects.values_list("event_type", "object_id"))
    assert events == sorted([("side_effect.red_flag", str(report.pk)), ("followup.due", str(course.pk))])


def test_nothing_is_written_for_an_event_nobody_subscribes_to() -> None:
    assert webhooks.webhook_emit(event_type="session.booked", object_id=PatientFactory().pk) == 0
    assert not WebhookDelivery.objects.exists()
    assert CourseFactory()  # the factories still work without subscriptions


# --- leases and lost claims -----------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 500], ids=["delivered", "to be retried"])
def test_an_outcome_written_after_the_claim_was_lost_does_not_overwrite_the_new_owner(
    clock, course, practitioner, room, status: int
) -> None:
    with webhook_receiver(statuses=[status]) as receiver:
        subscribe(receiver.url, ["session.booked"])
        book(course, practitioner, room, TUESDAY_TEN)
        [(delivery_id, claimed_at)] = webhooks.claim_due(now=timezone.now(), limit=10)
        stalled = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
        # This worker stalls past the lease; another recovers the delivery and claims it anew.
        clock.shift(webhooks.LEASE + timedelta(minutes=1))
        assert webhooks.recover_stale_claims() == 1
        [(_, second_claim)] = webhooks.claim_due(now=timezone.now(), limit=10)

        assert webhooks.attempt(stalled, claimed_at=claimed_at) is False

        row = WebhookDelivery.objects.get()
        assert (row.status, row.claimed_at, row.attempts) == (DeliveryStatus.SENDING, second_claim, 0)
        assert (row.delivered_at, row.next_attempt_at) == (None, stalled.next_attempt_at)
        # The POST did happen: it is logged, and it is the one duplicate a lost claim may cost.
        assert [attempt.status_code for attempt in row.attempt_log.all()] == [status]

        # The new owner's outcome is the one that counts.
        assert webhooks.attempt(row, claimed_at=second_claim) is True

    row.refresh_from_db()
    assert (row.status, row.attempts, row.claimed_at) == (DeliveryStatus.DELIVERED, 1, None)
    assert [json.loads(r.body)["id"] for r in receiver.received] == [str(row.event_id)] * 2


def test_deliveries_left_sending_past_the_lease_are_recovered_and_sent_but_live_claims_are_left_alone(
    clock,
) -> None:
    now = timezone.now()
    with webhook_receiver() as receiver:
        subscription = subscribe(receiver.url, ["session.booked"])

        def delivery(claimed_at: datetime) -> WebhookDelivery:
            return WebhookDelivery.objects.create(
                subscription=subscription,
                event_type="session.booked",
                object_id="a-session",
                occurred_at=now - timedelta(minutes=10),
                next_attempt_at=now - timedelta(minutes=10),
                status=DeliveryStatus.SENDING,
                claimed_at=claimed_at,
            )

        abandoned = delivery(now - webhooks.LEASE - timedelta(seconds=1))
        in_progress = delivery(now - webhooks.LEASE + timedelta(seconds=1))

        assert webhooks.deliver_due() == 1

    abandoned.refresh_from_db()
    assert (abandoned.status, abandoned.attempts, abandoned.delivered_at) == (DeliveryStatus.DELIVERED, 1, now)
    untouched = WebhookDelivery.objects.get(pk=in_progress.pk)
    assert (untouched.status, untouched.attempts) == (DeliveryStatus.SENDING, 0)
    assert untouched.claimed_at == now - webhooks.LEASE + timedelta(seconds=1)
    assert [json.loads(r.body)["id"] for r in receiver.received] == [str(abandoned.event_id)]


def test_staff_retry_a_failed_delivery_with_a_fresh_budget_and_leave_one_in_flight_alone(client, admin_user) -> None:
    subscription = subscribe("https://receiver.example/hooks", ["session.booked"])
    now = timezone.now()
    failed = WebhookDelivery.objects.create(
        subscription=subscription,
        event_type="session.booked",
        object_id="x",
        occurred_at=now,
        next_attempt_at=now - timedelta(days=1),
        status=DeliveryStatus.FAILED,
        attempts=8,
    )
    in_flight = WebhookDelivery.objects.create(
        subscription=subscription,
        event_type="session.booked",
        object_id="y",
        occurred_at=now,
        next_attempt_at=now,
        status=DeliveryStatus.SENDING,
        claimed_at=now,
        attempts=1,
    )
    client.force_login(admin_user)

    response = client.post(
        "/admin/integrations/webhookdelivery/",
        {"action": "retry_now", "_selected_action": [str(failed.pk), str(in_flight.pk)]},
        follow=True,
    )

    assert "Queued 1 delivery(ies)." in [str(m) for m in response.context["messages"]]
    failed.refresh_from_db()
    in_flight.refresh_from_db()
    assert (failed.status, failed.attempts) == (DeliveryStatus.PENDING, 0)
    assert failed.next_attempt_at >= now
    assert (in_flight.status, in_flight.claimed_at, in_flight.attempts) == (DeliveryStatus.SENDING, now, 1)
