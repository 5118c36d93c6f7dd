"""A time limit on a piece of work, checked cooperatively by the loops that do it.

``rnnkit serve`` runs each model call inside :func:`limit`; the loops that can run
long (decoding steps, sampling steps, forecast steps) call :func:`check` once per
step, so a call that runs past its limit stops with :class:`WorkTimeout` and the
worker is free for the next request. Outside :func:`limit` (the command line),
:func:`check` costs one context-variable lookup and never raises.

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

_ENDS_AT: contextvars.ContextVar[Optional[float]] = contextvars.ContextVar("rnnkit_deadline", default=None)


class WorkTimeout(Exception):
    """The work ran past the time limit set by :func:`limit`."""


@contextmanager
def limit(seconds: Optional[float]) -> Iterator[None]:
    """Run the block with a time limit of ``seconds`` (None: no limit; an outer, earlier limit stays)."""
    ends_at = None if seconds is None else time.monotonic() + seconds
    outer = _ENDS_AT.get()
    if outer is not None and (ends_at is None or outer < ends_at):
        ends_at = outer
    token = _ENDS_AT.set(ends_at)
    try:
        yield
    finally:
        _ENDS_AT.reset(token)


def remaining() -> Optional[float]:
    """Seconds left under the current limit (None when there is none)."""
    ends_at = _ENDS_AT.get()
    return None if ends_at is None else ends_at - time.monotonic()


def check() -> None:
    """Raise :class:`WorkTimeout` when the current limit has passed; otherwise do nothing."""
    ends_at = _ENDS_AT.get()
    if ends_at is not None and time.monotonic() > ends_at:
        raise WorkTimeout("the work ran past its time limit")
