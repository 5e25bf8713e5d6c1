"""A process's health endpoints on a port of their own, for a role without an HTTP API (the kafka-python worker):
`GET /healthz` (the process answers) and `GET /readyz` (its dependencies: 503 with the problems while any is
missing), as Kubernetes' probes read them. Served by the standard library on a daemon thread, so a worker busy
with a batch still answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Readiness = Callable[[], list[str]]


def readiness_answer(problems: list[str]) -> tuple[int, dict[str, object]]:
    """`/readyz`'s status and body for these problems (none: ready), whichever server answers it."""
    return (503 if problems else 200), {"status": "not ready" if problems else "ready", "problems": problems}


def serve_health(host: str, port: int, readiness: Readiness | None = None) -> Callable[[], None]:
    """Start answering on host:port; returns the function that stops it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the standard library's name
            if self.path == "/healthz":
                self._answer(200, {"status": "ok"})
            elif self.path == "/readyz":
                self._answer(*readiness_answer(readiness() if readiness else []))
            else:
                self._answer(404, {"detail": "tidak ditemukan: /healthz atau /readyz [not found: /healthz or /readyz]"})

        def _answer(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: not logged
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop
