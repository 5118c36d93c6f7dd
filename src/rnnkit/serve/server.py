"""Starting the server: the libraries checked, the run loaded, the port bound, uvicorn run.

Every failure before the server answers is a ValueError or OSError with one
line (the CLI prints it and exits 2): the libraries missing, a run directory
without a checkpoint, a port in use. The socket is bound here, before uvicorn
starts, so that a port in use is that one line and never a log of uvicorn's.
"""

from __future__ import annotations

import errno
import socket
import sys
import threading
import time
from typing import Any

INSTALL = "pip install 'rnnkit[serve]'"


def require_libraries() -> None:
    """ValueError naming the install command when FastAPI or uvicorn is missing."""
    missing = []
    for module in ("fastapi", "uvicorn"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ValueError(
            f"the server needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
            f"not installed: {INSTALL}"
        )


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one); OSError in one line when taken."""
    if not 0 <= port <= 65535:
        raise ValueError(f"--port: expected 0 to 65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise ValueError(f"--host {host}: not an address of this machine ({err.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise ValueError(f"port {port} on {host} is in use; choose another with --port") from None
        raise ValueError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    sock.set_inheritable(True)
    return sock


#: seconds the requests under way may still run once the server is told to stop; then the
#: model call is stopped and they are answered 503 (uvicorn's own limit is a little longer)
GRACEFUL_SHUTDOWN_S = 3


def uvicorn_server(app: Any, access_log: bool = False):
    """A uvicorn server for ``app``, quiet but for warnings (and the access log when asked), with the
    read timeout and connection cap of ``app``'s limits (:mod:`.protocol`)."""
    import uvicorn

    from .protocol import guarded_protocol

    service = app.state.service

    class Server(uvicorn.Server):
        async def shutdown(self, sockets=None) -> None:
            """No new connections; the model's requests (a grace, then 503), so none is cancelled
            mid-answer; then uvicorn's shutdown."""
            for server in self.servers:
                server.close()
            await service.batcher.drain(GRACEFUL_SHUTDOWN_S)
            await super().shutdown(sockets)

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=access_log,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S + 2,
        lifespan="on",
        http=guarded_protocol(service.limits.read_timeout_s, service.limits.max_connections),
    )
    return Server(config)


class Background:
    """A server running in a thread of this process (tests, notebooks): ``url``, ``stop()``.

    Example:
        >>> with Background(build_app(model, "charlm", recipe.commands)) as server:  # doctest: +SKIP
        ...     urllib.request.urlopen(server.url + "/health")
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = bind(host, port)
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.server = uvicorn_server(app)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the background server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()

    def __enter__(self) -> "Background":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(run: str, host: str, port: int, device: str, limits, access_log: bool = False) -> int:
    """``rnnkit serve RUN``: load the run, bind, serve until Ctrl-C; the exit code."""
    require_libraries()
    from rnnkit.recipes import read

    from .app import build_app

    stored = read(run)
    recipe, model = stored.recipe, stored.model(device)
    sock = bind(host, port)
    app = build_app(model, recipe.name, recipe.commands, limits)
    service = app.state.service
    served = ", ".join(f"POST /{name}" for name in service.served) or "no commands"
    print(
        f"rnnkit serve: {recipe.name} model {stored.path} on http://{host}:{sock.getsockname()[1]} "
        f"({served}; GET /health, /commands); Ctrl-C stops",
        flush=True,
    )
    if not service.served:
        print(f"note: a {recipe.name} model has no command served over HTTP", file=sys.stderr)
    try:
        uvicorn_server(app, access_log).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn raises the signal again once it has shut down
        pass
    finally:
        sock.close()
    print("rnnkit serve: stopped", flush=True)
    return 0
