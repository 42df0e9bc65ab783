"""The HTTP side of :mod:`oracles.human`: a threaded stdlib server on loopback.

Routes (every one needs the session token, else 403):

* ``GET /?token=TOKEN``: the page;
* ``GET /api/query``: the open query (or ``{"id": null, "state": "waiting" | "done"}``);
* ``POST /api/answer`` ``{"id", "order"}``: 200, 400 (not a valid ranking, nothing recorded),
  409 (stale or already answered query id);
* ``POST /api/undo`` ``{"id"}``: 200 while the last answer waits in its undo window, else 409.

The API reads the token only from ``Authorization: Bearer``; the page reads it from the URL. The
``Host`` header must name the bound address (a page on another site cannot reach the server
through DNS rebinding), a cross-site ``Origin`` is refused, bodies are capped, and responses carry
no server version, no paths and no tracebacks.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from oracles._human_page import page

__all__ = ["PageServer"]

MAX_BODY = 64 * 1024
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class _Handler(BaseHTTPRequestHandler):
    server_version = "ranking-page"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # requests are not logged: a URL carries the token

    # -- plumbing ----------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
              ) -> None:
        self.send_response(status)
        headers = {"Content-Type": ctype, "Content-Length": str(len(body)),
                   "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                   "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                   **(extra or {})}
        if status >= 400:  # an unread request body must not be parsed as the next request
            headers["Connection"] = "close"
            self.close_connection = True
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: dict[str, Any]) -> None:
        self._send(status, json.dumps(data).encode("utf-8"), "application/json")

    def _host_ok(self) -> bool:
        host = self.headers.get("Host", "")
        port = self.server.server_address[1]
        allowed = {f"{h}:{port}" for h in (*_LOOPBACK_NAMES, self.server.host_name)}
        if host not in allowed:
            return False
        origin = self.headers.get("Origin")
        return origin is None or origin in {f"http://{h}" for h in allowed}

    def _token_ok(self, api: bool) -> bool:
        want = self.server.token
        if api:
            auth = self.headers.get("Authorization", "")
            got = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        else:
            got = (parse_qs(urlsplit(self.path).query).get("token") or [""])[0]
        return bool(got) and hmac.compare_digest(got.encode(), want.encode())

    def _guard(self, api: bool) -> bool:
        if not self._host_ok():
            self._json(403, {"error": "forbidden host or origin"})
            return False
        if not self._token_ok(api):
            where = "an Authorization: Bearer header" if api else "?token= in the page URL"
            self._json(403, {"error": f"missing or wrong token (send it as {where})"})
            return False
        return True

    def _body(self) -> dict[str, Any] | None:
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            n = -1
        if not 0 < n <= MAX_BODY:
            self._json(400, {"error": f"the body must be a JSON object of 1..{MAX_BODY} bytes"})
            return None
        try:
            data = json.loads(self.rfile.read(n))
        except ValueError:
            self._json(400, {"error": "the body is not JSON"})
            return None
        if not isinstance(data, dict):
            self._json(400, {"error": "the body must be a JSON object"})
            return None
        return data

    # -- routes ------------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = urlsplit(self.path).path
        api = path.startswith("/api/")
        if not self._guard(api):
            return
        if path == "/":
            nonce = secrets.token_urlsafe(12)
            csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
                   "img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                   "frame-ancestors 'none'")
            self._send(200, page(self.server.title, nonce), "text/html; charset=utf-8",
                       {"Content-Security-Policy": csp})
        elif path == "/api/query":
            self._json(200, self.server.board.snapshot())
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        path = urlsplit(self.path).path
        if not self._guard(api=True):
            return
        if path not in ("/api/answer", "/api/undo"):
            self._json(404, {"error": "not found"})
            return
        body = self._body()
        if body is None:
            return
        if path == "/api/answer":
            status, data = self.server.board.answer(body.get("id"), body.get("order"))
        else:
            status, data = self.server.board.undo(body.get("id"))
        self._json(status, data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    board: Any
    token: str
    title: str
    host_name: str


class PageServer:
    """Serve ``board`` (an object with ``snapshot``, ``answer``, ``undo``) in a daemon thread."""

    def __init__(self, board: Any, *, host: str, port: int, token: str, title: str) -> None:
        self.httpd = _Server((host, port), _Handler)
        self.httpd.board, self.httpd.token, self.httpd.title = board, token, title
        self.httpd.host_name = f"[{host}]" if ":" in host else host
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="ranking-page",
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
