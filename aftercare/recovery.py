"""The recovery timeline after a session (product spec §1), as pure rules.

Five phases, counted in whole local days from the session: the first 24–48
hours, days 3–7 (early recovery), weeks 1–2 (first results), weeks 3–6
(collagen peak) and month 1+ (full effect, plan maintenance). Where the
spec's names overlap (weeks 3–6 and month 1+), a day belongs to the earlier
phase (day 7 is early recovery's last day; month 1+ begins when week 6 ends). Day 0 is the session's own day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Phase:
    code: str
    name: Promise
    summary: Promise
    first_day: int
    last_day: int | None  # None: open-ended

    def dates(self, session_day: date) -> tuple[date, date | None]:
        """The local dates this phase spans after a session on `session_day`."""
        last = session_day + timedelta(days=self.last_day) if self.last_day is not None else None
        return session_day + timedelta(days=self.first_day), last


PHASES = (
    Phase("first-48-hours", _("First 24–48 hours"), _("Immediate care"), 0, 2),
    Phase("days-3-7", _("Days 3–7"), _("Early recovery: dryness and tightness are possible"), 3, 7),
    Phase("weeks-1-2", _("Weeks 1–2"), _("First results show after 1–2 weeks"), 8, 14),
    Phase(
        "weeks-3-6",
        _("Weeks 3–6"),
        _("Collagen peaks and the skin keeps improving; the optimal result shows after 4–6 weeks"),
        15,
        42,
    ),
    Phase("month-1-plus", _("Month 1 and after"), _("Full effect; plan your maintenance"), 43, None),
)


def phase_index(days_since: int) -> int:
    """The phase (index into PHASES) of the day `days_since` days after the session (0: its day)."""
    for index, phase in enumerate(PHASES):
        if phase.last_day is None or days_since <= phase.last_day:
            return index
    return len(PHASES) - 1
