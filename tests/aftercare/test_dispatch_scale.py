"""Dispatch that scales out: batches read in a constant number of queries, and
bounded chains that pass themselves on while rows are due and end when none are.

The chain tests play the worker themselves: they take each task message the
dispatcher put on a queue of its own in the real Redis, and run it. The
benchmark test starts real workers.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aftercare.dispatch import dispatch_due
from aftercare.dispatch_chains import CHAIN_TASK, DISPATCH_CHAINS, dispatch_chain_link, dispatch_tick
from aftercare.models import Channel, MessageKind, MessageStatus, ScheduledMessage, SuppressionReason
from aftercare.tasks import dispatch_due_messages
from clinic.celery import app
from clinic.chains import ChainSlots, Slot
from patients.models import ContactChannel
from tests.aftercare.dispatch_helpers import recorded_ids
from tests.aftercare.test_dispatch import consenting, sms_patient
from tests.factories import PatientFactory, ScheduledMessageFactory


@pytest.fixture
def chain_slots() -> Iterator[None]:
    """Every dispatch chain slot free before and after the test (they live in Redis, not the database)."""
    DISPATCH_CHAINS.release_all()
    yield
    DISPATCH_CHAINS.release_all()


@pytest.fixture
def chain_queue(chain_slots) -> Iterator[str]:
    """A queue of this test's own in the real Redis, emptied afterwards."""
    name = f"test-chains-{uuid.uuid4().hex[:8]}"
    yield name
    with app.connection_for_write() as broker:
        broker.default_channel.client.delete(name)


def take_tasks(queue: str) -> list[tuple[str, dict[str, Any]]]:
    """Take every task message waiting on `queue`: (task name, kwargs), oldest first.

    Celery keeps a Redis queue as a list (pushed on the left, taken from the
    right), each item a JSON envelope around the base64 task body.
    """
    taken = []
    with app.connection_for_read() as broker:
        client = broker.default_channel.client
        while (item := client.rpop(queue)) is not None:
            envelope = json.loads(item)
            _args, kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
            taken.append((envelope["headers"]["task"], kwargs))
    return taken


def due_sms(count: int) -> list[ScheduledMessage]:
    patient = sms_patient()
    due_at = timezone.now() - timedelta(minutes=1)
    return [ScheduledMessageFactory(patient=patient, due_at=due_at) for _ in range(count)]


# --- constant queries per batch ---------------------------------------------------------------


def a_batch_of(size: int) -> None:
    """`size` due rows, a mix of what a batch meets: consenting patients by SMS and email, a patient
    without consent, a patient without a phone, and a red-flag alert to a clinician."""
    due_at = timezone.now() - timedelta(minutes=1)
    for n in range(size):
        kind = n % 5
        if kind == 0:
            ScheduledMessageFactory(patient=sms_patient(phone=f"+4477009{n:05d}"), due_at=due_at)
        elif kind == 1:
            patient = consenting(email=f"p{n}@patients.example", preferred_channel=ContactChannel.EMAIL)
            ScheduledMessageFactory(patient=patient, channel=Channel.EMAIL, due_at=due_at)
        elif kind == 2:
            ScheduledMessageFactory(patient=PatientFactory(preferred_channel=ContactChannel.SMS), due_at=due_at)
        elif kind == 3:
            ScheduledMessageFactory(patient=sms_patient(phone=""), due_at=due_at)
        else:
            ScheduledMessageFactory(
                patient=PatientFactory(),
                kind=MessageKind.RED_FLAG_ALERT,
                channel=Channel.EMAIL,
                to_address="dr.evans@clinic.example",
                due_at=due_at,
            )


def queries_to_dispatch_one_batch(size: int) -> int:
    a_batch_of(size)
    with CaptureQueriesContext(connection) as queries:
        result = dispatch_due(batch_size=size)
    assert result.claimed == size
    # Every row reached its outcome: 3 of each 5 sent, 2 suppressed.
    assert (result.sent, result.suppressed) == (size * 3 // 5, size * 2 // 5)
    assert not ScheduledMessage.objects.filter(status__in=[MessageStatus.PENDING, MessageStatus.SENDING]).exists()
    # The test's own transaction makes each atomic block a savepoint; those are not reads or writes.
    return sum(1 for query in queries.captured_queries if "SAVEPOINT" not in query["sql"])


def test_a_batch_reads_rows_patients_and_consents_in_the_same_queries_whatever_its_size(
    dispatch_clock, provider
) -> None:
    small = queries_to_dispatch_one_batch(5)
    ScheduledMessage.objects.all().delete()
    large = queries_to_dispatch_one_batch(50)

    assert small == large
    # Recover, claim (lock, mark), read rows with patients, read consents, write outcomes
    # (lock, one update each for sent and suppressed), and the claim that finds nothing more.
    assert large <= 10


def test_a_batch_holds_every_rule_a_row_at_a_time_did(dispatch_clock, provider) -> None:
    a_batch_of(5)
    dispatch_due(batch_size=5)

    outcomes = sorted(ScheduledMessage.objects.values_list("kind", "channel", "status", "suppressed_reason"))
    assert outcomes == sorted(
        [
            (MessageKind.AFTERCARE, Channel.SMS, MessageStatus.SENT, ""),
            (MessageKind.AFTERCARE, Channel.EMAIL, MessageStatus.SENT, ""),
            (MessageKind.AFTERCARE, Channel.SMS, MessageStatus.SUPPRESSED, SuppressionReason.NO_CONSENT),
            (MessageKind.AFTERCARE, Channel.SMS, MessageStatus.SUPPRESSED, SuppressionReason.NO_CONTACT),
            (MessageKind.RED_FLAG_ALERT, Channel.EMAIL, MessageStatus.SENT, ""),
        ]
    )
    # Each sent row got its own provider id, address and send time.
    sent = ScheduledMessage.objects.filter(status=MessageStatus.SENT)
    assert len({row.provider_message_id for row in sent}) == 3
    assert all(row.sent_at == timezone.now() and row.to_address for row in sent)


# --- chains ------------------------------------------------------------------------------------


def run_chain_links(queue: str) -> list[int]:
    """Be the worker: run each chain link waiting on `queue`, and the links they enqueue, until none is left.

    Return how many rows each link sent, in order.
    """
    sent = []
    while waiting := take_tasks(queue):
        for task, kwargs in waiting:
            assert task == CHAIN_TASK
            slot = Slot(kwargs["slot_number"], kwargs["token"])
            assert DISPATCH_CHAINS.held() <= 3
            sent.append(dispatch_chain_link(slot=slot, queue=queue).sent)
    return sent


def test_the_tick_starts_chains_that_pass_themselves_on_while_rows_are_due_and_end_when_none_are(
    dispatch_clock, provider, settings, chain_queue: str
) -> None:
    settings.AFTERCARE_BATCH_SIZE = 10
    settings.AFTERCARE_DISPATCH_CHAINS = 3
    settings.AFTERCARE_DISPATCH_RUN_SECONDS = 0  # one batch a link, so the chain must pass itself on
    messages = due_sms(65)

    tick = dispatch_tick(queue=chain_queue)

    assert tick.sent == 10
    # 65 due: as many chains as the bound allows; the tick ran the first link itself.
    assert DISPATCH_CHAINS.held() == 3
    sent_by_links = run_chain_links(chain_queue)

    assert sum(sent_by_links) == 55
    assert max(sent_by_links) == 10
    # Once nothing was due, each chain gave its slot back and enqueued nothing more.
    assert DISPATCH_CHAINS.held() == 0
    assert take_tasks(chain_queue) == []
    assert sorted(recorded_ids(provider)) == sorted(str(message.pk) for message in messages)
    assert ScheduledMessage.objects.filter(status=MessageStatus.SENT).count() == 65


def test_a_tick_with_nothing_due_starts_no_chain(dispatch_clock, provider, chain_queue: str) -> None:
    ScheduledMessageFactory(patient=sms_patient(), due_at=timezone.now() + timedelta(hours=1))

    result = dispatch_tick(queue=chain_queue)

    assert result.claimed == 0
    assert DISPATCH_CHAINS.held() == 0
    assert take_tasks(chain_queue) == []


def test_while_every_chain_runs_a_tick_neither_sends_nor_starts_another(
    dispatch_clock, provider, settings, chain_queue: str
) -> None:
    settings.AFTERCARE_BATCH_SIZE = 10
    settings.AFTERCARE_DISPATCH_CHAINS = 2
    settings.AFTERCARE_DISPATCH_RUN_SECONDS = 0
    due_sms(50)
    assert dispatch_tick(queue=chain_queue).sent == 10
    assert DISPATCH_CHAINS.held() == 2

    # Beat ticks again, and a service wakes the dispatcher, while both chains are still going.
    assert dispatch_tick(queue=chain_queue).claimed == 0
    assert dispatch_due_messages.apply(kwargs={}).get() == {"claimed": 0, "sent": 0, "failed": 0}

    assert DISPATCH_CHAINS.held() == 2
    # One link waiting per chain: the one the tick enqueued, and the next link of the one it ran.
    assert len(take_tasks(chain_queue)) == 2


def test_a_link_whose_slot_went_to_a_newer_chain_does_nothing(
    dispatch_clock, provider, settings, chain_queue: str
) -> None:
    settings.AFTERCARE_DISPATCH_CHAINS = 1
    due_sms(3)
    stale = Slot(0, "token-of-a-chain-whose-slot-expired")
    [newer] = DISPATCH_CHAINS.take(1)

    result = dispatch_chain_link(slot=stale, queue=chain_queue)

    assert (result.claimed, result.sent) == (0, 0)
    assert DISPATCH_CHAINS.keep(newer)
    assert take_tasks(chain_queue) == []
    assert ScheduledMessage.objects.filter(status=MessageStatus.PENDING).count() == 3


def test_without_redis_for_the_slots_the_tick_still_sends(dispatch_clock, provider, monkeypatch) -> None:
    import redis

    def redis_down(self: ChainSlots, count: int) -> list[Slot]:
        raise redis.ConnectionError("Connection refused")

    # Redis itself is real; only the slots' answer is replaced, as if it had gone away.
    monkeypatch.setattr(ChainSlots, "take", redis_down)
    due_sms(3)

    assert dispatch_due_messages() == {"claimed": 3, "sent": 3, "failed": 0}


# --- the benchmark, with real workers ---------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.timeout(180)
@pytest.mark.django_db(transaction=True)
def test_the_dispatch_benchmark_runs_real_workers_at_concurrency_2_and_4(chain_slots) -> None:
    from benchmarks.dispatch import run

    figures = run(smoke=True)

    assert [figure.name for figure in figures] == [
        "dispatch under beat, worker concurrency 2",
        "dispatch under beat, worker concurrency 4",
    ]
    for figure in figures:
        assert figure.value > 0 and figure.limit > 0, figure
        assert figure.unit == "messages/s"
        assert "not sent" not in figure.note, figure.note
        assert figure.ratio == pytest.approx(figure.limit / figure.value)
    assert ScheduledMessage.objects.filter(status=MessageStatus.SENT).count() == 2 * 200
