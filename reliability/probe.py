"""Probes that ask the web, several times a second, whether it can do its job; and what they saw around a fault.

One reads one page of patients through an API key (PostgreSQL, the key, the
rate limiter in Redis), one /healthz (PostgreSQL, migrations, Redis), one a
staff page with a session cookie (the session table). Each keeps every
answer with its time, so a fault's window can be read off afterwards: what
the web answered while a service was down, and how long after the service
was back every door worked again.
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


@dataclass(frozen=True)
class Door:
    path: str
    ok: int  # the status that says it works


# The API through a key; health; a staff page with a session cookie (the session is read from the
# database: an unknown one sends the visitor to the login page, 302).
PROBES = {
    "probe api": Door("/api/v1/patients/?page_size=1", 200),
    "probe healthz": Door("/healthz", 200),
    "probe staff": Door("/admin/", 302),
}


def staff_answer_problem(response: requests.Response) -> str:
    """What is wrong with a staff page's answer: anything but the expected one or a plain 503 with Retry-After."""
    if response.status_code == 503:
        if not response.headers.get("Content-Type", "").startswith("text/html"):
            return "staff 503 not HTML"
        return "" if response.headers.get("Retry-After") else "staff 503 without Retry-After"
    return "" if response.status_code == 302 else f"staff {response.status_code}"


class Probe(threading.Thread):
    """Ask one of PROBES again and again, INTERVAL_SECONDS apart, until stopped."""

    def __init__(self, operation: str, *, base_url: str, read_key: str, clock: Callable[[], float]) -> None:
        super().__init__(name=operation, daemon=True)
        self.operation = operation
        self.door = PROBES[operation]
        self.base = base_url
        self.clock = clock
        self.client = requests.Session()
        self.client.headers.update({"Authorization": f"Bearer {read_key}", **PROXY_HEADERS})
        self.client.cookies.set("sessionid", "reliability-probe-no-such-session")
        self.samples: list[Sample] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        operation = self.operation
        while not self._stopping.is_set():
            started = self.clock()
            try:
                response = self.client.get(self.base + self.door.path, timeout=10, allow_redirects=False)
            except requests.RequestException as error:
                self.samples.append(Sample(operation, started, self.clock() - started, None, type(error).__name__))
            else:
                problem = ""
                if operation == "probe staff":
                    problem = staff_answer_problem(response)
                elif operation == "probe api" and response.status_code >= 500:
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
    first_ok_after: float | None  # seconds from `up` until the API's first 200
    healthz_ok_after: float | None  # ... /healthz's first 200
    all_ok_after: float | None  # ... every probe had answered as it should, and none failed after
    last_failure: str  # which probe, and what it got


def recovery(window: Window, samples: list[Sample], *, until: float) -> Recovery:
    """Read what the probes saw in `window`, and after it until `until` (the next fault, or the end)."""
    probed = [sample for sample in samples if sample.operation in PROBES]
    while_down: dict[str, dict[str, int]] = {}
    for sample in probed:
        if window.down <= sample.started < window.up:
            status = "no answer" if sample.status is None else str(sample.status)
            counts = while_down.setdefault(sample.operation.removeprefix("probe "), {})
            counts[status] = counts.get(status, 0) + 1
    # Answers wholly between the service's return and the next fault.
    after = [s for s in probed if window.up <= s.started and s.started + s.seconds < until]

    def works(sample: Sample) -> bool:
        return sample.status == PROBES[sample.operation].ok

    def first_ok(operation: str) -> float | None:
        answered = (s.started + s.seconds - window.up for s in after if s.operation == operation and works(s))
        return next(answered, None)

    failures = [s for s in after if not works(s)]
    last = max(failures, key=lambda s: s.started + s.seconds, default=None)
    # Every door works from the moment each probe has had a success and none failed afterwards.
    firsts = [first_ok(operation) for operation in PROBES]
    ends = [*firsts, last.started + last.seconds - window.up if last is not None else 0.0]
    all_ok = None if None in firsts else max(end for end in ends if end is not None)
    return Recovery(
        last_failure="" if last is None else f"{last.operation}: {last.status or last.problem}",
        window=window,
        statuses_while_down=while_down,
        first_ok_after=first_ok("probe api"),
        healthz_ok_after=first_ok("probe healthz"),
        all_ok_after=all_ok,
    )
