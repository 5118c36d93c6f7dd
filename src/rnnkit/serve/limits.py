"""The limits of a server (:class:`Limits`) and their ``rnnkit serve`` options.

This module imports no server library, so the CLI can show the options
without FastAPI installed.
"""

from __future__ import annotations

from argparse import ArgumentTypeError
from dataclasses import dataclass, fields
from typing import Optional

#: How far a served answer may be from the same request answered alone. Concurrent requests of a
#: batchable command share one model call, whose float results can differ in the last digits from
#: a call of one request (another batch size or padding: another summation order; measured: at
#: most about 2e-7 in probabilities and 6e-7 in cosines). Every number in an answer is within
#: TOLERANCE (absolute, or relative for numbers above 1) of the answer alone, rankings are the same
#: but for scores within TOLERANCE of each other, and every string (names, tags, translations,
#: replies) is equal. Commands that are not batched answer exactly as alone.
TOLERANCE = 1e-5


def _bounded(kind: type, low: float, inclusive: bool):
    """An argparse type: a finite ``kind`` above ``low`` (or equal to it when ``inclusive``)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        if not (value >= low if inclusive else value > low) or value == float("inf"):
            raise ArgumentTypeError(f"expected a finite number {'>=' if inclusive else '>'} {low:g}, got {text}")
        return value

    return parse


_positive_int, _positive_float, _non_negative_float = (
    _bounded(int, 1, True),
    _bounded(float, 0, False),
    _bounded(float, 0, True),
)


@dataclass(frozen=True)
class Limits:
    """What one request may ask, and how requests are batched.

    Attributes:
        max_body_bytes: larger bodies are answered 413.
        timeout_s: a model call running this long is stopped at its next step and
            answered 504.
        queue_timeout_s: a request still queued this long is answered 503. None (the
            default): twice ``timeout_s``, so a request queued behind one call of the most
            work the ranges allow still starts.
        max_batch: most requests merged into one model call.
        batch_wait_ms: how long the first request of a batch waits for others.
        max_queue: requests waiting at most; more are answered 503.
        read_timeout_s: a connection must deliver a complete request (headers
            and body) this soon after opening or after its previous answer, or
            it is closed (408 when part of a request had arrived).
        max_connections: open connections at most; one more closes the one
            waiting longest for its request (or is answered 503 when all are busy).
    """

    max_body_bytes: int = 64 * 1024
    timeout_s: float = 30.0
    queue_timeout_s: Optional[float] = None
    max_batch: int = 16
    batch_wait_ms: float = 5.0
    max_queue: int = 256
    read_timeout_s: float = 10.0
    max_connections: int = 128

    def __post_init__(self) -> None:
        if self.queue_timeout_s is None:
            object.__setattr__(self, "queue_timeout_s", 2 * self.timeout_s)


#: option -> (type, default, help)
LIMIT_HELP = {
    "--max-body-bytes": (_positive_int, Limits.max_body_bytes, "larger request bodies are answered 413"),
    "--timeout-s": (
        _positive_float,
        Limits.timeout_s,
        "time limit of a model call: past it the call is stopped at its next step (504)",
    ),
    "--queue-timeout-s": (
        _positive_float,
        Limits.queue_timeout_s,
        "time limit of a request waiting in the queue (then 503); default twice --timeout-s, "
        "so a request behind one call of the most work allowed still starts",
    ),
    "--max-batch": (_positive_int, Limits.max_batch, "most concurrent requests merged into one model call"),
    "--batch-wait-ms": (
        _non_negative_float,
        Limits.batch_wait_ms,
        "how long a batchable request waits for others to share its call",
    ),
    "--max-queue": (_positive_int, Limits.max_queue, "most requests waiting; more are answered 503"),
    "--read-timeout-s": (
        _positive_float,
        Limits.read_timeout_s,
        "a connection that has not sent a complete request (headers and body) this long after "
        "opening, or after its previous answer, is closed (408)",
    ),
    "--max-connections": (
        _positive_int,
        Limits.max_connections,
        "most open connections; one more closes the one waiting longest for its request",
    ),
}


def limits_from_args(args) -> Limits:
    """The :class:`Limits` of parsed ``rnnkit serve`` options."""
    return Limits(**{f.name: getattr(args, f.name) for f in fields(Limits)})
