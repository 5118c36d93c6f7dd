"""A time limit on a piece of work, checked cooperatively by the loops that do it.

``rnnkit serve`` runs each model call inside :func:`limit`; the loops that can run
long (decoding steps, sampling steps, forecast steps) call :func:`check` once per
step, so a call that runs past its limit stops with :class:`WorkTimeout` and the
worker is free for the next request. Outside :func:`limit` (the command line),
:func:`check` costs one context-variable lookup and never raises. :func:`limit`
yields a :class:`Limit` whose ``stop()``, called from any thread, ends the work
at its next check (the server does so when it shuts down).

Example::

    with deadline.limit(30.0):
        for step in range(length):
            deadline.check()
            ...
"""

from __future__ import annotations

import contextvars
import time
from contextlib import contextmanager
from typing import Iterator, Optional


class Limit:
    """The handle :func:`limit` yields: :meth:`stop` (from any thread) ends the work at its next check."""

    __slots__ = ("ends_at", "outer")

    def __init__(self, ends_at: float, outer: Optional["Limit"]) -> None:
        self.ends_at, self.outer = ends_at, outer

    def stop(self) -> None:
        """Make the next :func:`check` under this limit raise (e.g. a server shutting down)."""
        self.ends_at = float("-inf")


_LIMIT: contextvars.ContextVar[Optional[Limit]] = contextvars.ContextVar("rnnkit_deadline", default=None)


class WorkTimeout(Exception):
    """The work ran past the time limit set by :func:`limit` (or the limit was stopped)."""


@contextmanager
def limit(seconds: Optional[float]) -> Iterator[Limit]:
    """Run the block with a time limit of ``seconds`` (None: no limit; an outer, earlier limit stays)."""
    outer = _LIMIT.get()
    ends_at = float("inf") if seconds is None else time.monotonic() + seconds
    handle = Limit(ends_at, outer)
    token = _LIMIT.set(handle)
    try:
        yield handle
    finally:
        _LIMIT.reset(token)


def _ends_at() -> Optional[float]:
    """The earliest end of the current limit and those around it (None when there is none)."""
    current, ends_at = _LIMIT.get(), None
    while current is not None:
        ends_at = current.ends_at if ends_at is None else min(ends_at, current.ends_at)
        current = current.outer
    return None if ends_at is None or ends_at == float("inf") else ends_at


def remaining() -> Optional[float]:
    """Seconds left under the current limit (None when there is none)."""
    ends_at = _ends_at()
    return None if ends_at is None else ends_at - time.monotonic()


def check() -> None:
    """Raise :class:`WorkTimeout` when the current limit has passed; otherwise do nothing."""
    if _LIMIT.get() is None:
        return
    ends_at = _ends_at()
    if ends_at is not None and time.monotonic() > ends_at:
        raise WorkTimeout("the work ran past its time limit")
