"""The HTTP application of ``rnnkit serve``: FastAPI routes over a :class:`~.batcher.Batcher`.

``POST /<command>`` for every use command whose recipe gives it a JSON form
(:class:`~rnnkit.train.recipe.Serving`), ``GET /health``, ``GET /`` and
``GET /commands``. Every answer is a JSON object; every error is
``{"error": message, "status": code, ...}`` with a message that says what is
wrong, and the server goes on serving after it:

* 400 malformed JSON; 404 unknown command or path; 405 wrong method;
  413 body over ``max_body_bytes``; 422 a field unknown, missing, of the wrong
  type or out of range, or input the model cannot take (e.g. an unknown word);
* 503 the request waited in the queue past ``queue_timeout_s`` (or the queue is
  full, or the server is stopping); 504 its model call ran past ``timeout_s``:
  the call is stopped at its next decoding/sampling/forecast step
  (:mod:`rnnkit.deadline`) and the worker goes on to the next request;
* 500 a bug, with its type, on one line; the server goes on.

``HEAD /health`` answers like ``GET /health`` without the body. A request
carrying both ``Content-Length`` and ``Transfer-Encoding`` is refused with 400
and its connection closed (:mod:`.protocol`: the two framings disagreeing is
how requests are smuggled past a proxy).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from dataclasses import asdict
from typing import Any, Optional, Sequence

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from rnnkit.train.recipe import Command

from .batcher import Batcher, Job, internal, timed_out
from .limits import TOLERANCE, Limits
from .protocol import RefuseAmbiguousFraming
from .validate import RequestError, describe, parse_body, validate

NOT_SERVED = "it has no JSON form: it reads or writes files on the server; use rnnkit {name} RUN on the command line"


def answer(status: int, body: dict) -> Response:
    """A JSON response; a body holding a non-finite number becomes a 500 that says so."""
    try:
        text = json.dumps(body, ensure_ascii=False, allow_nan=False)
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (echoed from a request): JSON's \\u escapes carry it
        data = json.dumps(body, allow_nan=False).encode("ascii")
    except (ValueError, TypeError) as err:
        status, data = (
            500,
            json.dumps({"error": f"internal error: the answer is not JSON ({err})", "status": 500}).encode(),
        )
    return Response(data + b"\n", status_code=status, media_type="application/json")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body; 413 as soon as it is known to exceed ``limit`` bytes."""

    def too_large(size: str) -> RequestError:
        return RequestError(
            413, f"the body is {size} bytes; at most {limit} are accepted (--max-body-bytes)", max_body_bytes=limit
        )

    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(declared)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise too_large(f"more than {limit}")
    except ClientDisconnect:  # closed by the client, or by the server for sending too slowly
        raise RequestError(400, "the connection closed before the body was complete") from None
    return bytes(body)


POLL_S = 0.05  # how late a 503 or 504 may come after its deadline


async def wait_for(job: Job, timeout_s: float, queue_timeout_s: float) -> dict:
    """The job's answer; 503 if it is still queued at its deadline, 504 if its call runs past its own."""
    while True:
        try:
            # waits in short slices: when the call starts, its own (earlier or later) deadline applies
            return await asyncio.wait_for(
                asyncio.shield(job.future), min(POLL_S, max(0.0, job.ends_at - time.monotonic()))
            )
        except asyncio.TimeoutError:
            if job.ends_at > time.monotonic():  # not yet at its deadline (the queue's or its call's)
                continue
        job.future.cancel()  # the worker drops the job, or its answer
        if not job.started:
            job.abandoned = True
            raise RequestError(
                503,
                f"{job.command}: waited {queue_timeout_s:g} s in the queue behind other "
                "requests without starting (--queue-timeout-s); the server is busy, try again",
            ) from None
        raise timed_out(job.command, timeout_s) from None


class Service:
    """The served model: its commands, batcher and counters (what ``/health`` reports)."""

    def __init__(self, model: Any, recipe: str, commands: Sequence[Command], limits: Limits) -> None:
        self.model, self.recipe, self.limits = model, recipe, limits
        self.served = {c.name: c for c in commands if c.serve is not None}
        self.not_served = {c.name: NOT_SERVED.format(name=c.name) for c in commands if c.serve is None}
        self.not_served["eval"] = "it scores data sets on the server; use rnnkit eval RUN on the command line"
        self.batcher = Batcher(
            model,
            limits.max_batch,
            limits.batch_wait_ms / 1000,
            limits.max_queue,
            limits.timeout_s,
            limits.queue_timeout_s,
        )
        self.started, self.answers = time.monotonic(), Counter()

    def health(self) -> dict:
        path = getattr(self.model, "path", None)
        return {
            "status": "ok",
            "recipe": self.recipe,
            "checkpoint": str(path) if path else None,
            "step": getattr(self.model, "meta", {}).get("step"),
            "uptime_s": round(time.monotonic() - self.started, 3),
            "requests_served": sum(self.answers.values()),
            "answers": {str(k): v for k, v in sorted(self.answers.items())},
            "model_calls": self.batcher.calls,
            "merged_requests": self.batcher.merged,
            "waiting": self.batcher.waiting,
        }

    def listing(self) -> dict:
        commands = {name: describe(name, c.help, c.serve) for name, c in self.served.items()}
        return {
            "recipe": self.recipe,
            "commands": commands,
            "not_served": self.not_served,
            "endpoints": {
                "GET /health": "status, recipe, checkpoint, uptime, requests served",
                "GET /commands": "this listing (also GET /)",
                **{f"POST /{name}": c.help for name, c in self.served.items()},
            },
            "limits": asdict(self.limits),
            "merged_answers": f"requests merged into one model call match the same request alone within "
            f"{TOLERANCE:g} (every number; rankings but for ties within it; strings exactly)",
        }

    async def run(self, name: str, request: Request) -> dict:
        """Answer ``POST /<name>``: read, check, queue, wait; RequestError on any failure."""
        command = self.served.get(name)
        if command is None:
            served = ", ".join(self.served) or "none"
            if name in self.not_served:
                raise RequestError(
                    404,
                    f"{name!r} is not served over HTTP: {self.not_served[name]}; served: {served}",
                    commands=list(self.served),
                )
            raise RequestError(
                404, f"no command {name!r} for a {self.recipe} model; served: {served}", commands=list(self.served)
            )
        fields = validate(name, command.serve, parse_body(await read_body(request, self.limits.max_body_bytes)))
        return await wait_for(
            self.batcher.submit(name, command.serve, fields), self.limits.timeout_s, self.limits.queue_timeout_s
        )


def build_app(model: Any, recipe: str, commands: Sequence[Command], limits: Optional[Limits] = None) -> FastAPI:
    """The FastAPI app serving ``model`` (a trained model of ``recipe``) and its ``commands``."""
    service = Service(model, recipe, commands, limits or Limits())

    @contextlib.asynccontextmanager
    async def lifespan(app):
        service.batcher.start()
        yield
        await service.batcher.stop()

    app = FastAPI(title=f"rnnkit serve: {recipe}", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service

    @app.api_route("/health", methods=["GET", "HEAD"])
    async def health():
        return answer(200, service.health())

    @app.get("/")
    @app.get("/commands")
    async def commands_listing():
        return answer(200, service.listing())

    @app.post("/{name}")
    async def command(name: str, request: Request):
        try:
            status, body = 200, await service.run(name, request)
        except RequestError as err:
            status, body = err.status, err.body()
        except ValueError as err:  # e.g. a field's own check failing on its input
            status, body = 422, {"error": " ".join(str(err).split()), "status": 422}
        except Exception as err:  # noqa: BLE001 - a bug: one line, and the server goes on
            status, body = 500, internal(err).body()
        service.answers[status] += 1
        return answer(status, body)

    @app.get("/{name}")
    async def wrong_method(name: str, request: Request):
        if name in service.served:
            error = RequestError(
                405, f"GET /{name}: {name} takes POST with a JSON body (GET /commands lists its fields)"
            )
        else:
            error = RequestError(
                404,
                f"GET /{name}: no such path; GET serves /, /commands and /health, and "
                f"POST /<command> the commands ({', '.join(service.served) or 'none'})",
            )
        return answer(error.status, error.body())

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException):
        where = f"{request.method} {request.url.path}"
        if err.status_code == 405:
            message = (
                f"{where}: method not allowed; commands take POST with a JSON body, GET serves /, /commands, /health"
            )
        elif err.status_code == 404:
            message = f"{where}: no such path; GET /commands lists what is served"
        else:
            message = f"{where}: {err.detail}"
        return answer(err.status_code, {"error": message, "status": err.status_code})

    app.add_middleware(RefuseAmbiguousFraming)
    return app
