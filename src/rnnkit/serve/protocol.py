"""HTTP/1.1 guards of ``rnnkit serve`` around uvicorn's h11 protocol: slow clients, too many
connections, ambiguous framing.

uvicorn times out only idle keep-alive connections, and only until the next
byte arrives: a client that connects and sends nothing, or sends its headers
one byte at a time, holds its connection for ever, and enough of them use up
the server's file descriptors. :func:`guarded_protocol` adds two rules:

* **read timeout**: a connection must deliver a complete request (headers and
  body) within ``read_timeout_s`` of opening, or of the answer to its previous
  request; otherwise it is closed (with a 408 answer when part of a request had
  arrived). Time spent by the model is not counted: the request is complete.
* **connection cap**: at most ``max_connections`` are open. One more makes room
  by closing the connection that has waited longest for its request to arrive
  (a stalled or slow client); when every open connection has a request being
  answered, the new one is answered 503 and closed.

h11 accepts a request with both ``Content-Length`` and ``Transfer-Encoding``
(it uses the chunked framing, as RFC 9112 allows); a proxy in front may use
the other and see a different request. :class:`RefuseAmbiguousFraming`
answers such a request 400 and closes its connection.
"""

from __future__ import annotations

import json
from typing import Any, Optional

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


def raw_answer(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 error answer (JSON body, ``Connection: close``) written outside h11."""
    body = json.dumps({"error": message, "status": status}).encode() + b"\n"
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a read timeout and a connection cap (see the module)."""

    read_timeout_s: float = 10.0
    max_connections: int = 128

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        self._read_timer: Optional[Any] = None
        super().connection_made(transport)
        self._start_waiting()
        if len(self.connections) > self.max_connections:
            self._make_room()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._cancel_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._start_waiting()

    def awaiting_request(self) -> bool:
        """True while the next request has not fully arrived (nothing of it, part of it, or its body)."""
        if self.transport is None or self.transport.is_closing():
            return False
        if self.conn.their_state is h11.SEND_BODY:
            return True
        return self.conn.their_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete)

    def _start_waiting(self) -> None:
        self.waiting_since = self.loop.time()
        self._cancel_timer()
        self._read_timer = self.loop.call_later(self.read_timeout_s, self._read_timeout)

    def _cancel_timer(self) -> None:
        if getattr(self, "_read_timer", None) is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timeout(self) -> None:
        self._read_timer = None
        if self.awaiting_request():
            self.close_waiting(
                408,
                "Request Timeout",
                f"the request did not arrive complete within {self.read_timeout_s:g} s (--read-timeout-s)",
            )

    def close_waiting(self, status: int, reason: str, message: str) -> None:
        """Close this connection, which waits for its request; answered when part of one had arrived."""
        partial = self.conn.their_state is h11.IDLE and bool(self.conn.trailing_data[0])
        if partial:
            self.transport.write(raw_answer(status, reason, message))
        self.transport.close()

    def _make_room(self) -> None:
        """Close the connection waiting longest for its request, or refuse this one (503)."""
        waiting = [
            c for c in self.connections if c is not self and isinstance(c, GuardedH11Protocol) and c.awaiting_request()
        ]
        if waiting:
            oldest = min(waiting, key=lambda c: c.waiting_since)
            oldest.close_waiting(
                503,
                "Service Unavailable",
                f"closed to make room: {self.max_connections} connections are open (--max-connections)",
            )
            return
        self.transport.write(
            raw_answer(
                503,
                "Service Unavailable",
                f"the server is busy: {self.max_connections} "
                "connections are open, each with a request being answered "
                "(--max-connections); try again shortly",
            )
        )
        self.transport.close()


def guarded_protocol(read_timeout_s: float, max_connections: int) -> type:
    """A :class:`GuardedH11Protocol` class with these limits (uvicorn's ``http`` option takes a class)."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"read_timeout_s": read_timeout_s, "max_connections": max_connections},
    )


class RefuseAmbiguousFraming:
    """ASGI middleware: 400 and ``Connection: close`` for a request with both body framings."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            names = {name.lower() for name, _ in scope.get("headers", ())}
            if b"content-length" in names and b"transfer-encoding" in names:
                body = (
                    json.dumps(
                        {
                            "error": "the request has both Content-Length and Transfer-Encoding; send one of them",
                            "status": 400,
                        }
                    ).encode()
                    + b"\n"
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"connection", b"close"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
