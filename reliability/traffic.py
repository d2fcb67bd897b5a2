"""Mixed API traffic from booking software, and a ledger of what the API confirmed.

Each client thread is one integration making requests back to back through
API keys (reads with the read key, changes with the book key): patient and
session reads, patient search, a practitioner's diary, the worklist,
availability, bookings, reschedules and cancellations. Bookings land on
random 15-minute slots in the next three weeks, so many are refused by the
rules (400) or meet a taken slot (409): those are answers, not errors.

Every POST carries an Idempotency-Key. A booking that got no definite answer
(a 503, a timeout, a dropped connection) is retried with the same key and
body after Retry-After, as booking software should; a refusal that says the
first attempt is still in progress (409 `request_in_progress`) is retried too.

The ledger keeps, per session a client booked, the start and status the API
last confirmed (201 or 200), and what a change without a definite answer may
have made of it, so the database can be checked against it afterwards.
A session belongs to the thread that booked it: only that thread changes it,
so its confirmations arrive in order.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests

from reliability.scene import Clinic
from reliability.web import PROXY_HEADERS

LONDON = ZoneInfo("Europe/London")
REQUEST_TIMEOUT_SECONDS = 30
# How long a client keeps retrying a booking that got no definite answer.
BOOKING_RETRY_SECONDS = 120
CANCEL_REASONS = ["patient_request", "practitioner_unavailable", "booked_in_error"]


@dataclass(frozen=True)
class Sample:
    """One request: what it was, when it started (seconds into the run), how it ended and how long it took."""

    operation: str
    started: float
    seconds: float
    status: int | None  # None: no HTTP answer (connection refused or reset, timeout)
    problem: str = ""  # a 5xx that is not an outage's 503, a read refused, or no answer: what was wrong


@dataclass(frozen=True)
class SessionState:
    starts_at: datetime
    status: str


@dataclass
class SessionRecord:
    """What the API said about one session, and what an unanswered change may have done to it since."""

    confirmed: SessionState
    possible: list[SessionState] = field(default_factory=list)


@dataclass
class PendingBooking:
    """A booking without a definite answer yet: retried with the same key and body."""

    key: str
    body: dict[str, str]
    first_sent: float
    not_before: float


@dataclass
class ClientLedger:
    sessions: dict[str, SessionRecord] = field(default_factory=dict)
    booked: int = 0  # 201s
    replayed: int = 0  # 201s replayed from a stored response
    # Idempotency keys of bookings that ever went unanswered: each may have made one session nobody confirmed.
    unanswered_booking_keys: set[str] = field(default_factory=set)
    retried_bookings: Counter[str] = field(default_factory=Counter)  # outcome of each retried key
    stuck_keys: int = 0  # still `request_in_progress` when the client gave up


def parse_instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class BookingClient(threading.Thread):
    """One integration's traffic until `stop` is set; its samples and ledger are read after it ends."""

    def __init__(
        self,
        *,
        number: int,
        base_url: str,
        clinic: Clinic,
        clock: Callable[[], float],
        stop: threading.Event,
        backoff_on_503: bool,
    ) -> None:
        super().__init__(name=f"client-{number}", daemon=True)
        self.base = base_url
        self.clinic = clinic
        self.clock = clock
        self.stop = stop
        self.backoff_on_503 = backoff_on_503
        self.rng = random.Random(number)  # noqa: S311 - traffic, not secrets
        self.samples: list[Sample] = []
        self.ledger = ClientLedger()
        self.pending: list[PendingBooking] = []
        self.reader = self._session(clinic.read_key)
        self.booker = self._session(clinic.book_key)
        self.operations: list[tuple[Callable[[], None], int]] = [
            (self.read_patient, 14),
            (self.search_patients, 5),
            (self.list_patients, 5),
            (self.read_session, 8),
            (self.practitioner_diary, 8),
            (self.worklist, 10),
            (self.availability, 10),
            (self.book, 24),
            (self.reschedule, 12),
            (self.cancel, 4),
        ]

    @staticmethod
    def _session(raw_key: str) -> requests.Session:
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {raw_key}", **PROXY_HEADERS})
        return session

    def run(self) -> None:
        actions, weights = zip(*self.operations, strict=True)
        while not self.stop.is_set():
            if self.pending and self.pending[0].not_before <= self.clock():
                self.retry_booking(self.pending.pop(0))
                continue
            self.rng.choices(actions, weights)[0]()
        # Traffic is over; bookings still without an answer are retried until they get one (or time runs out).
        while self.pending:
            pending = self.pending.pop(0)
            time.sleep(max(0.0, pending.not_before - self.clock()))
            self.retry_booking(pending)

    # --- requests -------------------------------------------------------------------

    def call(
        self, operation: str, method: str, path: str, *, key: str = "read", **kwargs: Any
    ) -> requests.Response | None:
        """Send one request, record its sample; return the response, or None when no HTTP answer came."""
        client = self.booker if key == "book" else self.reader
        started = self.clock()
        try:
            response = client.request(method, self.base + path, timeout=REQUEST_TIMEOUT_SECONDS, **kwargs)
        except requests.RequestException as error:
            self.samples.append(Sample(operation, started, self.clock() - started, None, error.__class__.__name__))
            if self.backoff_on_503:
                time.sleep(0.5)
            return None
        elapsed = self.clock() - started
        problem = ""
        if response.status_code >= 500:
            problem = outage_answer_problem(response)
        elif method == "GET" and response.status_code >= 400:
            # Every read here is well formed: a refusal means the traffic (or the API) is wrong.
            problem = f"a read refused: {response.status_code} {error_code(response)}"
        self.samples.append(Sample(operation, started, elapsed, response.status_code, problem))
        if response.status_code == 503 and self.backoff_on_503:
            time.sleep(0.5)
        return response

    def post(
        self, operation: str, path: str, body: dict[str, str], *, idempotency_key: str | None = None
    ) -> requests.Response | None:
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        return self.call(operation, "POST", path, key="book", json=body, headers=headers)

    # --- reads -----------------------------------------------------------------------

    def read_patient(self) -> None:
        self.call("patient read", "GET", f"/api/v1/patients/{self.rng.choice(self.clinic.patient_ids)}/")

    def search_patients(self) -> None:
        name = self.rng.choice(self.clinic.patient_last_names)
        self.call("patient search", "GET", "/api/v1/patients/", params={"search": name[:4]})

    def list_patients(self) -> None:
        self.call("patient list", "GET", "/api/v1/patients/", params={"page_size": 50})

    def read_session(self) -> None:
        own = list(self.ledger.sessions)
        session_id = self.rng.choice(own) if own and self.rng.random() < 0.5 else None
        session_id = session_id or self.rng.choice(self.clinic.session_ids)
        self.call("session read", "GET", f"/api/v1/sessions/{session_id}/")

    def practitioner_diary(self) -> None:
        start = datetime.now(LONDON).replace(hour=0, minute=0, second=0, microsecond=0)
        start += timedelta(days=self.rng.randrange(0, 21))
        params = {
            "practitioner": self.rng.choice(self.clinic.practitioner_ids),
            "starts_after": start.isoformat(),
            "starts_before": (start + timedelta(days=7)).isoformat(),
        }
        self.call("practitioner diary", "GET", "/api/v1/sessions/", params=params)

    def worklist(self) -> None:
        self.call("worklist", "GET", "/api/v1/worklist/", params={"page_size": 50})

    def availability(self) -> None:
        first = date.today() + timedelta(days=self.rng.randrange(1, 21))  # noqa: DTZ011 - a local calendar day
        params = {
            "practitioner": self.rng.choice(self.clinic.practitioner_ids),
            "location": self.clinic.location_id,
            "protocol": self.clinic.protocol_id,
            "date_from": first.isoformat(),
            "date_to": (first + timedelta(days=6)).isoformat(),
        }
        self.call("availability", "GET", "/api/v1/availability/", params=params)

    # --- changes ---------------------------------------------------------------------

    def random_slot(self) -> str:
        """A 15-minute slot in opening hours (08:00–20:00 London) on one of the next 21 days, for 45 minutes."""
        day = datetime.now(LONDON).date() + timedelta(days=self.rng.randrange(1, 22))
        minutes = 8 * 60 + 15 * self.rng.randrange(0, 46)  # the last starts at 19:15
        starts_at = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=LONDON)
        return starts_at.isoformat()

    def book(self) -> None:
        body = {
            "course": self.rng.choice(self.clinic.course_ids),
            "practitioner": self.rng.choice(self.clinic.practitioner_ids),
            "room": self.rng.choice(self.clinic.room_ids),
            "starts_at": self.random_slot(),
        }
        key = str(uuid.uuid4())
        response = self.post("book", "/api/v1/sessions/", body, idempotency_key=key)
        self.booking_answered(PendingBooking(key, body, self.clock(), 0.0), response, retry=False)

    def retry_booking(self, pending: PendingBooking) -> None:
        response = self.post("book (retry)", "/api/v1/sessions/", pending.body, idempotency_key=pending.key)
        self.booking_answered(pending, response, retry=True)

    def booking_answered(self, pending: PendingBooking, response: requests.Response | None, *, retry: bool) -> None:
        status = response.status_code if response is not None else None
        in_progress = status == 409 and response is not None and error_code(response) == "request_in_progress"
        if status is None or status >= 500 or in_progress:
            if not in_progress:
                self.ledger.unanswered_booking_keys.add(pending.key)
            if self.clock() - pending.first_sent > BOOKING_RETRY_SECONDS:
                self.ledger.retried_bookings["gave up"] += 1
                self.ledger.stuck_keys += in_progress
                return
            wait = float(response.headers.get("Retry-After", "1")) if response is not None else 1.0
            pending.not_before = self.clock() + wait
            self.pending.append(pending)
            return
        if retry:
            self.ledger.retried_bookings[str(status)] += 1
        if status == 201 and response is not None:
            body = response.json()
            self.ledger.booked += 1
            self.ledger.replayed += response.headers.get("Idempotent-Replayed") == "true"
            self.confirm(body)

    def own_booked_session(self) -> str | None:
        booked = [pk for pk, record in self.ledger.sessions.items() if record.confirmed.status == "booked"]
        return self.rng.choice(booked) if booked else None

    def reschedule(self) -> None:
        session_id = self.own_booked_session()
        if session_id is None:
            self.book()
            return
        body = {"starts_at": self.random_slot()}
        if self.rng.random() < 0.5:
            body["practitioner"] = self.rng.choice(self.clinic.practitioner_ids)
            body["room"] = self.rng.choice(self.clinic.room_ids)
        response = self.post(
            "reschedule", f"/api/v1/sessions/{session_id}/reschedule/", body, idempotency_key=str(uuid.uuid4())
        )
        self.change_answered(session_id, response, SessionState(parse_instant(body["starts_at"]), "booked"))

    def cancel(self) -> None:
        session_id = self.own_booked_session()
        if session_id is None:
            return
        body = {"reason": self.rng.choice(CANCEL_REASONS)}
        response = self.post(
            "cancel", f"/api/v1/sessions/{session_id}/cancel/", body, idempotency_key=str(uuid.uuid4())
        )
        record = self.ledger.sessions[session_id]
        self.change_answered(session_id, response, SessionState(record.confirmed.starts_at, "cancelled"))

    def change_answered(self, session_id: str, response: requests.Response | None, attempted: SessionState) -> None:
        if response is not None and response.status_code == 200:
            self.confirm(response.json())
        elif response is None or response.status_code >= 500:
            self.ledger.sessions[session_id].possible.append(attempted)

    def confirm(self, body: dict[str, Any]) -> None:
        # A later confirmation supersedes whatever an earlier unanswered change may have done.
        state = SessionState(parse_instant(body["starts_at"]), body["status"])
        self.ledger.sessions[body["id"]] = SessionRecord(confirmed=state)


def error_code(response: requests.Response) -> str:
    try:
        return str(response.json()["errors"][0]["code"])
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def outage_answer_problem(response: requests.Response) -> str:
    """What is wrong with a 5xx: anything but a 503 in the API's JSON error shape with Retry-After."""
    if response.status_code != 503:
        return f"{response.status_code}"
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        return "503 not JSON"
    if not response.headers.get("Retry-After"):
        return "503 without Retry-After"
    if error_code(response) != "service_unavailable":
        return "503 in another shape"
    return ""


@dataclass
class TrafficResult:
    samples: list[Sample]
    ledgers: list[ClientLedger]
    seconds: float


class Traffic:
    """`clients` threads of traffic against `base_url`, from `start()` until `stop()`."""

    def __init__(self, *, base_url: str, clinic: Clinic, clients: int, backoff_on_503: bool = False) -> None:
        self._stopping = threading.Event()
        self.began = time.monotonic()
        self.threads = [
            BookingClient(
                number=n,
                base_url=base_url,
                clinic=clinic,
                clock=self.clock,
                stop=self._stopping,
                backoff_on_503=backoff_on_503,
            )
            for n in range(clients)
        ]

    def clock(self) -> float:
        """Seconds since the traffic started."""
        return time.monotonic() - self.began

    def start(self) -> Traffic:
        self.began = time.monotonic()
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> TrafficResult:
        """Stop sending new requests; wait for the clients (and their retries) to finish; return what happened."""
        ended = self.clock()
        self._stopping.set()
        for thread in self.threads:
            thread.join(timeout=BOOKING_RETRY_SECONDS + 2 * REQUEST_TIMEOUT_SECONDS)
        return TrafficResult(
            samples=[sample for thread in self.threads for sample in thread.samples],
            ledgers=[thread.ledger for thread in self.threads],
            seconds=ended,
        )


def drive(*, base_url: str, clinic: Clinic, clients: int, seconds: float) -> TrafficResult:
    """`clients` threads of traffic for `seconds`."""
    traffic = Traffic(base_url=base_url, clinic=clinic, clients=clients).start()
    time.sleep(seconds)
    return traffic.stop()
