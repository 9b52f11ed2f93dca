"""A wall-clock limit on one HTTP response, headers and body together.

Why: httpx's read timeout restarts on every byte, so a server that sends one byte a
second (a slow-loris, in headers or body) never times out. A timer shuts the request's
socket down when the limit passes, which wakes a read blocked in the headers; the body
loop also checks `passed` between pieces. The socket is learnt from httpcore's trace
events, so the client must open a fresh connection per request (no keep-alive pool).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

__all__ = ["Deadline"]

_CONNECTED = ("connection.connect_tcp.complete", "connection.start_tls.complete")


class Deadline:
    """Usage: `with Deadline(s) as d: client.stream(..., extensions={"trace": d.trace})`, then `d.passed`."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._stream: Any = None
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._started = time.monotonic()
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    @property
    def passed(self) -> bool:
        return self.expired or time.monotonic() - self._started > self.seconds

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore trace hook: remember the connection's stream (the TLS one once wrapped)."""
        if event in _CONNECTED and info.get("return_value") is not None:
            with self._lock:
                self._stream = info["return_value"]
            if self.expired:
                self._cut()

    def _expire(self) -> None:
        self.expired = True
        self._cut()

    def _cut(self) -> None:
        """Shut the socket down: a blocked read returns at once and the request fails."""
        with self._lock:
            stream = self._stream
        if stream is None:
            return  # still connecting: the connect timeout bounds that
        with contextlib.suppress(Exception):
            sock = stream.get_extra_info("socket")
            sock.shutdown(socket.SHUT_RDWR)
