"""The verdict and the figures of a faults drill (reliability/faults.py)."""

from __future__ import annotations

import argparse
import os
from collections import Counter
from typing import TYPE_CHECKING

from reliability.integrity import Integrity
from reliability.probe import Recovery, Window, recovery
from reliability.report import access_log, latency_line, status_counts
from reliability.traffic import Sample, TrafficResult

if TYPE_CHECKING:
    from reliability.faults import Dispatch, Ticker

RECOVERY_LIMIT_SECONDS = 30


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def _in_window(samples: list[Sample], window: Window) -> list[Sample]:
    return [s for s in samples if window.down <= s.started < window.up]


def report(
    *,
    database: str,
    args: argparse.Namespace,
    result: TrafficResult,
    probe_samples: list[Sample],
    windows: list[Window],
    killed_at: float,
    dispatch: Dispatch,
    drained: bool,
    ticker: Ticker,
    checked: Integrity,
    server_log: str,
    load_average: tuple[float, float],
) -> int:
    """Print the drill's figures; return 1 if anything was lost, duplicated beyond the bound, or answered wrongly."""
    from aftercare.models import ScheduledMessage
    from tests.aftercare.dispatch_helpers import duplicates, recorded_ids

    findings = list(checked.findings)
    answers = result.samples + probe_samples
    wrong = Counter(sample.problem for sample in answers if sample.problem)
    if wrong:
        findings.append(f"answers that are neither a success, a refusal nor an outage's JSON 503: {dict(wrong)}")
    logged_500s = sum(status == 500 for _method, _path, status, _ms in access_log(server_log))
    if logged_500s:
        findings.append(f"gunicorn logged {logged_500s} responses with status 500")

    recoveries: list[Recovery] = []
    for n, window in enumerate(windows):
        until = windows[n + 1].down if n + 1 < len(windows) else float("inf")
        found = recovery(window, probe_samples, until=until)
        recoveries.append(found)
        if found.all_ok_after is None or found.all_ok_after > RECOVERY_LIMIT_SECONDS:
            findings.append(f"after the {window.name} the web was not answering 200 within {RECOVERY_LIMIT_SECONDS} s")

    every_id = [pk for ids in dispatch.waves.values() for pk in ids]
    statuses = Counter(ScheduledMessage.objects.filter(pk__in=every_id).values_list("status", flat=True))
    received = recorded_ids(dispatch.recording)
    missing = set(every_id) - set(received)
    repeated = duplicates(received)
    in_flight = set().union(*dispatch.in_flight.values()) if dispatch.in_flight else set()
    extra_sends = sum(count - 1 for count in repeated.values())
    if not drained or statuses.get("sent", 0) != len(every_id):
        findings.append(f"messages not all sent: {dict(statuses)} of {len(every_id)}")
    if missing:
        findings.append(f"{len(missing)} messages never reached the provider")
    if set(repeated) - in_flight:
        findings.append(f"{len(set(repeated) - in_flight)} messages went twice without being in flight at a fault")
    if extra_sends > len(in_flight):
        findings.append(f"{extra_sends} repeated sends, more than the {len(in_flight)} rows in flight at the faults")

    samples = result.samples
    print(
        f"database {database} on a PostgreSQL and a Redis of the drill's own; {os.cpu_count()} cores, "
        f"load average {load_average[0]:.1f} before and {load_average[1]:.1f} after"
    )
    print(
        f"gunicorn 2 workers, DEBUG off; {args.clients} booking clients; Celery worker, 2 processes; "
        f"beat's dispatcher tick every 3 s; each service down {args.down_seconds:.0f} s"
    )
    print("== faults figures")
    print(
        f"traffic:        {len(samples)} requests in {result.seconds:.0f} s ({len(samples) / result.seconds:.1f}/s), "
        f"{latency_line(samples)}"
    )
    print(f"status codes:   {status_counts(samples)}")
    print(f"probe:          {len(probe_samples)} requests, {status_counts(probe_samples)}")
    print(f"500s:           {sum(s.status == 500 for s in answers)}; other wrong answers: {sum(wrong.values())}")
    for found in recoveries:
        window = found.window
        traffic_down = _in_window(samples, window)
        print(
            f"{window.name + ':':<16}down {window.up - window.down:.1f} s; "
            f"traffic while down [{status_counts(traffic_down) or 'none'}; {latency_line(traffic_down)}], "
            f"probes while down {found.statuses_while_down}; "
            f"after it was back: API 200 in {_seconds(found.first_ok_after)}, "
            f"/healthz 200 in {_seconds(found.healthz_ok_after)}, "
            f"every door working from {_seconds(found.all_ok_after)}"
            + (f" (the last failure: {found.last_failure})" if found.last_failure else "")
        )
    print(f"worker SIGKILL: at {killed_at:.0f} s; a new worker started")
    # Each repeated message is put down to the first fault it was in flight at.
    attributed: set[str] = set()
    for fault, rows in dispatch.in_flight.items():
        twice = (set(repeated) & rows) - attributed
        attributed |= twice
        print(f"  {fault + ':':<20}{len(rows)} rows in flight, {len(twice)} of them sent twice")
    ledger_retries: Counter[str] = Counter()
    for ledger in result.ledgers:
        ledger_retries.update(ledger.retried_bookings)
    booked = sum(ledger.booked for ledger in result.ledgers)
    print(
        f"bookings:       {booked} booked (201), {checked.confirmed_sessions} sessions confirmed, "
        f"{checked.lost} lost or not as last confirmed, {checked.duplicates} duplicates, "
        f"{checked.overlaps} overlaps; {checked.unanswered_bookings} bookings answered 503 or not at all, "
        f"retried with their key: {dict(ledger_retries)}; "
        f"{checked.unaccounted_sessions} sessions made by an unanswered booking; {checked.stuck_keys} stuck keys"
    )
    print(
        f"messages:       {len(every_id)} due in {len(dispatch.waves)} waves, {statuses.get('sent', 0)} sent, "
        f"{len(missing)} never sent; {len(repeated)} sent twice ({extra_sends} extra sends), "
        f"bound: {len(in_flight)} rows in flight at the faults; "
        f"ticks {ticker.sent} sent, {ticker.failed} refused while Redis was down"
    )
    if findings:
        print("== FAILED")
        print(*(f"- {finding}" for finding in findings), sep="\n")
        return 1
    print("== passed: no 500, 503s in JSON with Retry-After while down, recovered by itself, nothing lost")
    return 0
