"""Probes that ask the web, several times a second, whether it can do its job; and what they saw around a fault.

One reads one page of patients through an API key (PostgreSQL, the key, the
rate limiter in Redis), the other /healthz (PostgreSQL, migrations, Redis);
each keeps every answer with its time, so a fault's window can be read off
afterwards: what the web answered while a service was down, and how long
after the service was back the web answered 200 again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from reliability.traffic import Sample, outage_answer_problem
from reliability.web import PROXY_HEADERS

INTERVAL_SECONDS = 0.1


PROBES = {"probe api": "/api/v1/patients/?page_size=1", "probe healthz": "/healthz"}


class Probe(threading.Thread):
    """Ask one of PROBES again and again, INTERVAL_SECONDS apart, until stopped."""

    def __init__(self, operation: str, *, base_url: str, read_key: str, clock: Callable[[], float]) -> None:
        super().__init__(name=operation, daemon=True)
        self.operation = operation
        self.path = PROBES[operation]
        self.base = base_url
        self.clock = clock
        self.client = requests.Session()
        self.client.headers.update({"Authorization": f"Bearer {read_key}", **PROXY_HEADERS})
        self.samples: list[Sample] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        operation = self.operation
        while not self._stopping.is_set():
            started = self.clock()
            try:
                response = self.client.get(self.base + self.path, timeout=10)
            except requests.RequestException as error:
                self.samples.append(Sample(operation, started, self.clock() - started, None, type(error).__name__))
            else:
                problem = ""
                if operation == "probe api" and response.status_code >= 500:
                    problem = outage_answer_problem(response)
                elif response.status_code not in (200, 503):
                    problem = f"{operation}: {response.status_code}"
                self.samples.append(Sample(operation, started, self.clock() - started, response.status_code, problem))
            time.sleep(INTERVAL_SECONDS)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=30)


@dataclass(frozen=True)
class Window:
    """One fault: `service` stopped at `down` and accepting connections again at `up` (seconds into the run)."""

    name: str
    service: str
    down: float
    up: float


@dataclass(frozen=True)
class Recovery:
    window: Window
    statuses_while_down: dict[str, dict[str, int]]  # per probe, answers started while the service was down
    first_ok_after: float | None  # seconds from `up` to the first 200 from the API
    all_ok_after: float | None  # seconds from `up` until the API and /healthz answered 200 from then on
    healthz_ok_after: float | None


def recovery(window: Window, samples: list[Sample], *, until: float, operation_prefix: str = "probe") -> Recovery:
    """Read what the probe saw in `window`, and after it until `until` (the next fault, or the end)."""
    while_down: dict[str, dict[str, int]] = {}
    for sample in samples:
        if sample.operation.startswith(operation_prefix) and window.down <= sample.started < window.up:
            key = "no answer" if sample.status is None else str(sample.status)
            counts = while_down.setdefault(sample.operation.removeprefix(f"{operation_prefix} "), {})
            counts[key] = counts.get(key, 0) + 1
    after = sorted((s for s in samples if window.up <= s.started < until), key=lambda s: s.started)

    def first_ok(operation: str) -> float | None:
        return next(
            (s.started + s.seconds - window.up for s in after if s.operation == operation and s.status == 200), None
        )

    failing = [s for s in after if s.status != 200]
    # Until the last failure seen after the service was back (only the probe's own requests count here).
    last_failure = max(
        (s.started + s.seconds for s in failing if s.operation.startswith(operation_prefix)), default=None
    )
    all_ok = (last_failure - window.up) if last_failure is not None else first_ok(f"{operation_prefix} api")
    return Recovery(
        window=window,
        statuses_while_down=while_down,
        first_ok_after=first_ok(f"{operation_prefix} api"),
        all_ok_after=all_ok,
        healthz_ok_after=first_ok(f"{operation_prefix} healthz"),
    )
