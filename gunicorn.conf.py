"""gunicorn's settings for production (read from the working directory: `gunicorn clinic.wsgi:application`).

Each value can be overridden by the environment (GUNICORN_WORKERS, ...) or
on the command line.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# A worker is replaced after this many requests (with jitter, so they do not
# all restart at once): a safety net against slow growth in a library, not a
# cure for a view that loads too much (lists and the worklist read a page).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
accesslog = "-"
# The path without its query string: searches carry names, phones and emails.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
