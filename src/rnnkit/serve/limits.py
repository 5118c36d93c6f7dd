"""The limits of a server (:class:`Limits`) and their ``rnnkit serve`` options.

This module imports no server library, so the CLI can show the options
without FastAPI installed.
"""
from __future__ import annotations

from argparse import ArgumentTypeError
from dataclasses import dataclass, fields


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


_positive_int, _positive_float, _non_negative_float = _bounded(int, 1, True), _bounded(float, 0, False), \
    _bounded(float, 0, True)


@dataclass(frozen=True)
class Limits:
    """What one request may ask, and how requests are batched.

    Attributes:
        max_body_bytes: larger bodies are answered 413.
        timeout_s: a request not answered this long after it was queued gets
            503 (still waiting) or 504 (its model call is running).
        max_batch: most requests merged into one model call.
        batch_wait_ms: how long the first request of a batch waits for others.
        max_queue: requests waiting at most; more are answered 503.
    """
    max_body_bytes: int = 64 * 1024
    timeout_s: float = 30.0
    max_batch: int = 16
    batch_wait_ms: float = 5.0
    max_queue: int = 256


#: option -> (type, default, help)
LIMIT_HELP = {
    "--max-body-bytes": (_positive_int, Limits.max_body_bytes, "larger request bodies are answered 413"),
    "--timeout-s": (_positive_float, Limits.timeout_s,
                    "per-request time limit: 503 while still queued, 504 once its model call runs"),
    "--max-batch": (_positive_int, Limits.max_batch, "most concurrent requests merged into one model call"),
    "--batch-wait-ms": (_non_negative_float, Limits.batch_wait_ms,
                        "how long a batchable request waits for others to share its call"),
    "--max-queue": (_positive_int, Limits.max_queue, "most requests waiting; more are answered 503"),
}


def limits_from_args(args) -> Limits:
    """The :class:`Limits` of parsed ``rnnkit serve`` options."""
    return Limits(**{f.name: getattr(args, f.name) for f in fields(Limits)})
