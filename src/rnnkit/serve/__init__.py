"""``rnnkit serve RUN``: a trained model's use commands over HTTP, JSON in and JSON out.

Each use command whose recipe gives it a JSON form
(:class:`rnnkit.train.recipe.Serving`: typed fields in, a structured object
out) is ``POST /<command>``; ``GET /health`` and ``GET /commands`` say what
runs and what each command takes. The modules:

* :mod:`.validate`: the body read as JSON and checked against the command's
  fields (400/422 errors that name the field and what was expected);
* :mod:`.batcher`: one model call at a time in one worker thread
  (:mod:`.worker`), concurrent requests of a batchable command merged into one
  call, each call stopped at its requests' deadline;
* :mod:`.app`: the routes, the size and time limits, the error answers;
* :mod:`.server`: the checks before start (libraries, run, port) and uvicorn;
* :mod:`.protocol`: slow or stalled connections closed, the number of connections
  capped, ambiguous body framing refused.

Why FastAPI with uvicorn rather than the standard library: ``http.server`` is
documented as not meant for production (basic security checks only, a thread
per connection, no keep-alive management or protection against slow
clients), and asyncio alone has no HTTP parser. uvicorn is a maintained ASGI
server with a strict HTTP/1.1 parser (h11), keep-alive timeouts and graceful
shutdown; FastAPI (on Starlette) gives routing, request streaming (so a body
is refused with 413 as soon as it passes the limit) and the app lifespan in
which the batcher runs. Requests are checked by rnnkit's own validator, not
by pydantic models: the schemas come from the recipes, whose contract stays
free of any server library, and the messages list the allowed fields. Both
libraries are the ``serve`` extra (``pip install 'rnnkit[serve]'``); the core
install does not need them, and this package imports them only when a server
starts.
"""

from __future__ import annotations

from .limits import TOLERANCE  # noqa: F401 (rnnkit.serve.TOLERANCE: the stated tolerance)


def add_parser(sub) -> None:
    """``rnnkit serve RUN [options]`` on the CLI's subparsers."""
    from .limits import LIMIT_HELP

    serve = sub.add_parser(
        "serve",
        help="serve a trained model's use commands over HTTP (JSON)",
        description=__doc__.split("\n\n")[0].replace("``", ""),
    )
    serve.add_argument("run", help="checkpoint file or run directory (its best checkpoint)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0: every interface)"
    )
    serve.add_argument("--port", type=int, default=8000, help="TCP port (0: any free one; default 8000)")
    serve.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps (default cpu)")
    for flag, (kind, default, text) in LIMIT_HELP.items():
        serve.add_argument(
            flag, type=kind, default=default, help=text if default is None else text + " (default: %(default)s)"
        )
    serve.add_argument("--access-log", action="store_true", help="log every request to stderr")


def run(args) -> int:
    """Start the server of ``rnnkit serve`` (after checking the libraries); the exit code."""
    from .limits import limits_from_args
    from .server import serve

    return serve(args.run, args.host, args.port, args.device, limits_from_args(args), args.access_log)
