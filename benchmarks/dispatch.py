"""Dispatcher throughput under beat, with real Celery workers, beside the same workers' no-op task rate.

For each worker concurrency (2, then 4) the benchmark starts a real
`celery -A clinic worker --concurrency=N` on a queue of its own, against
the current database and Redis, with SMS going to the file transport:

- the limit: N no-op tasks (`benchmarks.worker_tasks.noop`) are queued
  before the worker starts, and the rate at which it empties the queue is
  Celery's and Redis's own cost per task on these processes;
- the figure: due SMS rows are written, beat's task is sent as beat sends
  it (at once, then every 60 s), and the rate is rows sent per second from
  that first tick until none is left, so it is the sustained rate under
  beat, chains and all, not a burst.

`run()` works in the database it is given (a throwaway one: it writes
patients and messages, and the workers must see them, so no open
transaction). `python benchmarks/dispatch.py [--smoke]` makes its own test
database, like benchmarks/run.py.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.figures import Figure, Target  # noqa: E402
from benchmarks.worker_tasks import NOOP_TASK  # noqa: E402

BEAT_INTERVAL_SECONDS = 60.0
CONCURRENCIES = (2, 4)


@dataclass(frozen=True)
class Scale:
    messages: int
    noops: int
    patients: int
    timeout_seconds: float


FULL = Scale(messages=20_000, noops=5_000, patients=200, timeout_seconds=900)
SMOKE = Scale(messages=200, noops=200, patients=10, timeout_seconds=90)


def run(smoke: bool = False) -> list[Figure]:
    """Measure the dispatcher at worker concurrency 2 and 4, each beside its no-op task rate."""
    scale = SMOKE if smoke else FULL
    patient_ids = _consenting_sms_patients(scale.patients)
    figures = []
    with tempfile.TemporaryDirectory(prefix="bench-dispatch-") as folder:
        for concurrency in CONCURRENCIES:
            queue = f"bench-dispatch-{uuid.uuid4().hex[:8]}-c{concurrency}"
            environ = worker_environ(sms_folder=Path(folder))
            log = Path(folder) / f"worker-{concurrency}.log"
            _queue_noops(queue=queue, count=scale.noops)
            with celery_worker(concurrency=concurrency, queue=queue, environ=environ, log=log) as worker:
                noop_rate = _drain_rate(
                    queue=queue, queued=scale.noops, concurrency=concurrency, worker=worker, log=log
                )
                rate, peak_chains, left = _dispatch_rate(
                    queue=queue,
                    patient_ids=patient_ids,
                    count=scale.messages,
                    key_prefix=f"bench-{queue}",
                    timeout=scale.timeout_seconds,
                    worker=worker,
                    log=log,
                )
            note = (
                f"{scale.messages:,} due SMS (file transport), beat's task sent every {BEAT_INTERVAL_SECONDS:.0f} s; "
                f"limit: the same worker's no-op tasks/s ({scale.noops:,} tasks); "
                f"up to {peak_chains} dispatch chains seen at once"
            ) + (f"; {left} rows not sent" if left else "")
            figures.append(
                Figure(
                    name=f"dispatch under beat, worker concurrency {concurrency}",
                    value=rate,
                    limit=noop_rate,
                    unit="messages/s",
                    note=note,
                    # Issue 10: at least half the no-op task rate, sustained under beat.
                    target=Target(ratio=2.0),
                )
            )
    return figures


# --- the worker ----------------------------------------------------------------------


def database_url() -> str:
    """DATABASE_URL naming the database this process works in now (the throwaway one)."""
    from django.db import connection

    settings_dict = connection.settings_dict
    configured = os.environ.get("DATABASE_URL")
    if configured:
        return urlunsplit(urlsplit(configured)._replace(path="/" + settings_dict["NAME"]))
    credentials = quote(settings_dict["USER"] or "", safe="")
    if settings_dict["PASSWORD"]:
        credentials += ":" + quote(settings_dict["PASSWORD"], safe="")
    host = quote(settings_dict["HOST"] or "", safe="")
    port = f":{settings_dict['PORT']}" if settings_dict["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{settings_dict['NAME']}"


def worker_environ(*, sms_folder: Path) -> dict[str, str]:
    """The environment of a benchmark worker: this database and Redis, SMS into files, no quiet hours, no DEBUG."""
    from django.conf import settings

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_DEBUG": "false",
        "SMS_BACKEND": "aftercare.channels.sms.FileSmsTransport",
        "SMS_FILE_PATH": str(sms_folder),
        "AFTERCARE_QUIET_HOURS": "00:00-00:00",
        "PYTHONUNBUFFERED": "1",
    }


@contextmanager
def celery_worker(
    *, concurrency: int, queue: str, environ: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A real prefork `celery worker` with `concurrency` processes consuming only `queue`, stopped on exit."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "clinic",
        "worker",
        "--concurrency",
        str(concurrency),
        "--pool",
        "prefork",
        "--queues",
        queue,
        "--include",
        "benchmarks.worker_tasks",
        "--loglevel",
        "WARNING",
        "--without-mingle",
        "--without-gossip",
        "--hostname",
        f"{queue}@%h",
    ]
    with log.open("ab") as log_file:
        worker = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, cwd=PROJECT_ROOT, env=environ, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield worker
    finally:
        _stop(worker)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    """Warm shutdown (running tasks finish), then by force: the worker and its pool processes, by its group."""
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)


def _log_tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def _check_alive(worker: subprocess.Popen[bytes], log: Path) -> None:
    if worker.poll() is not None:
        raise RuntimeError(f"the benchmark worker exited ({worker.returncode}):\n{_log_tail(log)}")


# --- the limit: no-op tasks ----------------------------------------------------------------


def _redis() -> Any:
    import redis
    from django.conf import settings

    return redis.Redis.from_url(settings.REDIS_URL)


def _queue_noops(*, queue: str, count: int) -> None:
    """Put `count` no-op tasks on `queue` before any worker consumes it."""
    from clinic.celery import app

    with app.producer_or_acquire() as producer:
        for _ in range(count):
            app.send_task(NOOP_TASK, queue=queue, producer=producer)


def _drain_rate(*, queue: str, queued: int, concurrency: int, worker: subprocess.Popen[bytes], log: Path) -> float:
    """Tasks per second the worker takes off `queue`, timed once it is under way, until the queue is empty.

    With acks_late and a prefetch of one, a worker takes a task only once it
    has finished one, so the rate it empties the queue is the rate it runs them.
    """
    client = _redis()
    # The first tasks go while the pool is still starting: time from when a few are gone.
    head_start = max(2 * concurrency, queued // 20)
    deadline = time.monotonic() + 300
    started_at, left_at_start = None, queued
    while True:
        left = int(client.llen(queue))
        now = time.perf_counter()
        if started_at is None and left <= queued - head_start:
            started_at, left_at_start = now, left
        if left == 0:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not run {queued} no-op tasks in 300 s:\n{_log_tail(log)}")
        _check_alive(worker, log)
        time.sleep(0.01)
    assert started_at is not None  # noqa: S101 - the loop sets it before the queue can be empty
    return left_at_start / max(now - started_at, 1e-6)


# --- the figure: dispatching under beat ---------------------------------------------------


def _consenting_sms_patients(count: int) -> list[Any]:
    from patients.models import ConsentKind, ContactChannel
    from patients.services import consent_give
    from tests.factories import PatientFactory

    patients = []
    for n in range(count):
        patient = PatientFactory(preferred_channel=ContactChannel.SMS, phone=f"+4479111{n:05d}")
        consent_give(patient=patient, kind=ConsentKind.SERVICE_MESSAGES, version="bench", actor=None)
        patients.append(patient.pk)
    return patients


def _write_due_sms(*, patient_ids: Sequence[Any], count: int, key_prefix: str) -> None:
    from django.utils import timezone

    from aftercare.models import Channel, MessageKind, ScheduledMessage

    due_at = timezone.now() - timedelta(minutes=1)
    ScheduledMessage.objects.bulk_create(
        (
            ScheduledMessage(
                kind=MessageKind.AFTERCARE,
                dedupe_key=f"{key_prefix}-{n}",
                patient_id=patient_ids[n % len(patient_ids)],
                channel=Channel.SMS,
                body="Keep the treated skin cool and clean today; no makeup for 24 hours.",
                due_at=due_at,
            )
            for n in range(count)
        ),
        batch_size=2000,
    )


def _dispatch_rate(
    *,
    queue: str,
    patient_ids: Sequence[Any],
    count: int,
    key_prefix: str,
    timeout: float,
    worker: subprocess.Popen[bytes],
    log: Path,
) -> tuple[float, int, int]:
    """Write `count` due SMS, tick as beat does, and time until none is pending or sending.

    Return (messages sent per second, the most dispatch chains seen at once, rows left unsent).
    """
    from aftercare.dispatch_chains import DISPATCH_CHAINS
    from aftercare.models import MessageStatus, ScheduledMessage
    from aftercare.outbox import DISPATCH_TASK
    from clinic.celery import app

    _write_due_sms(patient_ids=patient_ids, count=count, key_prefix=key_prefix)
    rows = ScheduledMessage.objects.filter(dedupe_key__startswith=f"{key_prefix}-")
    unfinished = rows.filter(status__in=[MessageStatus.PENDING, MessageStatus.SENDING])
    started = time.perf_counter()
    app.send_task(DISPATCH_TASK, queue=queue)
    next_tick = started + BEAT_INTERVAL_SECONDS
    peak_chains = 0
    while unfinished.exists():
        now = time.perf_counter()
        if now - started > timeout:
            raise RuntimeError(f"dispatching {count} messages took over {timeout:.0f} s:\n{_log_tail(log)}")
        if now >= next_tick:
            app.send_task(DISPATCH_TASK, queue=queue)
            next_tick += BEAT_INTERVAL_SECONDS
        _check_alive(worker, log)
        peak_chains = max(peak_chains, DISPATCH_CHAINS.held())
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    sent = rows.filter(status=MessageStatus.SENT).count()
    return sent / elapsed, peak_chains, count - sent


def print_figures(figures: Sequence[Figure]) -> None:
    for figure in figures:
        print(
            f"{figure.name}: {figure.value:,.0f} {figure.unit}, limit {figure.limit:,.0f} "
            f"({figure.ratio:.2f}x); {figure.note}"
        )


def main() -> None:
    import django

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few hundred messages: seconds, not minutes")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    django.setup()
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    test_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    print(f"database: {test_name}, {os.cpu_count()} cores")
    try:
        print_figures(run(smoke=args.smoke))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
