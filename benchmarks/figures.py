"""A benchmark's result: one figure beside the limit measured in the same run, and the target it should meet."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """What a figure should reach: at most `most` in its unit (at least, for a rate), or at most `ratio` times
    its limit's cost (for a rate: at least 1/`ratio` of the limit's rate). Either or both."""

    most: float | None = None
    ratio: float | None = None

    def met_by(self, figure: Figure) -> bool:
        if self.most is not None:
            if figure.is_rate and figure.value < self.most:
                return False
            if not figure.is_rate and figure.value > self.most:
                return False
        return self.ratio is None or figure.ratio <= self.ratio

    def text(self, unit: str) -> str:
        parts = []
        if self.most is not None:
            parts.append(f"{'≥' if unit.endswith('/s') else '≤'} {self.most:g} {unit}")
        if self.ratio is not None:
            parts.append(f"≥ {100 / self.ratio:g}% of the limit" if unit.endswith("/s") else f"≤ {self.ratio:g}× limit")
        return ", ".join(parts)


@dataclass(frozen=True)
class Figure:
    """`value` measured for the project, `limit` for the least work that gives the same answer, in `unit`.

    A unit ending in "/s" is a rate (more is better); any other (ms, MB,
    queries) is a cost (less is better). `target`, when there is one, is
    what the project aims for (issue 10); benchmarks report it, never assert it.
    """

    name: str
    value: float
    limit: float
    unit: str
    note: str = ""
    target: Target | None = None

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

    @property
    def met(self) -> bool | None:
        """Whether the target is met; None without a target."""
        return None if self.target is None else self.target.met_by(self)
