"""One model call at a time, with concurrent requests merged where the command allows it.

Requests wait in one queue. A single worker thread runs the model (torch on a
CPU is not made for several calls at once: they would fight over the same
intra-op threads and hold the GIL in turn). Before each call the batcher takes
the oldest request and, when its command declares a ``batch`` field
(:class:`~rnnkit.train.recipe.Serving`), gathers the queued requests that can
share the call (same command, equal in every other field) for up to
``wait_s`` or until ``max_batch`` requests: their lists are concatenated, the
model runs once, and the ``output`` list is split back. Requests that arrive
while a call runs are gathered for the next one, so a busy server batches
by itself; an idle one adds at most ``wait_s`` to a batchable request.

A merged call that fails on one request's input (ValueError) is run again one
request at a time, so only that request gets the error.

Time limits: a request may wait ``queue_timeout_s`` in the queue (then it is
dropped: 503), and its model call may run ``timeout_s`` (then it is stopped:
504), so a client has its answer within ``queue_timeout_s + timeout_s``. The call runs
inside :func:`rnnkit.deadline.limit`, so the decoding, sampling and forecast
loops stop at their next step once its time has passed and the worker is free
for the next request. (A call's limit starts when it starts, not when the
request was queued, so that a light request queued behind a call that used its
whole limit still has time for its own.) Requests merged into one call share
its limit.

When the server is told to stop (Ctrl-C), the requests under way get a short
grace (:meth:`Batcher.drain`); then the running call is stopped the same way
and they are answered 503.

Merged answers are not bit-identical to the same request alone (another batch
size or padding, another summation order); :data:`rnnkit.serve.TOLERANCE`
states how far they may be.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Optional

import torch

from rnnkit import deadline
from rnnkit.train.params import Values
from rnnkit.train.recipe import Serving

from .validate import RequestError
from .worker import Worker

Outcome = tuple[Optional[dict], Optional[BaseException]]


@dataclass(eq=False)
class Job:
    """One request: its command, its checked fields, the future its answer goes to, and its
    deadline (``time.monotonic()``): to start while queued, then to finish once started."""

    command: str
    serving: Serving
    request: Values
    future: asyncio.Future
    ends_at: float = float("inf")
    started: bool = False
    abandoned: bool = False
    key: Optional[str] = field(default=None)

    def __post_init__(self) -> None:
        serving = self.serving
        if serving.batch and (serving.batchable is None or serving.batchable(self.request)):
            rest = {k: v for k, v in self.request.items() if k != serving.batch}
            self.key = self.command + "\0" + json.dumps(rest, sort_keys=True)


def timed_out(command: str, timeout_s: float) -> RequestError:
    """The 504 of a request whose model call ran past its time."""
    return RequestError(
        504,
        f"{command}: the model call did not finish within {timeout_s:g} s (--timeout-s) "
        "and was stopped; ask for less work (e.g. fewer items or a shorter length)",
    )


def internal(err: BaseException) -> RequestError:
    """The 500 of an unexpected failure: its type and first 300 characters, on one line."""
    return RequestError(500, f"internal error: {type(err).__name__}: {' '.join(str(err).split())[:300]}")


class Batcher:
    """The queue and the worker thread of a served model.

    Args:
        model: the trained model every command's ``handle`` gets.
        max_batch: most requests merged into one model call.
        wait_s: how long the first request of a batch waits for others.
        max_queue: requests waiting at most; one more is answered 503.
        timeout_s: the time limit of a model call (then stopped: 504).
        queue_timeout_s: the time limit of a request in the queue (then 503; default ``timeout_s``).

    Attributes:
        calls: model calls made; ``merged``: requests answered by a call shared with others.
    """

    def __init__(
        self,
        model: Any,
        max_batch: int = 16,
        wait_s: float = 0.005,
        max_queue: int = 256,
        timeout_s: Optional[float] = None,
        queue_timeout_s: Optional[float] = None,
    ) -> None:
        self.model, self.max_batch, self.wait_s, self.max_queue = model, max_batch, wait_s, max_queue
        self.timeout_s = timeout_s
        self.queue_timeout_s = timeout_s if queue_timeout_s is None else queue_timeout_s
        self.calls = self.merged = 0
        self._queue: deque[Job] = deque()
        self._wake: Optional[asyncio.Event] = None
        self._worker: Optional[Worker] = None
        self._task: Optional[asyncio.Task] = None
        self._running: Optional[deadline.Limit] = None
        self._busy = self._stopping = False

    def start(self) -> None:
        """Start the worker thread and the batching loop on the running event loop."""
        self._wake, self._worker = asyncio.Event(), Worker()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def drain(self, grace_s: float) -> None:
        """Let the running and queued requests finish for up to ``grace_s``; then stop the running
        call (at its next deadline check) and answer it and the queued ones 503."""
        until = time.monotonic() + grace_s
        while (self._busy or self.waiting) and time.monotonic() < until:
            await asyncio.sleep(0.02)
        self._stopping = True
        running = self._running
        if running is not None:
            running.stop()
        while self._queue:
            job = self._queue.popleft()
            if not job.future.done():
                job.future.set_exception(self._stopped(job))

    async def stop(self, wait_s: float = 2.0) -> None:
        """Stop the loop and the running model call, and let the worker thread end."""
        await self.drain(0.0)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._worker is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._worker.stop, wait_s)

    @property
    def waiting(self) -> int:
        return sum(not job.abandoned for job in self._queue)

    def submit(self, command: str, serving: Serving, request: dict) -> Job:
        """Queue a request; 503 when the queue is full."""
        if self.waiting >= self.max_queue:
            raise RequestError(
                503,
                f"the server is busy: {self.max_queue} requests are already waiting (--max-queue); try again shortly",
            )
        ends_at = float("inf") if self.queue_timeout_s is None else time.monotonic() + self.queue_timeout_s
        job = Job(command, serving, Values(request), asyncio.get_running_loop().create_future(), ends_at)
        self._queue.append(job)
        self._wake.set()
        return job

    async def _loop(self) -> None:
        while True:
            first = self._next()
            if first is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            group = await self._gather(first) if first.key is not None else [first]
            group = [job for job in group if not job.future.done()]
            ends_at = float("inf") if self.timeout_s is None else time.monotonic() + self.timeout_s
            for job in group:
                job.started, job.ends_at = True, ends_at
            self._busy = True
            try:
                outcomes = await self._worker.run(self._run, group)
            except asyncio.CancelledError:
                raise
            except BaseException as err:  # noqa: BLE001 - a bug here answers 500; the loop goes on
                outcomes = [(None, internal(err))] * len(group)
            finally:
                self._busy = False
            for job, (result, error) in zip(group, outcomes):
                if job.future.done():
                    continue
                if error is not None:
                    job.future.set_exception(error)
                else:
                    job.future.set_result(result)

    def _next(self) -> Optional[Job]:
        while self._queue:
            job = self._queue.popleft()
            if not job.abandoned and not job.future.done():
                return job
        return None

    async def _gather(self, first: Job) -> list[Job]:
        """``first`` and the queued requests that can share its call, waiting up to ``wait_s``."""
        group, until = [first], time.monotonic() + self.wait_s
        while True:
            for job in [j for j in self._queue if j.key == first.key and not j.abandoned]:
                if len(group) >= self.max_batch:
                    break
                self._queue.remove(job)
                group.append(job)
            left = until - time.monotonic()
            if len(group) >= self.max_batch or left <= 0:
                return group
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except asyncio.TimeoutError:
                pass

    def _run(self, group: list[Job]) -> list[Outcome]:
        """In the worker thread: the group's call(s) under their deadline (the earliest, if several)."""
        left = min(job.ends_at for job in group) - time.monotonic()
        if left <= 0 or self._stopping:
            return [(None, self._stopped(job)) for job in group]
        with deadline.limit(None if left == float("inf") else left) as running:
            self._running = running
            try:
                return self._run_group(group)
            finally:
                self._running = None

    def _run_group(self, group: list[Job]) -> list[Outcome]:
        """One call for the group, or one per request if the merged one fails on an input."""
        if len(group) == 1:
            return [self._call(group[0])]
        serving = group[0].serving
        merged = Values(group[0].request, **{serving.batch: [x for job in group for x in job.request[serving.batch]]})
        result, error = self._call(group[0], merged)
        if isinstance(error, RequestError) and error.status in (503, 504):
            return [(None, self._stopped(job)) for job in group]
        if error is not None:
            return [self._call(job) for job in group]
        items, out, start = result.get(serving.output), [], 0
        if not isinstance(items, list) or len(items) != len(merged[serving.batch]):
            error = internal(ValueError(f"the merged answer's {serving.output!r} is not one entry per item"))
            return [(None, error)] * len(group)
        for job in group:
            count = len(job.request[serving.batch])
            out.append((dict(result, **{serving.output: items[start : start + count]}), None))
            start += count
        self.merged += len(group)
        return out

    def _stopped(self, job: Job) -> RequestError:
        if self._stopping:
            return RequestError(503, f"{job.command}: the server is shutting down; try again later")
        return timed_out(job.command, self.timeout_s or 0.0)

    def _call(self, job: Job, request: Optional[dict] = None) -> Outcome:
        """``job``'s command on ``request`` (its own by default): the answer, or the error to send."""
        self.calls += 1
        try:
            with torch.no_grad():
                result = job.serving.handle(self.model, job.request if request is None else request)
        except deadline.WorkTimeout:
            return None, self._stopped(job)
        except ValueError as err:
            return None, RequestError(422, " ".join(str(err).split()))
        except Exception as err:  # noqa: BLE001 - answered 500; the server goes on
            return None, internal(err)
        if not isinstance(result, dict):
            return None, internal(TypeError(f"{job.command} answered {type(result).__name__}, not an object"))
        return result, None
