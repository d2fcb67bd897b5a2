"""Dispatch that scales out: the dispatcher as bounded chains of short runs.

Beat ticks once a minute, and a service that writes a due row wakes the
same task at once. A tick counts the backlog (up to what the chains could
take), takes as many chain slots as it needs (`clinic.chains`, at most
AFTERCARE_DISPATCH_CHAINS), enqueues a chain task for each slot but one,
and runs the first link itself. Each link sends batches for
AFTERCARE_DISPATCH_RUN_SECONDS, then, while due rows remain, enqueues the
next link of its chain (and starts more chains if the backlog outgrew
them); once nothing is due it gives its slot back. So a backlog is worked by
as many worker processes as there are chains, without pause between beat
ticks, and never by more than AFTERCARE_DISPATCH_CHAINS at once; a short
run keeps a worker free for other tasks every few seconds.

Every guarantee of the dispatcher itself (claims, leases, attempts, quiet
hours, consent) is `aftercare.dispatch`'s: chains only decide who runs it
and when. Redis being down stops the chains, not the sending: a run in
progress finishes, and the next beat tick starts again.
"""

from __future__ import annotations

import logging
import math

import redis
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError

from aftercare.dispatch import DispatchResult, dispatch_due, recover_stale_claims
from aftercare.models import MessageStatus, ScheduledMessage
from clinic.chains import ChainSlots, Slot
from clinic.queue import enqueue_now

logger = logging.getLogger(__name__)

CHAIN_TASK = "aftercare.tasks.dispatch_due_messages_chain"

DISPATCH_CHAINS = ChainSlots(
    name="aftercare-dispatch",
    size=lambda: settings.AFTERCARE_DISPATCH_CHAINS,
    # A slot outlives a worker that died holding it by the sending lease, as its claimed rows do.
    ttl_seconds=lambda: settings.AFTERCARE_SENDING_LEASE_SECONDS,
)


def due_backlog() -> int:
    """How many pending rows are due now, counted up to what all the chains' first batches would take."""
    ceiling = settings.AFTERCARE_DISPATCH_CHAINS * settings.AFTERCARE_BATCH_SIZE
    due = ScheduledMessage.objects.filter(status=MessageStatus.PENDING, due_at__lte=timezone.now()).order_by()
    return int(due[:ceiling].count())


def chains_wanted(backlog: int) -> int:
    """One chain per batch of the backlog, up to AFTERCARE_DISPATCH_CHAINS."""
    return min(settings.AFTERCARE_DISPATCH_CHAINS, math.ceil(backlog / settings.AFTERCARE_BATCH_SIZE))


def dispatch_tick(*, queue: str | None = None) -> DispatchResult:
    """Beat's tick and a service's wake-up: start chains for what is due, and run the first link here.

    Chains are enqueued on `queue` (the default queue when None). When every
    slot is taken the tick returns at once: the running chains will find
    the new rows. Without Redis it sends here, unchained, for one run.
    """
    recovered = recover_stale_claims()
    backlog = due_backlog()
    if not backlog:
        return DispatchResult(recovered=recovered)
    try:
        slots = DISPATCH_CHAINS.take(chains_wanted(backlog))
        for slot in slots[1:]:
            _enqueue_link(slot, queue)
    except (redis.RedisError, OperationalError) as exc:
        logger.warning("Redis unavailable (%s); dispatching here without chains", exc.__class__.__name__)
        return _run_once(recovered)
    if not slots:
        return DispatchResult(recovered=recovered)
    result = _run_link(slots[0], queue)
    result.recovered += recovered
    return result


def dispatch_chain_link(*, slot: Slot, queue: str | None = None) -> DispatchResult:
    """One later link of a chain: run if `slot` is still this chain's, else do nothing (a newer chain has it)."""
    try:
        still_ours = DISPATCH_CHAINS.keep(slot)
    except redis.RedisError as exc:
        logger.warning("Redis unavailable (%s); dispatch chain %d stops", exc.__class__.__name__, slot.number)
        return DispatchResult()
    if not still_ours:
        return DispatchResult()
    return _run_link(slot, queue)


def _run_once(recovered: int) -> DispatchResult:
    result = dispatch_due(time_budget_seconds=settings.AFTERCARE_DISPATCH_RUN_SECONDS)
    result.recovered += recovered
    return result


def _run_link(slot: Slot, queue: str | None) -> DispatchResult:
    """Send for one run, then pass the chain on while rows are due, or end it."""
    result = dispatch_due(time_budget_seconds=settings.AFTERCARE_DISPATCH_RUN_SECONDS)
    try:
        _carry_on(slot, queue)
    except (redis.RedisError, OperationalError) as exc:
        # The rows are the truth: what is still due waits for the next beat tick.
        logger.warning("broker unavailable (%s); dispatch chain %d stops", exc.__class__.__name__, slot.number)
    return result


def _carry_on(slot: Slot, queue: str | None) -> None:
    backlog = due_backlog()
    if backlog:
        _enqueue_link(slot, queue)
        # A backlog bigger than the chains now running: start more, up to the bound.
        missing = chains_wanted(backlog) - DISPATCH_CHAINS.held()
        for extra in DISPATCH_CHAINS.take(missing) if missing > 0 else []:
            _enqueue_link(extra, queue)
        return
    DISPATCH_CHAINS.give_back(slot)
    # A row that fell due between the count and the give-back was woken while
    # this slot was held, and that wake-up may have found every slot taken.
    if due_backlog():
        for again in DISPATCH_CHAINS.take(1):
            _enqueue_link(again, queue)


def _enqueue_link(slot: Slot, queue: str | None) -> None:
    """Enqueue the next link of the chain in `slot`; free the slot if the broker refuses it."""
    try:
        enqueue_now(CHAIN_TASK, kwargs={"slot_number": slot.number, "token": slot.token}, queue=queue)
    except OperationalError:
        DISPATCH_CHAINS.give_back(slot)
        raise
