"""Restarts: PostgreSQL and Redis restarted, and a Celery worker killed, under traffic and during dispatch.

    make faults                    (python reliability/faults.py [--down-seconds 5] [--clients 4])

It stops and starts servers, so it runs its own PostgreSQL and Redis (in
.devdata/faults/, whatever DATABASE_URL and REDIS_URL say), never the ones
`make run` and `make test` share. In a throwaway database it seeds a clinic,
starts gunicorn (2 workers, DEBUG off) and a Celery worker (2 processes)
sending SMS through a recording provider (20 ms a send), puts booking
traffic on the API (reliability.traffic; a booking without an answer is
retried with its Idempotency-Key) and probes it ten times a second
(reliability.probe). A stand-in for beat sends the dispatcher every 3 s.
Then, one after another, each while a wave of due messages is being sent:

1. the worker is killed with SIGKILL mid-send, and a new one started;
2. PostgreSQL is stopped (fast shutdown: connections cut) and started again;
3. Redis is stopped and started again.

Checks: while a service is down the web answers 503 in the API's JSON error
shape with Retry-After, or (Redis) goes on answering, never a 500, an HTML
error or a dropped connection; it answers 200 again by itself within
seconds of the service being back; no booking the API confirmed is lost or
duplicated; every message is sent, and only rows in flight at a fault may
have gone twice (at most once more each). Exits 1 on any finding.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from devenv.servers import DATA_ROOT, EmbeddedPostgres, EmbeddedRedis  # noqa: E402

FAULTS_DATA = DATA_ROOT / "faults"
TICK_SECONDS = 3.0
# A dead worker's claims are recovered after this lease (the minimum the setting allows).
SENDING_LEASE_SECONDS = 30
DRAIN_TIMEOUT_SECONDS = 180


class Ticker(threading.Thread):
    """Beat's part, compressed: send the dispatcher every TICK_SECONDS; a tick that cannot reach Redis is skipped."""

    def __init__(self) -> None:
        super().__init__(name="ticker", daemon=True)
        self._stopping = threading.Event()
        self.sent = 0
        self.failed = 0

    def tick(self) -> None:
        from aftercare.outbox import DISPATCH_TASK
        from clinic.celery import app

        try:
            app.send_task(DISPATCH_TASK)
            self.sent += 1
        except Exception:
            self.failed += 1

    def run(self) -> None:
        while not self._stopping.wait(TICK_SECONDS):
            self.tick()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=30)


@dataclass
class Dispatch:
    """The outbox side of the drill: waves of due SMS, the worker that sends them, and the provider's record."""

    folder: Path
    environ: dict[str, str]
    recording: Path
    waves: dict[str, list[str]] = field(default_factory=dict)
    in_flight: dict[str, set[str]] = field(default_factory=dict)  # rows `sending` when a fault struck
    worker: subprocess.Popen[bytes] | None = None
    workers_started: int = 0

    def start_worker(self) -> None:
        from reliability.web import celery_worker_start

        self.workers_started += 1
        self.worker = celery_worker_start(
            name=f"faults-{self.workers_started}",
            concurrency=2,
            environ=self.environ,
            log=self.folder / f"worker-{self.workers_started}.log",
        )

    def write_wave(self, name: str, count: int, ticker: Ticker) -> list[str]:
        from tests.aftercare.dispatch_helpers import make_due_sms

        self.waves[name] = make_due_sms(count, patients=20, key_prefix=f"faults-{name}")
        ticker.tick()
        return self.waves[name]

    def sent_of(self, ids: list[str]) -> int:
        from tests.aftercare.dispatch_helpers import recorded_ids

        return len(set(recorded_ids(self.recording)) & set(ids))

    def wait_for_sends(self, ids: list[str], at_least: int, *, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.sent_of(ids) < at_least:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {at_least} messages sent in {timeout:.0f} s")
            time.sleep(0.05)

    def note_in_flight(self, fault: str) -> None:
        from aftercare.models import MessageStatus, ScheduledMessage

        rows = ScheduledMessage.objects.filter(status=MessageStatus.SENDING).values_list("pk", flat=True)
        self.in_flight[fault] = {str(pk) for pk in rows}

    def unfinished(self) -> int:
        from aftercare.models import MessageStatus, ScheduledMessage

        every_id = [pk for ids in self.waves.values() for pk in ids]
        return (
            ScheduledMessage.objects.filter(pk__in=every_id)
            .filter(status__in=[MessageStatus.PENDING, MessageStatus.SENDING])
            .count()
        )


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--down-seconds", type=float, default=5, help="how long each service stays down")
    parser.add_argument("--clients", type=int, default=4, help="client threads of booking traffic")
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--wave", type=int, default=1000, help="due messages written before each fault")
    args = parser.parse_args()

    FAULTS_DATA.mkdir(parents=True, exist_ok=True)
    # Redis starts empty: a queue left by an earlier drill would only blur this one.
    (FAULTS_DATA / "redis" / "dump.rdb").unlink(missing_ok=True)
    postgres = EmbeddedPostgres(data_dir=FAULTS_DATA / "postgres")
    redis_server = EmbeddedRedis(data_dir=FAULTS_DATA / "redis")
    try:
        database_url = postgres.start()
        redis_url = redis_server.start()
        from devenv.__main__ import DEVELOPMENT_DEFAULTS

        for name, value in DEVELOPMENT_DEFAULTS.items():
            os.environ.setdefault(name, value)
        os.environ.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url})
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        import django

        django.setup()
        return drill(postgres=postgres, redis_server=redis_server, args=args)
    finally:
        redis_server.stop()
        postgres.stop()


def drill(*, postgres: EmbeddedPostgres, redis_server: EmbeddedRedis, args: argparse.Namespace) -> int:
    from django.db import connection

    from devenv.servers import free_port
    from reliability import integrity, scene, web
    from reliability.faults_report import report
    from reliability.probe import PROBES, Probe, Window
    from reliability.traffic import Traffic
    from tests.aftercare.dispatch_helpers import RECORDING_TRANSPORT

    with web.throwaway_database() as database, tempfile.TemporaryDirectory(prefix="faults-") as folder_name:
        folder = Path(folder_name)
        clinic = scene.clinic_build(patients=args.patients)
        load_before = os.getloadavg()[0]
        recording = folder / "sms-received.txt"
        dispatch = Dispatch(
            folder=folder,
            recording=recording,
            environ=web.production_environ(
                SMS_BACKEND=RECORDING_TRANSPORT,
                SMS_RECORDING_FILE=str(recording),
                SMS_RECORDING_DELAY="0.02",
                AFTERCARE_SENDING_LEASE_SECONDS=str(SENDING_LEASE_SECONDS),
                AFTERCARE_DISPATCH_RUN_SECONDS="5",
            ),
        )
        windows: list[Window] = []
        log = folder / "gunicorn.log"
        with web.gunicorn(port=free_port(), workers=2, environ=web.production_environ(), log=log) as base:
            dispatch.start_worker()
            ticker = Ticker()
            traffic = Traffic(base_url=base, clinic=clinic, clients=args.clients, backoff_on_503=True).start()
            probes = [
                Probe(operation, base_url=base, read_key=clinic.read_key, clock=traffic.clock) for operation in PROBES
            ]
            for probe in probes:
                probe.start()
            ticker.start()
            try:
                time.sleep(5)

                # 1. A worker killed with SIGKILL in the middle of a batch, and a new one started.
                wave = dispatch.write_wave("worker-kill", args.wave, ticker)
                dispatch.wait_for_sends(wave, at_least=args.wave // 6)
                assert dispatch.worker is not None  # noqa: S101 - started above
                killed_at = traffic.clock()
                os.killpg(dispatch.worker.pid, signal.SIGKILL)
                dispatch.worker.wait(timeout=10)
                dispatch.note_in_flight("worker killed")
                dispatch.start_worker()
                time.sleep(5)

                # 2. PostgreSQL stopped mid-dispatch and under traffic, then started again.
                wave = dispatch.write_wave("postgres-restart", args.wave, ticker)
                dispatch.wait_for_sends(wave, at_least=args.wave // 6)
                down = traffic.clock()
                postgres.halt()
                time.sleep(args.down_seconds)
                postgres.resume()
                windows.append(Window("PostgreSQL restart", "PostgreSQL", down, traffic.clock()))
                connection.close()  # this script's own connection died with the server
                dispatch.note_in_flight("PostgreSQL restart")
                time.sleep(10)

                # 3. Redis stopped mid-dispatch and under traffic, then started again.
                wave = dispatch.write_wave("redis-restart", args.wave, ticker)
                dispatch.wait_for_sends(wave, at_least=args.wave // 6)
                down = traffic.clock()
                redis_server.halt()
                time.sleep(args.down_seconds)
                redis_server.resume()
                windows.append(Window("Redis restart", "Redis", down, traffic.clock()))
                time.sleep(10)
            finally:
                result = traffic.stop()
                for probe in probes:
                    probe.stop()
            drained = wait_until(lambda: dispatch.unfinished() == 0, timeout=DRAIN_TIMEOUT_SECONDS)
            ticker.stop()
            if dispatch.worker is not None:
                web.stop_group(dispatch.worker)
            server_log = log.read_text(errors="replace")
        checked = integrity.check_bookings(result.ledgers, seeded_session_ids=clinic.session_ids)
        return report(
            database=database,
            args=args,
            result=result,
            probe_samples=[sample for probe in probes for sample in probe.samples],
            windows=windows,
            killed_at=killed_at,
            dispatch=dispatch,
            drained=drained,
            ticker=ticker,
            checked=checked,
            server_log=server_log,
            load_average=(load_before, os.getloadavg()[0]),
        )


if __name__ == "__main__":
    sys.exit(main())
