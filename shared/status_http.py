"""`/metrics`, `/healthz` and `/readyz` for the services that have no web server of their own
(projector, sla, notifier, imap), served from a daemon thread so a busy event loop or a
Faust worker does not delay a scrape.

Readiness means the dependencies answer: a TCP connection to a Kafka bootstrap server and,
for PostgreSQL, to the database server (a SQLite file only needs its directory)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.engine import make_url

from shared.config import ConfigError, Settings
from shared import metrics as _common_metrics  # noqa: F401  (registers the metrics every service shares)

Readiness = Callable[[], dict[str, str]]


def tcp_reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def dependency_checks(settings: Settings) -> Readiness:
    def check() -> dict[str, str]:
        checks = {}
        servers = [s.strip() for s in settings.bootstrap_servers.split(",") if s.strip()]
        kafka_ok = any(tcp_reachable(*_host_port(server, 9092)) for server in servers)
        checks["kafka"] = "ok" if kafka_ok else f"unreachable: {settings.bootstrap_servers}"
        url = make_url(settings.db_url)
        if url.get_backend_name() == "sqlite":
            folder = Path(url.database or ".").parent
            checks["database"] = "ok" if folder.is_dir() else f"missing directory {folder}"
        else:
            reachable = tcp_reachable(url.host or "127.0.0.1", url.port or 5432)
            checks["database"] = "ok" if reachable else f"unreachable: {url.host}:{url.port or 5432}"
        return checks

    return check


def _host_port(server: str, default_port: int) -> tuple[str, int]:
    host, _, port = server.rpartition(":")
    return (host or server, int(port)) if port.isdigit() else (server, default_port)


def _handler(service: str, readiness: Readiness) -> type[BaseHTTPRequestHandler]:
    class StatusHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's hook name)
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._json(200, {"status": "ok", "service": service})
            elif path == "/readyz":
                checks = readiness()
                ok = all(value == "ok" for value in checks.values())
                self._json(200 if ok else 503, {"status": "ok" if ok else "unavailable", "checks": checks})
            else:
                self._json(404, {"error": "not_found", "detail": "this port serves /metrics, /healthz and /readyz"})

        def _json(self, status: int, body: dict) -> None:
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass  # scrapes every few seconds would drown the service's own log

    return StatusHandler


def serve_status(service: str, settings: Settings, port: int | None,
                 readiness: Readiness | None = None) -> ThreadingHTTPServer | None:
    """Starts the status endpoints on `settings.status_host:port` (None or 0: not served).
    A port that is taken is a configuration error naming the variable to change."""
    if not port:
        return None
    try:
        server = ThreadingHTTPServer((settings.status_host, port), _handler(service, readiness or dependency_checks(settings)))
    except OSError as exc:
        raise ConfigError(
            f"cannot serve {service}'s /metrics on {settings.status_host}:{port} ({exc.strerror}); "
            f"set TOUCHPOINT_{service.upper()}_METRICS_PORT to a free port, or 0 for none"
        ) from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"{service}-status", daemon=True).start()
    return server
