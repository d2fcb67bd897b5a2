"""`make run`'s web process: Django's runserver, sized for a small burst.

runserver listens with a backlog of 10 (socketserver's default), so an
eleventh client connecting at once is reset; and it serves each request on a
new thread, so persistent database connections only pile up (Django's docs:
do not enable them in development). Here the backlog is 128 and Procfile.dev
runs this process with CONN_MAX_AGE=0, one connection per request, closed at
its end. Production runs gunicorn (gunicorn.conf.py), not this.

    python -m devenv.web 127.0.0.1:8000
"""

from __future__ import annotations

import os
import sys

BACKLOG = 128


def main(argv: list[str]) -> None:
    from django.core.management import execute_from_command_line
    from django.core.servers import basehttp

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    basehttp.WSGIServer.request_queue_size = BACKLOG
    execute_from_command_line(["manage.py", "runserver", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
