"""Turning samples into the figures a run prints."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from reliability.traffic import Sample

# gunicorn.conf.py's access line: 127.0.0.1 "GET /path HTTP/1.1" 200 1234 12ms
ACCESS_LINE = re.compile(r'^\S+ "(\S+) (\S+) [^"]*" (\d{3}) \S+ (\d+)ms$', re.MULTILINE)


def access_log(text: str) -> list[tuple[str, str, int, float]]:
    """(method, path, status, milliseconds in the server) for each request gunicorn logged."""
    return [(method, path, int(status), float(ms)) for method, path, status, ms in ACCESS_LINE.findall(text)]


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of `values` (0 when there are none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def latency_line(samples: Sequence[Sample]) -> str:
    times = [sample.seconds * 1000 for sample in samples]
    return (
        f"p50 {percentile(times, 0.50):.0f} ms, p95 {percentile(times, 0.95):.0f} ms, "
        f"p99 {percentile(times, 0.99):.0f} ms, max {max(times, default=0):.0f} ms"
    )


def status_counts(samples: Sequence[Sample]) -> str:
    counts = Counter("no answer" if sample.status is None else str(sample.status) for sample in samples)
    return ", ".join(f"{status}: {count}" for status, count in sorted(counts.items()))


def per_operation(samples: Sequence[Sample]) -> list[str]:
    grouped: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        grouped[sample.operation].append(sample)
    return [
        f"  {operation:<19} {len(group):>6}  {latency_line(group)}  [{status_counts(group)}]"
        for operation, group in sorted(grouped.items())
    ]


def problems(samples: Sequence[Sample]) -> Counter[str]:
    """What was wrong with the samples that had a problem (reliability.traffic.Sample.problem), by kind."""
    return Counter(sample.problem for sample in samples if sample.problem)
