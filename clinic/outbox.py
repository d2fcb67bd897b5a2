"""Outbox rows, claimed and finished safely by any number of workers at once.

An outbox row is the truth about one outgoing thing (a message, a webhook
delivery); the broker only says when to look. A worker takes rows in three
steps, the same for every outbox:

- claim: a short transaction picks due pending rows with SELECT … FOR UPDATE
  SKIP LOCKED and marks them `sending` with a claim time. Rows another
  worker is claiming at that moment are skipped rather than waited for.
  Sending happens afterwards, outside any transaction: a slow receiver must
  not hold row locks.
- finish: the outcome is written by a conditional UPDATE that matches only
  while the row is still `sending` under this claim's time. A worker that
  stalled past the lease, and whose row was recovered and claimed again,
  writes nothing, so the new owner's outcome stands. `finish_many` does the
  same for a whole batch in a constant number of queries.
- recover: a worker that dies mid-batch leaves rows in `sending`. Once the
  lease has passed they go back to pending, so a crash costs at most one
  duplicate per row that was in flight.

The lease must be longer than one send can take (timeouts included), or a
live claim is recovered and its row sent twice.

This module knows field and status names, never the apps that use it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db import models, transaction
from django.db.models import Case, Q, Value, When
from django.utils import timezone

logger = logging.getLogger(__name__)


class Claim(NamedTuple):
    """One claimed row: its primary key, and the claim time that proves it is still ours."""

    pk: Any
    claimed_at: datetime


@dataclass(frozen=True)
class Outbox:
    """Where a model keeps its outbox state, and how long a claim may last.

    `lease` is called at each recovery, so it may read a setting that
    changes (or that a test overrides). `updated_field`, when set, is
    stamped on every write: queryset updates do not apply `auto_now`.
    """

    model: type[models.Model]
    due_field: str
    lease: Callable[[], timedelta]
    status_field: str = "status"
    pending: str = "pending"
    sending: str = "sending"
    claimed_field: str = "claimed_at"
    updated_field: str | None = None

    def claim(self, *, now: datetime, limit: int, **changes: Any) -> list[Claim]:
        """Claim up to `limit` pending rows due by `now`, earliest due first; return their claims.

        Each claimed row is `sending` with claim time `now`. `changes` are
        written in the same UPDATE (e.g. `attempts=F("attempts") + 1`); they
        cannot override the status or the claim time. Two workers claiming
        at once never get the same row.
        """
        with transaction.atomic():
            pks = list(
                self._rows()
                .select_for_update(skip_locked=True)
                .filter(**{self.status_field: self.pending, f"{self.due_field}__lte": now})
                .order_by(self.due_field)
                .values_list("pk", flat=True)[:limit]
            )
            if pks:
                # Still inside the transaction: the rows stay locked until they read `sending`.
                claimed = {**changes, self.status_field: self.sending, self.claimed_field: now}
                self._rows().filter(pk__in=pks).update(**self._stamped(now, claimed))
        return [Claim(pk, now) for pk in pks]

    def finish(self, claim: Claim, /, **changes: Any) -> bool:
        """Write `changes` if the row is still held by `claim`; return True if they were written.

        False means the claim was lost: the lease ran out, the row was
        recovered and perhaps claimed by another worker, which owns it now,
        so this outcome is dropped. `claim` is positional-only so that
        `changes` may name any field, the claim field included (set it to
        None when the row goes back to pending).
        """
        if not changes:
            raise ValueError("finish() needs the outcome to write")
        updated: int = (
            self._rows()
            .filter(**{"pk": claim.pk, self.status_field: self.sending, self.claimed_field: claim.claimed_at})
            .update(**self._stamped(timezone.now(), changes))
        )
        return updated == 1

    def finish_many(self, outcomes: Iterable[tuple[Claim, dict[str, Any]]]) -> set[Any]:
        """Write each claim's changes where its row is still held by that claim; return the pks written.

        `finish` for a batch: one short transaction locks the rows still
        held (one SELECT … FOR UPDATE), then writes them with one UPDATE per
        set of fields changed, a value that differs between rows becoming a
        CASE on the primary key. A pk missing from the answer lost its claim,
        as when `finish` returns False.
        """
        outcomes = list(outcomes)
        if not outcomes:
            return set()
        if not all(changes for _claim, changes in outcomes):
            raise ValueError("finish_many() needs an outcome to write for every claim")
        by_claim_time: defaultdict[datetime, list[Any]] = defaultdict(list)
        for claim, _changes in outcomes:
            by_claim_time[claim.claimed_at].append(claim.pk)
        still_ours = Q()
        for claimed_at, pks in by_claim_time.items():
            still_ours |= Q(pk__in=pks, **{self.claimed_field: claimed_at})
        now = timezone.now()
        with transaction.atomic():
            # Locked in key order, so two finishers never wait on each other in a circle.
            held = set(
                self._rows()
                .select_for_update()
                .filter(still_ours, **{self.status_field: self.sending})
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            by_fields: defaultdict[tuple[str, ...], list[tuple[Any, dict[str, Any]]]] = defaultdict(list)
            for claim, changes in outcomes:
                if claim.pk in held:
                    by_fields[tuple(sorted(changes))].append((claim.pk, changes))
            for fields, rows in by_fields.items():
                update = {name: self._value_per_row(name, rows) for name in fields}
                self._rows().filter(pk__in=[pk for pk, _changes in rows]).update(**self._stamped(now, update))
        return held

    def _value_per_row(self, name: str, rows: list[tuple[Any, dict[str, Any]]]) -> Any:
        """The value to write into field `name`: itself if every row gets the same, else a CASE on the pk."""
        first = rows[0][1][name]
        if all(changes[name] == first for _pk, changes in rows):
            return first
        field = self.model._meta.get_field(name)
        whens = [
            When(
                pk=pk,
                then=changes[name] if hasattr(changes[name], "resolve_expression") else Value(changes[name], field),
            )
            for pk, changes in rows
        ]
        return Case(*whens, output_field=field)

    def recover_stale_claims(self, *, now: datetime) -> int:
        """Put rows left `sending` under a claim older than the lease back to pending; return how many.

        Their claim time is cleared, so a worker that was only slow, not
        dead, finds its finish refused when it comes back. Rows in any other
        status keep their claim time: it records when they were last taken.
        """
        cutoff = now - self.lease()
        recovered: int = (
            self._rows()
            .filter(**{self.status_field: self.sending, f"{self.claimed_field}__lt": cutoff})
            .update(**self._stamped(now, {self.status_field: self.pending, self.claimed_field: None}))
        )
        if recovered:
            logger.warning("recovered %d %s rows whose worker vanished", recovered, self.model._meta.label)
        return recovered

    def _rows(self) -> Any:
        return self.model._default_manager.all()

    def _stamped(self, now: datetime, changes: dict[str, Any]) -> dict[str, Any]:
        if self.updated_field is None:
            return changes
        return {self.updated_field: now, **changes}
