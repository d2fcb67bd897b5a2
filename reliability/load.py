"""Load: gunicorn with 2 workers under mixed booking-software traffic for 60 s, then the database is checked.

    make load                      (python reliability/load.py [--seconds 60] [--clients 8] [--patients 300])

Builds a throwaway database beside the configured one (like the test suite),
seeds a clinic (reliability.scene), starts gunicorn with the project's
gunicorn.conf.py and DEBUG off on a free loopback port, and drives it from
client threads through API keys (reliability.traffic). Prints requests/s,
latency percentiles and status counts per operation, then checks the
bookings in SQL (reliability.integrity). Exits 1 on any 5xx, any request
without an answer, or any integrity finding.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))


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

    from devenv.servers import free_port
    from reliability import integrity, report, scene, traffic, web

    with web.throwaway_database() as database, tempfile.TemporaryDirectory(prefix="load-") as folder:
        clinic = scene.clinic_build(patients=args.patients)
        log = Path(folder) / "gunicorn.log"
        with web.gunicorn(port=free_port(), workers=args.workers, environ=web.production_environ(), log=log) as base:
            # Each worker's first requests import and connect; the figures are for a warm server.
            warm_up = traffic.drive(base_url=base, clinic=clinic, clients=2, seconds=3)
            result = traffic.drive(base_url=base, clinic=clinic, clients=args.clients, seconds=args.seconds)
            server_log = log.read_text(errors="replace")
        checked = integrity.check_bookings(warm_up.ledgers + result.ledgers, seeded_session_ids=clinic.session_ids)

        samples = result.samples
        every_sample = warm_up.samples + samples
        server_errors = [s for s in every_sample if s.status is not None and s.status >= 500]
        unanswered = [s for s in every_sample if s.status is None]
        booked = sum(ledger.booked for ledger in result.ledgers)
        findings = list(checked.findings)
        if server_errors:
            findings.append(f"{len(server_errors)} responses were 5xx")
        if unanswered:
            findings.append(f"{len(unanswered)} requests got no answer ({dict(report.problems(unanswered))})")

        print(f"database {database}; {os.cpu_count()} cores; gunicorn {args.workers} workers, DEBUG off")
        print(
            f"clinic: {len(clinic.patient_ids)} patients with a course, {len(clinic.practitioner_ids)} practitioners, "
            f"{len(clinic.room_ids)} rooms, {len(clinic.session_ids)} past sessions"
        )
        print(f"traffic: {args.clients} clients back to back for {args.seconds:.0f} s, API keys (read; read+book)")
        print(*report.per_operation(samples), sep="\n")
        print("== load figures")
        print(
            f"requests:      {len(samples)} in {result.seconds:.1f} s = {len(samples) / result.seconds:.1f} requests/s"
        )
        print(f"latency:       {report.latency_line(samples)}")
        print(f"status codes:  {report.status_counts(samples)}")
        print(f"5xx:           {len(server_errors)}; no answer: {len(unanswered)}")
        print(
            f"bookings:      {booked} booked (201), {checked.confirmed_sessions} sessions confirmed by the API, "
            f"{checked.lost} lost or not as last confirmed"
        )
        print(
            f"integrity:     {checked.duplicates} duplicates, {checked.overlaps} overlapping live sessions, "
            f"{checked.unaccounted_sessions} sessions no answer accounts for, "
            f"{checked.stuck_keys} stuck idempotency keys"
        )
        if findings:
            print("== FAILED")
            print(*(f"- {finding}" for finding in findings), sep="\n")
            if server_errors:
                print("-- gunicorn log (tail)")
                print("\n".join(server_log.splitlines()[-60:]))
            return 1
        print("== passed: no 5xx, nothing lost, no duplicate, no overlap")
        return 0


if __name__ == "__main__":
    sys.exit(main())
