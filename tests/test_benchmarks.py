"""The benchmarks cannot rot: `benchmarks/run.py --smoke` runs every one of them at a tiny scale (a fresh
database, seed_bench, followup_check, the API's figures, gunicorn, dispatch with real Celery workers) and
writes its report. Figures are reported, never asserted: a slow machine fails nothing here."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from benchmarks.figures import Figure, Target
from tests.conftest import PROJECT_ROOT

FIGURES = (
    "GET /worklist/ page 1 (50 rows) p95",
    "GET /sessions/ a practitioner's month (100 rows) p95",
    'patient search "Smith" (100 rows) p95',
    "GET /availability/ one practitioner, 31 days p50",
    "GET /courses/ newest (100 rows) p95",
    "GET /messages/ outbox order (100 rows) p95",
    "POST /sessions/ booking p50",
    "POST /sessions/ booking, queries",
    "gunicorn worker memory (RSS)",
    "dispatch under beat, worker concurrency 2",
    "dispatch under beat, worker concurrency 4",
)


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_the_smoke_run_measures_every_figure_and_writes_the_report(tmp_path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    # A database of its own beside the test suite's (it is made, seeded and dropped by the run).
    environ = {**os.environ, "TEST_DATABASE_NAME": f"test_bench_smoke_{os.getpid()}"}

    result = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--smoke", "--output", str(report)],
        cwd=PROJECT_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=580,
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    text = report.read_text()
    assert "## Machine" in text and "## Versions" in text
    assert "## 300 patients" in text
    assert "No drift: 900 course(s) agree with their sessions." in text
    for name in FIGURES:
        assert f"| {name} |" in text, name
        assert name in result.stdout, name
    assert "| **total** |" in text


def test_a_figure_reads_beside_its_limit_and_target() -> None:
    fast = Figure(name="read", value=30, limit=10, unit="ms", target=Target(ratio=3))
    slow = Figure(name="read", value=31, limit=10, unit="ms", target=Target(ratio=3))
    rate = Figure(name="dispatch", value=60, limit=100, unit="messages/s", target=Target(ratio=2))
    capped = Figure(name="worklist", value=120, limit=10, unit="ms", target=Target(most=100))

    assert (fast.ratio, fast.met) == (3.0, True)
    assert (slow.met, rate.met, capped.met) == (False, True, False)
    assert rate.ratio == pytest.approx(100 / 60)
    assert Figure(name="plain", value=1, limit=1, unit="ms").met is None
    assert Target(most=100).text("ms") == "≤ 100 ms"
    assert Target(ratio=2).text("messages/s") == "≥ 50% of the limit"
