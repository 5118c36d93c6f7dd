"""The ``rnnkit serve`` cases: one server per recipe (and server options), requests against it.

A server is started (as a case process: same limits) on a free port with
``--timeout-s 5``, and stays up for its recipe's cases. After each case it must
still answer ``GET /health`` within 10 s, and its stderr must hold no
traceback; otherwise the case fails and the server is started again. A server
that died is a TRACEBACK. At the end of a group the server gets Ctrl-C (while
a long call runs) and must stop within 15 s.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
import time
from typing import Any, Optional

from . import launch
from .core import Case, Env, Result
from .execute import folder_name, record

SERVER_TIMEOUT_S = 5
REQUEST_TIMEOUT_S = 30


def request(
    url: str,
    method: str = "GET",
    path: str = "/",
    body: Any = None,
    headers: Optional[dict] = None,
    timeout: float = REQUEST_TIMEOUT_S,
) -> tuple[int, bytes]:
    """(status, body) of one HTTP/1.1 request on its own connection; TimeoutError when none."""
    host, port = url.split("//")[1].split(":")
    if body is not None and not isinstance(body, (bytes, bytearray)):
        body = json.dumps(body).encode()
    head = {"Host": f"{host}:{port}", "Connection": "close", **(headers or {})}
    if body is not None and "Content-Length" not in head and "Transfer-Encoding" not in head:
        head["Content-Length"] = str(len(body))
    if body is not None:
        head.setdefault("Content-Type", "application/json")
    text = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n"
    return raw_request(url, text.encode() + (body or b""), timeout)


def raw_request(url: str, data: bytes, timeout: float = REQUEST_TIMEOUT_S) -> tuple[int, bytes]:
    """Send ``data`` as it is; (status, body) of the answer (0 when the server closed without one)."""
    host, port = url.split("//")[1].split(":")
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                raise TimeoutError(f"no complete answer within {timeout:g} s") from None
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
            done = _complete(received)
            if done is not None:
                return done
    done = _complete(received, closed=True)
    return done if done is not None else (0, received)


def _complete(data: bytes, closed: bool = False) -> Optional[tuple[int, bytes]]:
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    head, body = data[:end].decode("latin-1"), data[end + 4 :]
    match = re.match(r"HTTP/1\.[01] (\d{3})", head)
    if not match:
        return (0, data) if closed else None
    length = re.search(r"(?im)^content-length:\s*(\d+)", head)
    if length and len(body) >= int(length.group(1)):
        return int(match.group(1)), body[: int(length.group(1))]
    if re.search(r"(?im)^transfer-encoding:\s*chunked", head):
        if body.endswith(b"0\r\n\r\n"):
            return int(match.group(1)), _dechunk(body)
        return None
    if closed or (not length and head.startswith("HTTP/1.1 1")):
        return int(match.group(1)), body
    return None


def _dechunk(body: bytes) -> bytes:
    out, rest = b"", body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2 :]
    return out


class Server:
    """A ``rnnkit serve`` process of one recipe's smoke run."""

    def __init__(self, ctx, recipe: str, args: tuple, mode: str, mem_gb: float) -> None:
        self.ctx, self.recipe, self.args, self.mode, self.mem_gb = ctx, recipe, args, mode, mem_gb
        self.folder = ctx.work / "cases" / folder_name(f"serve-{recipe}-{'-'.join(args)}")
        self.proc: Optional[launch.Proc] = None
        self.url = ""
        self.seen_err = 0

    def start(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        run = Env(self.ctx, self.folder).run(self.recipe)
        argv = ["serve", str(run), "--port", "0", "--timeout-s", str(SERVER_TIMEOUT_S), *self.args]
        spec = launch.Spec(
            argv, self.folder, self.folder / "out.txt", self.folder / "err.txt", mem_bytes=int(self.mem_gb * (1 << 30))
        )
        self.proc = launch.start(spec, self.mode)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            text = spec.out.read_text(errors="replace") if spec.out.exists() else ""
            found = re.search(r"http://([\d.]+):(\d+)", text)
            if found:
                self.url = f"http://{found.group(1)}:{found.group(2)}"
                self.seen_err = 0
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        err = spec.err.read_text(errors="replace") if spec.err.exists() else ""
        self.stop(kill=True)
        raise RuntimeError(f"rnnkit serve {self.recipe} did not start: {err[-500:]}")

    def new_stderr(self) -> str:
        path = self.folder / "err.txt"
        text = path.read_text(errors="replace") if path.exists() else ""
        fresh, self.seen_err = text[self.seen_err :], len(text)
        return fresh

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self, timeout: float = 10) -> Optional[str]:
        """None when ``GET /health`` answers 200 within ``timeout``; else what happened."""
        if not self.alive():
            return f"the server exited ({self.proc.status if self.proc else 'not started'})"
        try:
            status, _ = request(self.url, "GET", "/health", timeout=timeout)
        except (OSError, TimeoutError) as err:
            return f"GET /health: {type(err).__name__}: {err}"
        return None if status == 200 else f"GET /health answered {status}"

    def stop(self, kill: bool = False, heavy: Optional[dict] = None) -> tuple[Optional[int], float]:
        """Ctrl-C (during a ``heavy`` request when given), then kill after 15 s: (exit, seconds)."""
        if self.proc is None:
            return None, 0.0
        began = time.monotonic()
        if not kill and self.alive():
            if heavy is not None:
                threading.Thread(target=_quietly, args=(self.url, heavy), daemon=True).start()
                time.sleep(1.0)
            began = time.monotonic()
            self.proc.interrupt()
            if self.proc.wait(15) is None:
                self.proc.kill()
                return None, time.monotonic() - began
        elif self.alive():
            self.proc.kill()
        return self.proc.status, time.monotonic() - began


def _quietly(url: str, heavy: dict) -> None:
    try:
        request(url, "POST", heavy["path"], heavy["body"], timeout=60)
    except Exception:  # noqa: BLE001 - the server is being stopped under it
        pass


def run_http(case: Case, server: Server) -> dict:
    """Run an :class:`~.core.Http` case against ``server`` (started when needed); its record."""
    http = case.http
    began = time.monotonic()
    if not server.alive():
        try:
            server.start()
        except RuntimeError as err:
            return record(case, "TRACEBACK", str(err), seconds=time.monotonic() - began)
    status, body, detail = None, b"", ""
    try:
        if http.script is not None:
            status, detail = http.script(server.url, server)
        elif http.raw is not None:
            status, body = raw_request(server.url, http.raw, REQUEST_TIMEOUT_S)
        else:
            status, body = request(server.url, http.method, http.path, http.body, http.headers, REQUEST_TIMEOUT_S)
    except TimeoutError as err:
        outcome, detail = "HANG", str(err)
    except OSError as err:
        outcome, detail = "TRACEBACK", f"connection failed: {type(err).__name__}: {err}"
    else:
        outcome, detail = judge_http(case, status, body, detail)
    seconds = time.monotonic() - began
    if status is None or status >= 500:
        time.sleep(0.3)  # the server logs a failure's traceback around its answer: keep it with this case
    fresh = server.new_stderr()
    sick = server.healthy()
    if "Traceback (most recent call last)" in fresh and outcome in ("OK", "ERROR_OK", "WRONG"):
        exc = [line for line in fresh.splitlines() if line and not line.startswith((" ", "Traceback"))]
        outcome, detail = "TRACEBACK", f"server stderr: {(exc or ['Traceback'])[-1][:250]}"
    if sick is not None:
        if outcome in ("OK", "ERROR_OK", "WRONG"):
            outcome, detail = ("TRACEBACK" if not server.alive() else "HANG"), f"afterwards: {sick}"
        if not server.alive():
            fresh += server.new_stderr()
        server.stop(kill=True)
    rec = record(case, outcome, detail, Result([], status, "", fresh if outcome != "OK" else "", seconds), seconds)
    rec["exit"] = status
    return rec


def judge_http(case: Case, status: int, body: bytes, detail: str) -> tuple[str, str]:
    http = case.http
    text = body.decode("utf-8", "replace")
    if status == 0 and 0 in http.status:
        return "ERROR_OK", "the server closed the connection without an answer"
    if status is None or status == 0:
        return "WRONG", detail or f"no HTTP answer: {text[:150]!r}"
    if status >= 500 and status not in (503, 504):
        return "TRACEBACK", f"{status}: {text[:250]}"
    if status not in http.status and status not in (503, 504):
        return "WRONG", detail or f"answered {status}, expected one of {http.status}: {text[:200]}"
    if http.script is not None:  # the script judged
        if detail:
            return "WRONG", detail
        return ("OK" if status < 400 else "ERROR_OK"), ""
    if status >= 400:
        if http.method != "HEAD" and http.raw is None:  # a request the HTTP parser refuses may answer in plain text
            try:
                message = json.loads(text)["error"]
            except (ValueError, KeyError, TypeError):
                return "WRONG", f"{status} without a JSON error message: {text[:150]!r}"
            if not isinstance(message, str) or not message.strip():
                return "WRONG", f"{status} with an empty error message"
        if case.expect == "ok":
            return "WRONG", f"expected success, got {status}: {text[:200]}"
        return "ERROR_OK", f"{status}: {text[:200]}"
    if case.expect == "error":
        return "WRONG", f"accepted ({status}) where a refusal was expected: {text[:200]}"
    if case.check is not None:
        try:
            problem = case.check(json.loads(text) if text.strip() and http.method != "HEAD" else {})
        except Exception as err:  # noqa: BLE001
            problem = f"check failed to read the answer: {type(err).__name__}: {err}: {text[:100]!r}"
        if problem:
            return "WRONG", problem
    return "OK", ""


def server_key(case: Case) -> tuple:
    return (case.http.recipe, tuple(case.http.server_args))


def heavy_request(recipe: str) -> Optional[dict]:
    """A long but allowed call of ``recipe``'s server, to Ctrl-C it during."""
    return {
        "charlm": {"path": "/sample", "body": {"length": 20000, "seed": 1}},
        "wordlm": {"path": "/sample", "body": {"words": 5000, "seed": 1}},
        "translate": {"path": "/translate", "body": {"text": ["der Hund"] * 256, "beam": 64}},
    }.get(recipe)
