"""Recompute every course's follow-up state from its sessions and report any stored row that drifted.

    manage.py followup_check          # report; exit status 1 when something drifted
    manage.py followup_check --fix    # and store the recomputed state of the drifted courses

The stored state (treatments.models.FollowupState) is kept on write by the
session-event door; this is the check that it agrees with its definition
(treatments.followup), to run after a restore, a manual SQL fix or a deploy
that changed the definition.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from treatments.followup import followup_drift, followup_refresh
from treatments.models import Course

SHOWN = 20


class Command(BaseCommand):
    help = "Compare each course's stored follow-up state with its sessions; --fix stores the recomputed state."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fix", action="store_true", help="Store the recomputed state of drifted courses.")
        parser.add_argument("--batch-size", type=int, default=2000, help="Courses read per query.")

    def handle(self, *args: Any, fix: bool, batch_size: int, **options: Any) -> None:
        drifted: dict[Any, list[str]] = {}
        for drift in followup_drift(batch_size=batch_size):
            drifted.setdefault(drift.course_id, []).append(
                f"{drift.field}: stored {drift.stored!r}, sessions say {drift.computed!r}"
            )
        checked = Course.objects.count()
        if not drifted:
            self.stdout.write(f"No drift: {checked} course(s) agree with their sessions.")
            return
        for course_id, problems in list(drifted.items())[:SHOWN]:
            self.stdout.write(f"course {course_id}: " + "; ".join(problems))
        if len(drifted) > SHOWN:
            self.stdout.write(f"... and {len(drifted) - SHOWN} more")
        if not fix:
            raise CommandError(f"{len(drifted)} of {checked} course(s) drifted; run with --fix to repair them.")
        with transaction.atomic():
            # Lock the courses as every session change does, so no booking races the repair.
            ids = list(Course.objects.select_for_update().filter(pk__in=list(drifted)).values_list("pk", flat=True))
            fixed = followup_refresh(ids)
        self.stdout.write(self.style.SUCCESS(f"Fixed {fixed} drifted course(s)."))
