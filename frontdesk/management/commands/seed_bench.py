"""Fill the database with a clinic chain for the benchmarks, in proportion to its patients.

    manage.py seed_bench --patients 100000          # into a database with no patients
    manage.py seed_bench --patients 2000 --force   # on top of what is there

Per 20,000 patients: 5 locations, 40 practitioners with their rooms and
opening hours, about 60,000 courses, 200,000 sessions and 600,000 messages,
with each course's follow-up state (frontdesk.chain_data says how the data
hold together). Rows go in with COPY while the tables' secondary indexes
are dropped, then the indexes are built once (frontdesk.bulk_load). The
time of each phase is printed. `manage.py followup_check` finds no drift
afterwards.

It refuses a database that already has patients unless --force: it is for
throwaway databases (`make bench` makes its own).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from frontdesk import bulk_load
from frontdesk.chain_data import COLUMNS, LOADED_MODELS, ChainGenerator, ChainScale, create_chain, unfilled_columns
from patients.models import Patient

# Processes making up rows while this one copies them in (the machines this runs on have two cores or more).
WORKERS = 2


class Command(BaseCommand):
    help = "Fill a throwaway database with a clinic chain of --patients patients, for the benchmarks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, required=True, help="How many patients; the rest follows.")
        parser.add_argument("--seed", type=int, default=1, help="The same seed makes the same chain.")
        parser.add_argument(
            "--force", action="store_true", help="Add to a database that already has patients (not a throwaway one)."
        )

    def handle(self, *args: Any, patients: int, seed: int, force: bool, **options: Any) -> None:
        if patients < 1:
            raise CommandError("--patients must be at least 1.")
        if Patient.objects.exists() and not force:
            raise CommandError(
                "This database already has patients: seed_bench is for a throwaway database. "
                "Use --force to add a chain to it anyway."
            )
        gaps = unfilled_columns()
        if gaps:
            raise CommandError(f"seed_bench does not fill these columns (frontdesk.chain_data.COLUMNS): {gaps}")
        scale = ChainScale(patients=patients)
        clock = bulk_load.Stopwatch()
        load = bulk_load.BulkLoad(LOADED_MODELS)
        with transaction.atomic():
            chain = create_chain(scale=scale, tag=secrets.token_hex(3))
            self._report(clock, "locations, rooms, practitioners")
            frozen = bulk_load.truncate_if_empty(LOADED_MODELS)
            if bulk_load.is_superuser():
                bulk_load.skip_foreign_key_checks()
            load.begin()
            self._report(clock, f"secondary indexes dropped ({len(load.deferred)})")
            now = timezone.now()
            workers = min(WORKERS, scale.locations)

            def produce(share: int, shares: int) -> Iterator[dict[type[Model], list[tuple[Any, ...]]]]:
                generator = ChainGenerator(chain=chain, scale=scale, seed=seed, now=now, share=(share, shares))
                return generator.chunks()

            copied = bulk_load.copy_from_workers(produce, COLUMNS, workers=workers, freeze=frozen)
            counts = copied.counts
            self._report(
                clock,
                f"rows made up by {workers} worker(s) (follow-up states included) and copied"
                + (" (FREEZE)" if frozen else "")
                + f" (copying {copied.copying_seconds:.0f} s, waiting for rows {copied.waiting_seconds:.0f} s)",
            )
        self._report(clock, "commit")
        load.rebuild()
        self._report(clock, "indexes and constraints built")
        if options["verbosity"] > 1:
            slowest = sorted(load.build_seconds.items(), key=lambda item: item[1], reverse=True)[:12]
            self._line("  slowest: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in slowest))
        bulk_load.analyze(LOADED_MODELS)
        self._report(clock, "analyze")
        total = sum(clock.phases.values())
        made = ", ".join(f"{count:,} {model._meta.verbose_name_plural}" for model, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Seeded {made} in {total:.1f} s."))

    def _report(self, clock: bulk_load.Stopwatch, phase: str) -> None:
        self._line(f"{phase}: {clock.lap(phase):.1f} s")

    def _line(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()
