"""A small HTTP server in a thread: ``/metrics`` (Prometheus text) and ``/healthz`` (JSON)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pixbridge.observability.metrics import Metrics
from pixbridge.observability.settings import parse_listen

__all__ = ["MetricsServer"]

log = logging.getLogger("pixbridge.observability")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        try:
            if path == "/metrics":
                body = generate_latest(self.server.metrics.registry)
                self._reply(200, CONTENT_TYPE_LATEST, body)
            elif path == "/healthz":
                health = self.server.metrics.health()
                payload: dict[str, Any] = {
                    "status": "ok" if health.ok else "unhealthy",
                    "reasons": health.reasons,
                    **health.detail,
                }
                self._reply(
                    200 if health.ok else 503,
                    "application/json",
                    json.dumps(payload).encode() + b"\n",
                )
            else:
                self._reply(404, "text/plain", b"not found: try /metrics or /healthz\n")
        except Exception as exc:
            # The state store unreadable is itself unhealthy; say why rather than drop the socket.
            log.exception("serving %s failed", path)
            reply = json.dumps({"status": "unhealthy", "reasons": [f"probe failed: {exc}"]})
            self._reply(503, "application/json", reply.encode() + b"\n")

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Scrapes every few seconds would drown the log; keep them at debug level.
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], metrics: Metrics) -> None:
        self.metrics = metrics
        super().__init__(address, _Handler)


class _Server6(_Server):
    address_family = socket.AF_INET6


class MetricsServer:
    """Serves *metrics* on ``ADDRESS:PORT`` (port 0: any free port, see :attr:`port`)."""

    def __init__(self, metrics: Metrics, listen: str) -> None:
        host, port = parse_listen(listen)
        server_class = _Server6 if ":" in host else _Server
        self._server = server_class((host, port), metrics)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="pixbridge-metrics", daemon=True
        )

    @property
    def port(self) -> int:
        """The port actually listened on."""
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """The address listened on."""
        return str(self._server.server_address[0])

    def start(self) -> MetricsServer:
        """Start serving in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
