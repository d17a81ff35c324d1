"""The Emulator: a ThreadingHTTPServer on 127.0.0.1 with fault injection and a request log."""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from sync.emulator.billomat import ApiRequest, ApiResponse, BillomatApi
from sync.emulator.config import EmulatorConfig, LoggedRequest
from sync.emulator.faults import FaultInjector, html_error_page
from sync.emulator.ratelimit import RateLimiter
from sync.emulator.seed import Account
from sync.emulator.snapbill import SnapBillApi
from sync.emulator.snapbill_state import SnapBillAccount, SnapBillState
from sync.emulator.state import BillomatState

log = logging.getLogger("sync.emulator")
HOST = "127.0.0.1"
_API_PREFIXES = ("/billomat/", "/snapbill/")


class Emulator:
    """The built-in emulator of both APIs: state, rate limit, faults and log behind one lock."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.state = BillomatState(self.config.account or Account(), self.config)
        self.lock = self.state.lock  # the one lock: state, log, rate limiter and fault dice
        self.rate_limiter = RateLimiter(self.config.clock)
        self.billomat = BillomatApi(self.config, self.state, self.rate_limiter)
        sb = self.config.snapbill
        self.snapbill_state = SnapBillState(sb.account or SnapBillAccount(), sb, self.config.clock.now)
        self.snapbill = SnapBillApi(sb, self.snapbill_state)
        self._faults = FaultInjector(self.config.faults)
        self._log: list[LoggedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> str:
        """Bind 127.0.0.1 (config.port, 0 = any) and serve in a daemon thread; returns the base URL."""
        if self._server is not None:
            raise RuntimeError("emulator already running")
        self._stopping.clear()
        self._server = _Server((HOST, self.config.port), _Handler)
        self._server.emulator = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="emulator", daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and close the socket (held `timeout` connections are released at once)."""
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @contextmanager
    def running(self) -> Iterator[str]:
        """Serve for the duration of the block; yields the base URL "http://127.0.0.1:PORT"."""
        base = self.start()
        try:
            yield base
        finally:
            self.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stop() (Ctrl-C raises KeyboardInterrupt); True when stopped, False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        # Waits in slices (a signal is only handled between them), never past the deadline.
        while not self._stopping.wait(0.25 if deadline is None else max(0.0, min(0.25, deadline - time.monotonic()))):
            if deadline is not None and time.monotonic() >= deadline:
                return False
        return True

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (KeyboardInterrupt propagates after closing)."""
        if self._server is not None:
            raise RuntimeError("emulator already running")
        self._stopping.clear()
        self._server = _Server((HOST, self.config.port), _Handler)
        self._server.emulator = self
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._stopping.set()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        """The bound port (only while running)."""
        if self._server is None:
            raise RuntimeError("emulator is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT (only while running)."""
        return f"http://{HOST}:{self.port}"

    @property
    def billomat_url(self) -> str:
        """The Billomat API root of the emulated account: {base_url}/billomat/{billomat_id}/api."""
        return f"{self.base_url}{self.billomat.root}"

    @property
    def snapbill_url(self) -> str:
        """The SnapBill API root (SNAPBILL_BASE_URL): {base_url}/snapbill/v1."""
        return f"{self.base_url}{self.snapbill.root}"

    # ------------------------------------------------------------------ log and faults
    @property
    def requests(self) -> list[LoggedRequest]:
        """A copy of the request log (oldest first)."""
        with self.lock:
            return list(self._log)

    def clear_log(self) -> None:
        """Empty the request log."""
        with self.lock:
            self._log.clear()

    def force(
        self, kind: str, count: int = 1, method: str | None = None, path_contains: str | None = None
    ) -> None:
        """Make the next `count` API requests matching method/path fail with `kind`.

        kind: "502", "503", "5xx", "429", "timeout", "lost" or "truncate".
        """
        with self.lock:
            self._faults.force(kind, count, method, path_contains)

    def clear_forced(self) -> None:
        """Cancel pending forced faults."""
        with self.lock:
            self._faults.clear_forced()

    # ------------------------------------------------------------------ request handling
    def _handle(self, h: _Handler) -> None:
        method = h.command
        split = urlsplit(h.path)
        path = unquote(split.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length > 0 else b""
        req = ApiRequest(method, path, query, h.headers, body)  # type: ignore[arg-type]
        logged_query = {k: v for k, v in query.items() if k != "api_key"}  # never log the key

        if not path.startswith(_API_PREFIXES):
            self._record(method, path, logged_query, 404, None)
            self._send(h, ApiResponse(404, b"Not found\n", "text/plain; charset=utf-8"), method)
            return
        api: BillomatApi | SnapBillApi = self.billomat
        rel = self.billomat.rel_path(path)
        if path.startswith("/snapbill/"):
            # SnapBill is logged with its full path and its form fields (its parameters travel in the body).
            api, rel = self.snapbill, path
            logged_query = {k: v for k, v in self.snapbill.log_params(req).items() if k != "password"}
        with self.lock:
            fault = self._faults.decide(method, rel)
        if fault in ("502", "503"):
            # a load-balancer error: HTML body, the request never reaches the API (nothing written)
            self._record(method, rel, logged_query, int(fault), fault)
            self._send(h, ApiResponse(int(fault), html_error_page(fault), "text/html"), method)
            return
        if fault == "timeout":
            # hold the connection, then close without a word; nothing written
            self._record(method, rel, logged_query, None, fault)
            self._stopping.wait(self.config.timeout_hold)
            h.close_connection = True
            return
        with self.lock:
            resp = api.injected_429(req) if fault == "429" else api.handle(req)
            self._record(method, rel, logged_query, resp.status, fault)
        if fault == "lost":
            # the request was performed, but the answer never arrives: close without a response
            h.close_connection = True
            return
        if fault == "truncate" and resp.body:
            resp.body = resp.body[: len(resp.body) // 2]
        self._send(h, resp, method)

    def _record(
        self, method: str, path: str, query: dict[str, str], status: int | None, fault: str | None
    ) -> None:
        with self.lock:
            self._log.append(LoggedRequest(method, path, query, status, fault, self.config.clock.now()))

    @staticmethod
    def _send(h: _Handler, resp: ApiResponse, method: str) -> None:
        h.send_response(resp.status)
        h.send_header("Content-Type", resp.content_type)
        h.send_header("Content-Length", str(len(resp.body)))
        for name, value in resp.headers:
            h.send_header(name, value)
        h.end_headers()
        if method != "HEAD" and resp.body:
            h.wfile.write(resp.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # don't wait for held (timeout-fault) connections on close
    allow_reuse_address = True
    request_queue_size = 128
    emulator: Emulator

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away is normal (timeouts, lost answers); anything else goes to the log."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError):
            log.error("emulator: error serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer has a Content-Length
    wbufsize = 64 * 1024  # headers + body leave in one write (flushed after each request) ...
    server: _Server

    def setup(self) -> None:
        """... and Nagle is off: no 40 ms delayed-ACK stalls on keep-alive connections."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        """The Server header."""
        return "nginx"

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header follows the emulator's clock."""
        return formatdate(
            self.server.emulator.config.clock.now() if timestamp is None else timestamp, usegmt=True
        )

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Silence the stdlib's per-request stderr line."""

    def _dispatch(self) -> None:
        try:
            self.server.emulator._handle(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            log.exception("emulator: internal error on %s %s", self.command, self.path)
            body = b'{"errors":{"error":"internal emulator error"}}'
            try:
                self.send_response(500)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _dispatch
