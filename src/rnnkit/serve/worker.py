"""The model thread of ``rnnkit serve``: one daemon thread that runs functions for the event loop.

Why not a ``ThreadPoolExecutor``: its threads are joined when the interpreter
exits, so a model call that cannot be stopped would keep a server that was
told to stop (Ctrl-C) alive until the call ends. This thread is a daemon: the
server stops its running call cooperatively (:meth:`rnnkit.deadline.Limit.stop`)
and then exits whether or not the call noticed.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any, Callable


def _settle(future: asyncio.Future, error: BaseException | None, result: Any) -> None:
    """Give ``future`` its outcome, unless whoever waited for it has given up (cancelled it)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Worker:
    """One daemon thread running ``function(*args)`` calls in order; :meth:`run` gives an awaitable."""

    def __init__(self, name: str = "rnnkit-model") -> None:
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def run(self, function: Callable, *args: Any) -> asyncio.Future:
        """``function(*args)`` queued for the thread; a future of the running loop gets its outcome."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._tasks.put((loop, future, function, args))
        return future

    def stop(self, wait_s: float = 0.0) -> None:
        """Let the thread end after its current call (waiting at most ``wait_s`` for it)."""
        self._tasks.put(None)
        self._thread.join(wait_s)

    def _serve(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            loop, future, function, args = task
            error, result = None, None
            try:
                result = function(*args)
            except BaseException as err:  # noqa: BLE001 - handed to the awaiting coroutine
                error = err
            try:
                loop.call_soon_threadsafe(_settle, future, error, result)
            except RuntimeError:  # the loop has closed: nobody waits any more
                return
