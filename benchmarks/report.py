"""BENCHMARKS.md and the console lines from one `make bench` run: the machine, the versions, a table of figures
per scale (each beside its limit and its target), and how the costs grew from the smaller scale to the larger."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.figures import Figure


@dataclass
class ScaleResult:
    """What one scale of the run measured."""

    patients: int
    seed_summary: str  # seed_bench's last line: what it made, and in how long
    seed_phases: list[tuple[str, float]]
    seed_seconds: float
    seed_slowest_indexes: str  # the longest index and constraint builds, "name 12.3 s, ..."
    followup_check: str  # followup_check's verdict
    followup_check_seconds: float
    figures: list[Figure] = field(default_factory=list)


@dataclass(frozen=True)
class Machine:
    cores: int
    memory_gb: float
    cpu: str
    load: tuple[float, float, float]
    python: str
    django: str
    postgresql: str
    psycopg: str
    date: str

    @classmethod
    def now(cls, *, postgresql: str) -> Machine:
        import django
        import psycopg

        return cls(
            cores=os.cpu_count() or 0,
            memory_gb=_memory_gb(),
            cpu=_cpu_model(),
            load=os.getloadavg(),
            python=platform.python_version(),
            django=django.get_version(),
            postgresql=postgresql,
            psycopg=psycopg.__version__,
            date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )


def _memory_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def verdict(figure: Figure) -> str:
    met = figure.met
    return "" if met is None else ("met" if met else "**missed**")


def figure_line(figure: Figure) -> str:
    """One console line: the figure beside its limit and its target."""
    target = f"; target {figure.target.text(figure.unit)}: {verdict(figure).strip('*')}" if figure.target else ""
    return (
        f"{figure.name}: {number(figure.value)} {figure.unit}, limit {number(figure.limit)} "
        f"({figure.ratio:.2f}x){target}"
    )


def figures_table(figures: Sequence[Figure]) -> list[str]:
    lines = [
        "| operation | value | limit | ratio | target | | how |",
        "|---|--:|--:|--:|---|---|---|",
    ]
    for figure in figures:
        target = figure.target.text(figure.unit) if figure.target else ""
        lines.append(
            f"| {figure.name} | {number(figure.value)} {figure.unit} | {number(figure.limit)} {figure.unit} "
            f"| {figure.ratio:.2f}× | {target} | {verdict(figure)} | {figure.note} |"
        )
    return lines


def markdown(machine: Machine, results: Sequence[ScaleResult], dispatch: Sequence[Figure], *, smoke: bool) -> str:
    scales = " and ".join(f"{result.patients:,}" for result in results)
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (benchmarks/run.py) on {machine.date}{' (smoke run)' if smoke else ''}, "
        f"at {scales} patients. Figures, not tests: nothing here passes or fails a build.",
        "",
        "Each figure stands beside its **limit**, measured in the same run on the same database: for a read, a",
        "minimal hand-written SQL query returning the same rows, plus `json.dumps`; for booking, the least SQL",
        "that books (lock the course, read its sessions, insert the row); for dispatch, the same worker's rate",
        "for tasks that do nothing; for memory, the same worker after one round of requests. The **ratio** is how",
        "many times the limit's cost the project pays (for a rate: the limit's rate over the project's). The",
        "**targets** are issue 10's (at 100,000 patients). Requests go through Django's test client as the front",
        "desk (the whole request but the network); memory through a gunicorn worker over loopback with an API key.",
        "A page of N rows fetches N + 1 (to know whether another page follows), and so does its limit.",
        "Garbage is collected before each timed sample, untimed: a sample pays for its own garbage, not for a full",
        "collection of what the earlier samples left (a server's tail pays that too, now and then).",
        "The data set is `manage.py seed_bench --patients N` (frontdesk/chain_data.py says how it holds together).",
        "",
        "## Machine",
        "",
        "| cores | memory | CPU | load average when the run began (1, 5, 15 min) |",
        "|--:|--:|---|---|",
        f"| {machine.cores} | {machine.memory_gb:.0f} GB | {machine.cpu} | "
        + ", ".join(f"{load:.2f}" for load in machine.load)
        + " |",
        "",
        "The machine is shared: other work running at the same time slows the figures and their limits alike,",
        "which is why each figure is read beside its limit.",
        "",
        "## Versions",
        "",
        f"Python {machine.python}, Django {machine.django}, PostgreSQL {machine.postgresql}, "
        f"psycopg {machine.psycopg}.",
    ]
    for result in results:
        lines += [
            "",
            f"## {result.patients:,} patients",
            "",
            result.seed_summary,
            "",
            "| seed phase | seconds |",
            "|---|--:|",
            *(f"| {phase} | {seconds:.1f} |" for phase, seconds in result.seed_phases),
            f"| **total** | **{result.seed_seconds:.1f}** |",
            "",
            *(
                [f"Longest index builds (two at a time): {result.seed_slowest_indexes}.", ""]
                if result.seed_slowest_indexes
                else []
            ),
            f"`manage.py followup_check` afterwards ({result.followup_check_seconds:.0f} s): {result.followup_check}",
            "",
            *figures_table(result.figures),
        ]
    if dispatch:
        lines += [
            "",
            "## Dispatch",
            "",
            f"Run once, in the {results[-1].patients:,}-patient database after its other figures, with real Celery "
            "workers (benchmarks/dispatch.py).",
            "",
            *figures_table(dispatch),
        ]
    if len(results) >= 2:
        lines += ["", *cost_curve(results[0], results[-1])]
    return "\n".join(lines) + "\n"


def cost_curve(small: ScaleResult, large: ScaleResult) -> list[str]:
    """Each figure at the smaller and the larger scale, and how much it grew beside how much the data grew."""
    grew = large.patients / small.patients
    lines = [
        f"## Cost curve: {small.patients:,} → {large.patients:,} patients (the data {grew:g}× larger)",
        "",
        "A cost that follows the rows returned stays flat; one that follows the rows stored grows with the data.",
        "",
        f"| operation | at {small.patients:,} | at {large.patients:,} | grew | limit grew |",
        "|---|--:|--:|--:|--:|",
        f"| seed_bench | {small.seed_seconds:.0f} s | {large.seed_seconds:.0f} s "
        f"| {large.seed_seconds / small.seed_seconds:.1f}× | |",
    ]
    earlier = {figure.name: figure for figure in small.figures}
    for figure in large.figures:
        before = earlier.get(figure.name)
        if before is None:
            continue
        lines.append(
            f"| {figure.name} | {number(before.value)} {figure.unit} | {number(figure.value)} {figure.unit} "
            f"| {_growth(before.value, figure.value)} | {_growth(before.limit, figure.limit)} |"
        )
    return lines


def _growth(before: float, after: float) -> str:
    return f"{after / before:.1f}×" if before else "–"
