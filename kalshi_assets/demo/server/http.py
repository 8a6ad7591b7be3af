"""The demo API on a loopback socket: `DemoServer` (tests: port 0, a background thread, a context
manager) and `serve()` (`kalshi-assets demo-server --port N`, in the foreground)."""

from __future__ import annotations

import ipaddress
import json
import logging
import signal
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kalshi_assets.demo.keys import DEMO_API_KEY_ID
from kalshi_assets.demo.server.faults import FaultConfig, Faults
from kalshi_assets.demo.server.routes import DEFAULT_RATE_LIMITS, DemoApi, ServerRateLimits, ServerStats
from kalshi_assets.demo.server.wire import API_PREFIX, ApiError

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the client's connection pool is exercised
    server_version = "KalshiDemo/1.0"

    def version_string(self) -> str:
        return self.server_version
    server: _DemoHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; with Nagle on, the client's delayed ACK would
        # add ~40 ms to every keep-alive answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        logger.debug("%s " + format, self.address_string(), *args)

    def _serve(self, method: str) -> None:
        api = self.server.api
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True  # the unread body cannot be skipped safely
            status, answer, fault = 400, ApiError(400, "invalid_parameters", "bad Content-Length").body(), None
            body = b""
        else:
            body = self.rfile.read(length) if length else b""
            status, answer, fault = api.handle(method, self.path, self.headers, body, self.client_address[0])
        if fault is not None and fault.kind in ("drop", "drop_after"):
            api.record(method, self.path, body, None, b"", fault)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        payload = json.dumps(answer, separators=(",", ":")).encode()
        if fault is not None and fault.kind == "truncate" and 200 <= status < 300:
            payload = payload[: max(1, len(payload) // 2)]
        else:
            fault = fault if fault is not None and fault.kind == "status" else None
        # Recorded before sending, so a test that saw the answer also sees the record.
        api.record(method, self.path, body, status, payload, fault)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if fault is not None and fault.kind == "status" and fault.retry_after is not None:
            self.send_header("Retry-After", fault.retry_after)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")


class _DemoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: DemoApi) -> None:
        self.api = api
        super().__init__(address, _Handler)


def _require_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the demo server binds to loopback only, not {host!r}")


class DemoServer:
    """The demo API on a loopback port in a background thread (port 0 picks a free port)."""

    def __init__(
        self,
        exchange: Any | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        rate_limits: ServerRateLimits | None = DEFAULT_RATE_LIMITS,
        api_key_id: str = DEMO_API_KEY_ID,
        public_key_pem: bytes | None = None,
        max_clock_skew_s: float = 30.0,
        record_responses: bool = False,
    ) -> None:
        _require_loopback(host)
        if exchange is None:
            from kalshi_assets.demo.exchange import DemoExchange

            exchange = DemoExchange()
        self.api = DemoApi(
            exchange,
            faults=faults,
            rate_limits=rate_limits,
            api_key_id=api_key_id,
            public_key_pem=public_key_pem,
            max_clock_skew_s=max_clock_skew_s,
            record_responses=record_responses,
        )
        self._address = (host, port)
        self._httpd: _DemoHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def faults(self) -> Faults:
        return self.api.faults

    @property
    def stats(self) -> ServerStats:
        return self.api.stats

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the demo server is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        host = self._address[0]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}{API_PREFIX}"

    def start(self) -> DemoServer:
        if self._httpd is not None:
            raise RuntimeError("the demo server is already running")
        self._httpd = _DemoHTTPServer(self._address, self.api)
        httpd = self._httpd
        self._thread = threading.Thread(
            # A short poll interval makes stop() quick (tests start and stop many servers).
            target=lambda: httpd.serve_forever(poll_interval=0.05),
            name="kalshi-demo-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        if self._thread is not None and self._thread.is_alive():
            self._httpd.shutdown()  # waits for the serving loop, so only while it runs
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd, self._thread = None, None

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted."""
        if self._httpd is None:
            self._httpd = _DemoHTTPServer(self._address, self.api)
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()
            self._httpd = None

    def bind(self) -> DemoServer:
        """Bind the socket without serving yet (to learn the port of port 0 before serve_forever)."""
        if self._httpd is None:
            self._httpd = _DemoHTTPServer(self._address, self.api)
        return self

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    exchange: Any | None = None,
    faults: Faults | FaultConfig | None = None,
    *,
    rate_limits: ServerRateLimits | None = DEFAULT_RATE_LIMITS,
    announce: Callable[[str], None] = print,
    **kwargs: Any,
) -> None:
    """Serve the demo API in the foreground until SIGINT or SIGTERM; announces the base URL first."""
    _stop_on_interrupts()
    if isinstance(faults, FaultConfig):
        faults = Faults(faults)
    server = DemoServer(
        exchange, host=host, port=port, faults=faults, rate_limits=rate_limits, **kwargs
    ).bind()
    cutoff = getattr(server.api.exchange, "historical_cutoff", None)
    tiers = f"; historical tier before {cutoff:%Y-%m-%dT%H:%M:%SZ}" if cutoff is not None else ""
    announce(f"Kalshi demo API serving at {server.base_url} (key id {server.api.api_key_id}{tiers})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_interrupts() -> None:
    """Make SIGINT and SIGTERM stop the server, even when its parent had blocked or ignored them: a child
    inherits the signal mask and ignored signals, and a blocked SIGINT would never reach the server."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
