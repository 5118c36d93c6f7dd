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
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Optional

import torch

from rnnkit.train.recipe import Serving

from .validate import RequestError


@dataclass(eq=False)
class Job:
    """One request: its command, its checked fields and the future its answer goes to."""
    command: str
    serving: Serving
    request: dict
    future: asyncio.Future
    started: bool = False
    abandoned: bool = False
    key: Optional[str] = field(default=None)

    def __post_init__(self) -> None:
        serving = self.serving
        if serving.batch and (serving.batchable is None or serving.batchable(self.request)):
            rest = {k: v for k, v in self.request.items() if k != serving.batch}
            self.key = self.command + "\0" + json.dumps(rest, sort_keys=True)


class Batcher:
    """The queue and the worker thread of a served model.

    Args:
        model: the trained model every command's ``handle`` gets.
        max_batch: most requests merged into one model call.
        wait_s: how long the first request of a batch waits for others.
        max_queue: requests waiting at most; one more is answered 503.

    Attributes:
        calls: model calls made; ``merged``: requests answered by a call shared with others.
    """

    def __init__(self, model: Any, max_batch: int = 16, wait_s: float = 0.005, max_queue: int = 256) -> None:
        self.model, self.max_batch, self.wait_s, self.max_queue = model, max_batch, wait_s, max_queue
        self.calls = self.merged = 0
        self._queue: deque[Job] = deque()
        self._wake: Optional[asyncio.Event] = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnnkit-model")
        self._task: Optional[asyncio.Task] = None

    def start(self) -> None:
        """Start the batching loop on the running event loop."""
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)

    @property
    def waiting(self) -> int:
        return sum(not job.abandoned for job in self._queue)

    def submit(self, command: str, serving: Serving, request: dict) -> Job:
        """Queue a request; 503 when the queue is full."""
        if self.waiting >= self.max_queue:
            raise RequestError(503, f"the server is busy: {self.max_queue} requests are already waiting "
                                    "(--max-queue); try again shortly")
        job = Job(command, serving, request, asyncio.get_running_loop().create_future())
        self._queue.append(job)
        self._wake.set()
        return job

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = self._next()
            if first is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            group = await self._gather(first) if first.key is not None else [first]
            for job in group:
                job.started = True
            outcomes = await loop.run_in_executor(self._executor, self._run, group)
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
            if not job.abandoned:
                return job
        return None

    async def _gather(self, first: Job) -> list[Job]:
        """``first`` and the queued requests that can share its call, waiting up to ``wait_s``."""
        group, deadline = [first], time.monotonic() + self.wait_s
        while True:
            for job in [j for j in self._queue if j.key == first.key and not j.abandoned]:
                if len(group) >= self.max_batch:
                    break
                self._queue.remove(job)
                group.append(job)
            left = deadline - time.monotonic()
            if len(group) >= self.max_batch or left <= 0:
                return group
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except asyncio.TimeoutError:
                pass

    def _run(self, group: list[Job]) -> list[tuple[Optional[dict], Optional[BaseException]]]:
        """In the worker thread: one call for the group, or one per request if the merged one fails."""
        if len(group) == 1:
            return [self._call(group[0].serving, group[0].request)]
        serving = group[0].serving
        merged = dict(group[0].request, **{serving.batch: [x for job in group for x in job.request[serving.batch]]})
        result, error = self._call(serving, merged)
        if error is not None:
            return [self._call(job.serving, job.request) for job in group]
        items, out, start = result[serving.output], [], 0
        for job in group:
            count = len(job.request[serving.batch])
            out.append((dict(result, **{serving.output: items[start:start + count]}), None))
            start += count
        self.merged += len(group)
        return out

    def _call(self, serving: Serving, request: dict) -> tuple[Optional[dict], Optional[BaseException]]:
        self.calls += 1
        try:
            with torch.no_grad():
                return serving.handle(self.model, request), None
        except ValueError as err:
            return None, RequestError(422, " ".join(str(err).split()))
        except Exception as err:  # noqa: BLE001 - answered 500; the server goes on
            return None, RequestError(500, f"internal error: {type(err).__name__}: {' '.join(str(err).split())[:300]}")
