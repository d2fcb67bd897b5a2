"""Run the clinic locally, with embedded PostgreSQL and Redis when needed.

    python -m devenv run            migrate, load the demo clinic, then run
                                    web + Celery worker + Celery beat (honcho)
    python -m devenv exec -- CMD    run CMD (the test suite, a shell …) with
                                    DATABASE_URL and REDIS_URL pointing at the
                                    embedded servers

DATABASE_URL and REDIS_URL, when set, are used as they are and nothing is
started. Development-only defaults (DEBUG on, a throwaway SECRET_KEY) are
filled in here, never in settings.py, so production cannot inherit them.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections.abc import Sequence

from devenv.servers import PROJECT_ROOT, Services, project_environ

DEVELOPMENT_DEFAULTS = {
    "DJANGO_DEBUG": "true",
    "SECRET_KEY": "insecure-development-key-only-for-make-run-and-make-test",
    "ALLOWED_HOSTS": "localhost,127.0.0.1,[::1],testserver",
    "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
    "PORT": "8000",
}


def _default_interrupts() -> None:
    # In the child, before it runs: a process started in the background
    # inherits SIGINT ignored, and an ignored signal stays ignored across exec.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_child(command: Sequence[str], environ: dict[str, str]) -> int:
    """Run `command` to completion and return its exit code.

    The child gets a session of its own so that Ctrl-C reaches only us; we
    forward SIGINT/SIGTERM once, then wait for it to shut down cleanly. That
    keeps the embedded servers up until the web server and workers are gone.
    The forwarder is in place before the child starts (a signal arriving in
    between is passed on as soon as it exists), and the child hears SIGINT
    even when we were started in the background with it ignored.
    """
    child: subprocess.Popen[bytes] | None = None
    pending: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if child is None:
            pending.append(signum)
        elif child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        child = subprocess.Popen(
            list(command),
            env=environ,
            cwd=PROJECT_ROOT,
            start_new_session=True,
            preexec_fn=_default_interrupts,  # safe: no threads run yet in this process
        )
        for signum in pending:
            child.send_signal(signum)
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def with_services(steps: Sequence[Sequence[str]]) -> int:
    """Start the services, run each step in order, stop the services."""
    environ = project_environ()
    for key, value in DEVELOPMENT_DEFAULTS.items():
        environ.setdefault(key, value)
    services = Services()
    try:
        environ = services.start(environ)
        for step in steps:
            code = run_child(step, environ)
            if code != 0:
                return code
        return 0
    finally:
        services.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devenv", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("run", help="migrate, load the demo clinic and run web, worker and beat")
    exec_parser = sub.add_parser("exec", help="run a command with the services started")
    exec_parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    python = sys.executable
    if args.action == "run":
        return with_services(
            [
                [python, "manage.py", "migrate", "--noinput"],
                [python, "manage.py", "load_demo"],
                [python, "-m", "honcho", "start", "-f", "Procfile.dev"],
            ]
        )
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("exec needs a command after --")
    return with_services([command])


if __name__ == "__main__":
    sys.exit(main())
