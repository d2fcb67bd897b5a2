"""Load: gunicorn with 2 workers under mixed booking-software traffic for 60 s, then the database is checked.

    make load                      (python reliability/load.py [--seconds 60] [--clients 8] [--patients 300])

Builds a throwaway database beside the configured one (like the test suite),
seeds a clinic (reliability.scene), starts gunicorn with the project's
gunicorn.conf.py and DEBUG off on a free loopback port, and drives it from
client threads through API keys (reliability.traffic). Prints requests/s,
latency percentiles and status counts per operation, then checks the
bookings in SQL (reliability.integrity). Exits 1 on any 5xx, any request
without an answer, a read refused (every read it sends is well formed), or
any integrity finding.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from reliability.integrity import Integrity  # noqa: E402
from reliability.scene import Clinic  # noqa: E402
from reliability.traffic import Sample, TrafficResult  # noqa: E402


@dataclass
class LoadRun:
    clinic: Clinic
    clients: int
    workers: int
    result: TrafficResult
    warm_up: TrafficResult
    checked: Integrity
    server_log: str
    load_average: tuple[float, float]  # the machine's 1-minute load average before and after
    findings: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> list[Sample]:
        return [s for s in self.warm_up.samples + self.result.samples if s.status is not None and s.status >= 500]

    @property
    def unanswered(self) -> list[Sample]:
        return [s for s in self.warm_up.samples + self.result.samples if s.status is None]


def run(*, seconds: float, clients: int, patients: int, workers: int = 2) -> LoadRun:
    """Seed a clinic in the current database, load gunicorn for `seconds`, check the bookings."""
    from devenv.servers import free_port
    from reliability import integrity, report, scene, traffic, web

    clinic = scene.clinic_build(patients=patients)
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="load-") as folder:
        log = Path(folder) / "gunicorn.log"
        with web.gunicorn(port=free_port(), workers=workers, environ=web.production_environ(), log=log) as base:
            # Each worker's first requests import and connect; the figures are for a warm server.
            warm_up = traffic.drive(base_url=base, clinic=clinic, clients=2, seconds=3)
            result = traffic.drive(base_url=base, clinic=clinic, clients=clients, seconds=seconds)
            server_log = log.read_text(errors="replace")
    checked = integrity.check_bookings(warm_up.ledgers + result.ledgers, seeded_session_ids=clinic.session_ids)
    outcome = LoadRun(
        clinic=clinic,
        clients=clients,
        workers=workers,
        result=result,
        warm_up=warm_up,
        checked=checked,
        server_log=server_log,
        load_average=(before, os.getloadavg()[0]),
        findings=list(checked.findings),
    )
    if outcome.server_errors:
        outcome.findings.append(f"{len(outcome.server_errors)} responses were 5xx")
    if outcome.unanswered:
        problems = dict(report.problems(outcome.unanswered))
        outcome.findings.append(f"{len(outcome.unanswered)} requests got no answer ({problems})")
    refused_reads = [s for s in outcome.warm_up.samples + result.samples if s.problem.startswith("a read refused")]
    if refused_reads:
        outcome.findings.append(f"reads refused: {dict(report.problems(refused_reads))}")
    return outcome


def print_figures(outcome: LoadRun) -> None:
    from reliability import report

    samples, result, checked, clinic = outcome.result.samples, outcome.result, outcome.checked, outcome.clinic
    booked = sum(ledger.booked for ledger in result.ledgers)
    served = [ms for _method, _path, _status, ms in report.access_log(outcome.server_log)]
    print(
        f"{os.cpu_count()} cores, load average {outcome.load_average[0]:.1f} before and "
        f"{outcome.load_average[1]:.1f} after; gunicorn {outcome.workers} workers, DEBUG off"
    )
    print(
        f"clinic: {len(clinic.patient_ids)} patients with a course, {len(clinic.practitioner_ids)} practitioners, "
        f"{len(clinic.room_ids)} rooms, {len(clinic.session_ids)} past sessions"
    )
    print(f"traffic: {outcome.clients} clients back to back for {result.seconds:.0f} s, API keys (read; read+book)")
    print(*report.per_operation(samples), sep="\n")
    print("== load figures")
    print(f"requests:      {len(samples)} in {result.seconds:.1f} s = {len(samples) / result.seconds:.1f} requests/s")
    print(f"latency:       {report.latency_line(samples)} (at the client)")
    print(
        f"in gunicorn:   p50 {report.percentile(served, 0.5):.0f} ms, p95 {report.percentile(served, 0.95):.0f} ms, "
        f"p99 {report.percentile(served, 0.99):.0f} ms (its access log, warm-up included)"
    )
    print(f"status codes:  {report.status_counts(samples)}")
    print(f"5xx:           {len(outcome.server_errors)}; no answer: {len(outcome.unanswered)}")
    print(
        f"bookings:      {booked} booked (201), {checked.confirmed_sessions} sessions confirmed by the API, "
        f"{checked.lost} lost or not as last confirmed"
    )
    print(
        f"integrity:     {checked.duplicates} duplicates, {checked.overlaps} overlapping live sessions, "
        f"{checked.unaccounted_sessions} sessions no answer accounts for, "
        f"{checked.stuck_keys} stuck idempotency keys"
    )


def main() -> int:
    import django

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8, help="client threads sending requests back to back")
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    django.setup()

    from reliability import web

    with web.throwaway_database() as database:
        print(f"database {database}")
        outcome = run(seconds=args.seconds, clients=args.clients, patients=args.patients, workers=args.workers)
        print_figures(outcome)
    if outcome.findings:
        print("== FAILED")
        print(*(f"- {finding}" for finding in outcome.findings), sep="\n")
        if outcome.server_errors:
            print("-- gunicorn log (tail)")
            print("\n".join(outcome.server_log.splitlines()[-60:]))
        return 1
    print("== passed: no 5xx, nothing lost, no duplicate, no overlap")
    return 0


if __name__ == "__main__":
    sys.exit(main())
