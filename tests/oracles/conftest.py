"""A real ``blackbox serve`` on 127.0.0.1 for the model-API tests (one per set of flags)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, *flags: str) -> None:
        if "--model" not in flags:
            flags = ("--model", "toy", *flags)  # the server's default is the real model
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "apps.cli", "serve", "--port", str(self.port), *flags],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 900  # the real model loads in minutes on a busy machine
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/v1/models", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError("blackbox serve did not start: " + (self.proc.stdout.read() or ""))

    @property
    def base(self) -> str:
        return self.url + "/v1"

    def stats(self) -> dict:
        return httpx.get(self.url + "/stats", timeout=5).json()

    def reset(self) -> None:
        httpx.post(self.url + "/stats/reset", timeout=5)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def faulty_server():
    s = Server("--fail-429", "0.15", "--fail-500", "0.15", "--fail-timeout", "0.05",
               "--drop", "0.05", "--stall", "3", "--retry-after", "0.02", "--seed", "3")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def dropping_server():
    """Aborts 30% of the API requests' connections before any response byte."""
    s = Server("--drop", "0.3", "--seed", "5")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def model_server():
    """SmolLM2-135M-Instruct and MiniLM, loaded once for the whole session (~20-40 s)."""
    s = Server("--model", "smollm2", "--embed-model", "minilm")
    yield s
    s.stop()
