"""A benchmark's result: one figure beside the limit measured in the same run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """`value` measured for the project, `limit` for the least work that gives the same answer, in `unit`.

    A unit ending in "/s" is a rate (more is better); any other (ms, MB,
    queries) is a cost (less is better).
    """

    name: str
    value: float
    limit: float
    unit: str
    note: str = ""

    @property
    def is_rate(self) -> bool:
        return self.unit.endswith("/s")

    @property
    def ratio(self) -> float:
        """How many times the limit this figure costs: 1.0 at the limit, 2.0 at half a rate or twice a time."""
        slower, faster = (self.limit, self.value) if self.is_rate else (self.value, self.limit)
        if faster == 0:
            return 0.0 if slower == 0 else float("inf")
        return slower / faster
