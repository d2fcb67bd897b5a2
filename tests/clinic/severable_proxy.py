"""A TCP doorway to the test's PostgreSQL that a test can shut and open again.

The embedded PostgreSQL listens on a Unix socket only (a server named by
DATABASE_URL may listen on TCP). A web server given this proxy's loopback
port as its database host talks to the real server through it. `sever()`
closes the listening socket and every connection through it at once, as a
database restart or a network cut does (connects are refused, open
connections end mid-stream); `restore()` listens on the same port again. Nothing in Django or psycopg is mocked.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


def postgres_connector(host: str, port: int | None) -> Callable[[], socket.socket]:
    """Open a socket to PostgreSQL at `host`: a Unix socket folder (libpq's rule: it starts with /) or a TCP host."""

    def connect() -> socket.socket:
        if host.startswith("/"):
            unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            unix.connect(f"{host}/.s.PGSQL.{port or 5432}")
            return unix
        return socket.create_connection((host or "localhost", port or 5432))

    return connect


class SeverableProxy:
    def __init__(self, connect_to_server: Callable[[], socket.socket]) -> None:
        self.connect_to_server = connect_to_server
        self.port = 0
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(32)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def sever(self) -> None:
        """Refuse new connections and cut every open one."""
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, set()
        if listener is not None:
            listener.close()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    restore = start

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # severed
            try:
                server = self.connect_to_server()
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._connections |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
