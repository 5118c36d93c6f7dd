"""``rnnkit serve`` at the HTTP level, over real sockets to a real server process (issue 28): stalled
and slow clients are closed after ``--read-timeout-s``, ``--max-connections`` caps what they can hold,
a request with two body framings is refused, ``HEAD /health`` answers, Ctrl-C stops the server
while a long model call runs."""

import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from serve_helpers import get, post, serving, start_process, trained  # noqa: E402,F401

from rnnkit.serve.server import GRACEFUL_SHUTDOWN_S  # noqa: E402
from rnnkit.train.recipe import Command, Serving  # noqa: E402

READ_TIMEOUT_S, MAX_CONNECTIONS = 2.0, 8


@pytest.fixture(scope="module")
def server(trained):
    """``rnnkit serve`` of the charlm smoke run with a 2 s read timeout and 8 connections at most."""
    process, url = start_process(
        [trained("charlm"), "--port", "0", "--read-timeout-s", READ_TIMEOUT_S, "--max-connections", MAX_CONNECTIONS]
    )
    yield url
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "Traceback" not in err, err


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return sock


def _read_until_closed(sock: socket.socket, limit_s: float = 10) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection; (bytes, seconds it took)."""
    started, data = time.monotonic(), b""
    sock.settimeout(limit_s)
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return data, time.monotonic() - started
        data += chunk


def _closed_now(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1024) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_a_stalled_connection_is_closed_after_the_read_timeout(server):
    with _connect(server) as sock:
        data, seconds = _read_until_closed(sock)
    assert data == b"" and READ_TIMEOUT_S * 0.9 < seconds < READ_TIMEOUT_S + 3


def test_a_slow_loris_gets_408_and_is_closed(server):
    with _connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        stop = threading.Event()

        def trickle():
            while not stop.wait(0.2):
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    return

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        data, seconds = _read_until_closed(sock)
        stop.set()
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), data
    assert f"did not arrive complete within {READ_TIMEOUT_S:g} s (--read-timeout-s)".encode() in data
    assert seconds < READ_TIMEOUT_S + 3


def test_a_body_that_stops_arriving_is_closed(server):
    with _connect(server) as sock:
        sock.sendall(
            b"POST /sample HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"prime": '
        )
        _, seconds = _read_until_closed(sock)
    assert seconds < READ_TIMEOUT_S + 3
    assert get(server + "/health")[0] == 200


def test_stalled_connections_cannot_hold_the_server(server):
    stalled = [_connect(server) for _ in range(4 * MAX_CONNECTIONS)]
    try:
        closed, until = set(), time.monotonic() + READ_TIMEOUT_S * 0.8  # before any read timeout
        while len(closed) < len(stalled) - MAX_CONNECTIONS and time.monotonic() < until:
            closed |= {i for i, sock in enumerate(stalled) if i not in closed and _closed_now(sock)}
            time.sleep(0.02)
        # each one over the cap closed the one waiting longest: the first ones opened
        assert len(closed) == len(stalled) - MAX_CONNECTIONS and max(closed) < len(stalled) - MAX_CONNECTIONS
        started = time.monotonic()
        status, body = post(server + "/sample", {"prime": "First", "length": 3, "seed": 1}, timeout=10)
        assert status == 200 and len(body["text"]) == 3 and time.monotonic() - started < 3
    finally:
        for sock in stalled:
            sock.close()


def test_when_every_connection_has_a_request_under_way_one_more_is_refused_503(serving):
    gate = threading.Event()

    def hold(model, request):
        gate.wait(30)
        return {}

    server = serving(
        None, "test", [Command("hold", "holds", (), lambda m, a: 0, serve=Serving(hold))], max_connections=3
    )
    with ThreadPoolExecutor(3) as pool:
        busy = [pool.submit(post, server.url + "/hold", {}) for _ in range(3)]
        batcher = server.server.config.app.state.service.batcher  # (asking /health would take a connection)
        while batcher.waiting < 2:  # one held, two queued: three connections with a request under way
            time.sleep(0.02)
        with _connect(server.url) as sock:
            data, _ = _read_until_closed(sock)
        gate.set()
        assert [f.result()[0] for f in busy] == [200, 200, 200]
    assert data.startswith(b"HTTP/1.1 503 Service Unavailable\r\n") and b"(--max-connections)" in data


def test_content_length_with_transfer_encoding_is_refused_and_the_connection_closed(server):
    smuggled = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    with _connect(server) as sock:
        sock.sendall(
            b"POST /sample HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n" + smuggled
        )
        data, seconds = _read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n"), data
    assert data.count(b"HTTP/1.1 ") == 1 and b"both Content-Length and Transfer-Encoding" in data
    assert seconds < 3


def test_head_health_is_200_without_a_body(server):
    with _connect(server) as sock:
        sock.sendall(b"HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data, _ = _read_until_closed(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"application/json" in head and body == b"", data


def test_ctrl_c_stops_the_server_while_a_long_call_runs(trained):
    """The call (a forecast of 1,000 steps x 10,000 paths: about 25 s on 2 idle cores) is stopped
    after a grace of GRACEFUL_SHUTDOWN_S and answered 503; before, the process waited for it to end."""
    process, url = start_process([trained("timeseries"), "--port", "0", "--timeout-s", "600"])
    answers = []
    try:
        long = threading.Thread(
            target=lambda: answers.append(post(url + "/forecast", {"horizon": 1000, "samples": 10000}, timeout=120)),
            daemon=True,
        )
        long.start()
        while get(url + "/health")[1]["model_calls"] < 1:
            time.sleep(0.05)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        long.join(60)
        answered_s = time.monotonic() - started
        out, err = process.communicate(timeout=60)  # the interpreter's exit is slow on a busy machine
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0 and "stopped" in out and "Traceback" not in err, err
    status, body = answers[0]
    assert status == 503 and "the server is shutting down" in body["error"]
    assert answered_s < GRACEFUL_SHUTDOWN_S + 4
