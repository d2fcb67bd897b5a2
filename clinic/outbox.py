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

from django.db import connections, models, router, transaction
from django.db.models import Q
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
        held (one SELECT … FOR UPDATE), then writes them with one UPDATE
        per set of fields changed (`_write_group`). A pk missing from the answer lost its claim,
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
            for rows in by_fields.values():
                self._write_group(rows, now)
        return held

    def _write_group(self, rows: list[tuple[Any, dict[str, Any]]], now: datetime) -> None:
        """Write rows that change the same fields, in one UPDATE (check constraints see each row whole).

        What every row gets alike goes in as one value; what is each row's
        own (a provider's id, a send time) as arrays unnested beside the
        primary keys, so the statement does not grow SQL per row. A query
        expression that differs from row to row cannot go into an array:
        such rows, never the dispatcher's, are written one at a time.
        """
        pks = [pk for pk, _changes in rows]
        first = rows[0][1]
        shared = {name: value for name, value in first.items() if all(changes[name] == value for _pk, changes in rows)}
        own = [name for name in first if name not in shared]
        if not own:
            self._rows().filter(pk__in=pks).update(**self._stamped(now, shared))
        elif any(hasattr(value, "resolve_expression") for _pk, changes in rows for value in changes.values()):
            for pk, changes in rows:
                self._rows().filter(pk=pk).update(**self._stamped(now, changes))
        else:
            own_values = {name: [changes[name] for _pk, changes in rows] for name in own}
            self._update_from_arrays(pks, shared=self._stamped(now, shared), own=own_values)

    def _update_from_arrays(self, pks: list[Any], *, shared: dict[str, Any], own: dict[str, list[Any]]) -> None:
        """One UPDATE: all rows in `pks` get the `shared` values, row `pks[i]` gets `own[name][i]` for each name."""
        meta = self.model._meta
        connection = connections[router.db_for_write(self.model)]
        quote = connection.ops.quote_name

        def column(name: str) -> models.Field[Any, Any]:
            field = meta.get_field(name)
            assert isinstance(field, models.Field)  # noqa: S101 - a concrete column, not a relation's reverse side
            return field

        def quoted(field: models.Field[Any, Any]) -> str:
            assert field.column is not None  # noqa: S101 - set on every concrete field
            return quote(field.column)

        pk_field = meta.pk
        assert pk_field is not None  # noqa: S101 - every concrete model has one
        shared_fields = [(column(name), value) for name, value in shared.items()]
        own_fields = [(column(name), values) for name, values in own.items()]
        assignments = [f"{quoted(field)} = %s" for field, _value in shared_fields]
        assignments += [f"{quoted(field)} = given.{quoted(field)}" for field, _values in own_fields]
        arrays = [pk_field, *(field for field, _values in own_fields)]
        key = quoted(pk_field)
        sql = (
            f"UPDATE {quote(meta.db_table)} AS target SET {', '.join(assignments)} "  # noqa: S608 - names from the model, values as parameters
            f"FROM unnest({', '.join(f'%s::{field.db_type(connection)}[]' for field in arrays)}) "
            f"AS given({', '.join(quoted(field) for field in arrays)}) WHERE target.{key} = given.{key}"
        )
        params: list[Any] = [field.get_db_prep_value(value, connection) for field, value in shared_fields]
        params.append([pk_field.get_db_prep_value(pk, connection) for pk in pks])
        params += [[field.get_db_prep_value(value, connection) for value in values] for field, values in own_fields]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

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
