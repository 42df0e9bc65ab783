"""A local ``blackbox serve`` that ``tune-prompt`` starts on the first request it really sends
(a re-run whose requests are all cached starts nothing) and stops at the end."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from blackbox.errors import ConfigError

__all__ = ["LazyTransport", "LocalServer"]


class LocalServer:
    def __init__(self, model: str, *, startup_timeout: float = 900.0) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.model, self.timeout = model, startup_timeout
        self.base = f"http://127.0.0.1:{self.port}/v1"
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready = False
        self._lock = threading.Lock()

    def ensure(self) -> None:
        with self._lock:
            if self.proc is not None:
                return
            import httpx

            print(f"tune-prompt: starting blackbox serve --model {self.model} on port "
                  f"{self.port}", file=sys.stderr, flush=True)
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "apps.cli", "serve", "--port", str(self.port), "--model",
                 self.model], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.time() + self.timeout
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise ConfigError(f"the local model server exited ({self.proc.returncode}); "
                                      f"try: blackbox serve --model {self.model}")
                try:
                    if httpx.get(self.base + "/models", timeout=2).status_code == 200:
                        self.ready = True
                        return
                except httpx.TransportError:
                    time.sleep(0.2)
            raise ConfigError(f"the local model server did not start in {self.timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
            self.ready = False


class LazyTransport:
    """An httpx transport that starts the :class:`LocalServer` before its first request."""

    def __init__(self, server: LocalServer) -> None:
        import httpx

        self.server = server
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: Any) -> Any:
        if not self.server.ready:
            await asyncio.to_thread(self.server.ensure)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aenter__(self) -> "LazyTransport":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
