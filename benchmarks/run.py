"""`make bench`: the project's benchmarks at chain scale, each figure beside its limit, written to BENCHMARKS.md.

    python benchmarks/run.py                          # 10,000 and 100,000 patients -> BENCHMARKS.md
    python benchmarks/run.py --patients 20000         # one scale
    python benchmarks/run.py --smoke                  # a tiny chain, in seconds; writes a temporary file

For each scale: a fresh throwaway database (migrated, like the test
suite's), `manage.py seed_bench --patients N` (its phases timed),
`manage.py followup_check` (the stored follow-up states agree with the
sessions), then the API's figures (benchmarks/endpoints.py). The dispatch
benchmark (benchmarks/dispatch.py: real Celery workers at concurrency 2 and
4) runs once, in the last scale's database. Each figure is printed beside
its limit and its target; the report (machine, versions, date, a table per
scale, the cost curve between the scales) goes to BENCHMARKS.md, or with
--smoke to a temporary file (--output names another).

Run it under `python -m devenv exec` (as `make bench` does) or with
DATABASE_URL and REDIS_URL set; the requests run with DEBUG off, as in production.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.report import ScaleResult  # noqa: E402

SMOKE_PATIENTS = 300
PHASE_LINE = re.compile(r"^(?P<phase>.+): (?P<seconds>[0-9.]+) s$")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[10_000, 100_000], help="the scales, in patients")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_PATIENTS} patients and a few samples of each")
    parser.add_argument("--output", type=Path, help="where the report goes (default: BENCHMARKS.md, or a temp file)")
    args = parser.parse_args(argv)
    scales = [SMOKE_PATIENTS] if args.smoke else args.patients
    output = args.output or (
        Path(tempfile.mkdtemp(prefix="bench-")) / "BENCHMARKS.md" if args.smoke else PROJECT_ROOT / "BENCHMARKS.md"
    )
    sms_folder = tempfile.mkdtemp(prefix="bench-sms-")
    # The requests are measured as production serves them: DEBUG off (no query log, HTTPS assumed).
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "clinic.settings",
            "DJANGO_DEBUG": "false",
            "SMS_BACKEND": "aftercare.channels.sms.FileSmsTransport",
            "SMS_FILE_PATH": sms_folder,
        }
    )
    import django

    django.setup()
    from django.db import connection

    from benchmarks import dispatch, endpoints
    from benchmarks.report import Machine, figure_line, markdown

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        row = cursor.fetchone()
    machine = Machine.now(postgresql=row[0] if row else "?")
    results: list[ScaleResult] = []
    dispatch_figures = []
    for position, patients in enumerate(scales):
        print(f"\n== {patients:,} patients ==", flush=True)
        with throwaway_database():
            result = seed(patients)
            result.figures = endpoints.run(smoke=args.smoke)
            for figure in result.figures:
                print(figure_line(figure), flush=True)
            if position == len(scales) - 1:
                dispatch_figures = dispatch.run(smoke=args.smoke)
                for figure in dispatch_figures:
                    print(figure_line(figure), flush=True)
        results.append(result)
    output.write_text(markdown(machine, results, dispatch_figures, smoke=args.smoke))
    print(f"\nWritten to {output}")
    return 0


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A fresh, migrated database for one scale (TEST_DATABASE_NAME, else test_<name>), dropped afterwards."""
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    began = time.perf_counter()
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False, keepdb=False)
    print(f"database {name} migrated in {time.perf_counter() - began:.0f} s", flush=True)
    try:
        yield name
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def seed(patients: int) -> ScaleResult:
    """Run seed_bench and followup_check on the current database, as their own processes."""
    from benchmarks.dispatch import database_url

    environ = {**os.environ, "DATABASE_URL": database_url()}
    seeding = _manage(["seed_bench", "--patients", str(patients), "--verbosity", "2"], environ)
    phases = []
    slowest = ""
    for line in seeding.splitlines()[:-1]:
        match = PHASE_LINE.match(line.strip())
        if match:
            phases.append((match["phase"], float(match["seconds"])))
        elif line.strip().startswith("slowest:"):
            slowest = ", ".join(line.strip().removeprefix("slowest:").strip().split(", ")[:6])
    began = time.perf_counter()
    check = _manage(["followup_check"], environ).strip().splitlines()[-1]
    checked_in = time.perf_counter() - began
    print(check, f"({checked_in:.0f} s)", flush=True)
    return ScaleResult(
        patients=patients,
        seed_summary=seeding.strip().splitlines()[-1],
        seed_phases=phases,
        seed_seconds=sum(seconds for _, seconds in phases),
        seed_slowest_indexes=slowest,
        followup_check=check,
        followup_check_seconds=checked_in,
    )


def _manage(arguments: list[str], environ: dict[str, str]) -> str:
    """Run a management command (its output shown as it goes); its output, or SystemExit if it fails."""
    # --skip-checks: with DEBUG off, the file and console transports of a development machine fail the checks.
    command = [sys.executable, "manage.py", *arguments, "--skip-checks"]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        command, cwd=PROJECT_ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None  # noqa: S101 - stdout=PIPE
    lines = []
    for line in process.stdout:
        print(f"  {line}", end="", flush=True)
        lines.append(line)
    if process.wait() != 0:
        raise SystemExit(f"manage.py {' '.join(arguments)} failed ({process.returncode})")
    return "".join(lines)


if __name__ == "__main__":
    sys.exit(main())
