"""Reliability runs: figures with a verdict (`make load`, `make faults`).

Unlike benchmarks/ (figures only), these scripts drive the real production
web server (gunicorn) and Celery workers over loopback, then check the
database: any 5xx other than an outage's 503, a lost or duplicated booking,
overlapping sessions or a lost message make them exit non-zero.
"""
