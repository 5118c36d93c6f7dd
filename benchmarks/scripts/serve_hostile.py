"""A bounded loopback test of ``rnnkit serve`` under hostile clients: does a well-behaved client
still get its answers, and how fast?

Starts ``rnnkit serve RUN --port 0`` (RUN: a run directory, or by default a
charlm smoke run trained into a temporary directory in a few seconds), then
measures a well-behaved client that sends light requests one after another
(the command's example body, on a new connection each) for ``--seconds``
twice: alone, then while hostile clients run:

* ``--stalled`` connections that send nothing (reopened when the server closes them);
* ``--slow`` slow-loris clients sending one header line a second (reopened when closed);
* ``--heavy`` clients asking for huge work in a loop: every integer field at its
  maximum (work stopped at ``--timeout-s``: 504) and one far past it (refused: 422).

It prints one JSON object (also written to ``--out``): the light requests'
latency p50/p95/max (ms) and answers by status in both phases and their ratio,
the hostile clients' answers and closed connections, the server's stated limits
(``GET /commands``), how long Ctrl-C took to stop it, and the machine. One run
takes about ``2 * --seconds`` plus start-up (under two minutes by default).

    python benchmarks/scripts/serve_hostile.py --out benchmarks/results/serve/serve_hostile.json
    python benchmarks/scripts/serve_hostile.py runs/names --seconds 20 -- --timeout-s 5
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine  # noqa: E402
from serve_load import control, percentile, start_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SERVER_DEFAULTS = ["--timeout-s", "2", "--read-timeout-s", "5", "--max-connections", "64"]


def smoke_run(directory: Path) -> str:
    """A charlm smoke run (the recipe's own smoke options) trained into ``directory``."""
    from rnnkit.recipes import recipe

    args = [a.replace("{fixtures}", str(ROOT / "tests" / "fixtures")) for a in recipe("charlm").smoke.train]
    run = directory / "charlm"
    subprocess.run(
        [sys.executable, "-m", "rnnkit", "train", "charlm", *args, "--run-dir", str(run), "--quiet"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return str(run)


def heavy_bodies(spec: dict) -> list[dict]:
    """Huge work within the ranges (every bounded integer at its maximum, every list of the
    example repeated to its most items), and far past one range."""
    example, fields = dict(spec["example"]), spec["fields"]
    top = {
        name: int(f["expected"].rsplit(" ", 1)[1])
        for name, f in fields.items()
        if f["type"] == "integer" and re.search(r" to \d+$", f["expected"])
    }
    for name, value in example.items():
        most = re.search(r" to (\d+) items$", fields.get(name, {}).get("expected", ""))
        if isinstance(value, list) and value and most:
            top[name] = (value * int(most.group(1)))[: int(most.group(1))]
    if not top:
        return [example]
    past = next((name for name, value in top.items() if isinstance(value, int)), None)
    return [dict(example, **top)] + ([dict(example, **{past: top[past] * 1000})] if past else [])


class Light:
    """The well-behaved client: one light request after another; latencies and statuses."""

    def __init__(self, url: str, path: str, body: bytes) -> None:
        self.url, self.path, self.body = url, path, body

    def run(self, seconds: float, pause_s: float = 0.05) -> dict:
        latencies, statuses = [], Counter()
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            start = time.perf_counter()
            try:
                status, _ = control(self.url, "POST", self.path, self.body)
            except OSError as err:
                status = type(err).__name__
            latencies.append(time.perf_counter() - start)
            statuses[str(status)] += 1
            time.sleep(pause_s)
        ms = sorted(x * 1000 for x in latencies)
        return {
            "requests": len(ms),
            "status_counts": dict(statuses),
            "latency_ms": {
                "p50": round(percentile(ms, 50), 1),
                "p95": round(percentile(ms, 95), 1),
                "max": round(ms[-1], 1) if ms else None,
            },
        }


class Hostile:
    """Stalled, slow-loris and heavy clients in threads, until :meth:`stop`; what happened to them."""

    def __init__(self, url: str, path: str, heavy: list[bytes]) -> None:
        parts = urlsplit(url)
        self.address, self.url, self.path, self.heavy = (parts.hostname, parts.port), url, path, heavy
        self.done, self.lock, self.counts = threading.Event(), threading.Lock(), Counter()
        self.threads: list[threading.Thread] = []

    def count(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1

    def start(self, stalled: int, slow: int, heavy: int) -> None:
        self.threads = [threading.Thread(target=self.stalled, args=(stalled,), daemon=True)]
        self.threads += [threading.Thread(target=self.slow_loris, daemon=True) for _ in range(slow)]
        self.threads += [threading.Thread(target=self.heavy_client, args=(i,), daemon=True) for i in range(heavy)]
        for thread in self.threads:
            thread.start()

    def stop(self) -> dict:
        self.done.set()
        for thread in self.threads:
            thread.join(30)
        return dict(sorted(self.counts.items()))

    def stalled(self, count: int) -> None:
        """``count`` open connections that send nothing; each one the server closes is reopened."""
        socks = [socket.create_connection(self.address) for _ in range(count)]
        while not self.done.wait(0.5):
            for i, sock in enumerate(socks):
                sock.setblocking(False)
                try:
                    closed = sock.recv(1024) == b""
                except BlockingIOError:
                    closed = False
                except OSError:
                    closed = True
                if closed:
                    self.count("stalled connections closed by the server")
                    sock.close()
                    socks[i] = socket.create_connection(self.address)
        for sock in socks:
            sock.close()

    def slow_loris(self) -> None:
        """A request's header lines one a second, for ever; reopened when the server closes it."""
        while not self.done.is_set():
            with socket.create_connection(self.address) as sock:
                sock.settimeout(0.01)
                sock.sendall(f"POST {self.path} HTTP/1.1\r\nHost: x\r\n".encode())
                answer = b""
                while not self.done.wait(1.0):
                    try:
                        sock.sendall(b"X-Slow: 1\r\n")
                        answer = sock.recv(64)
                    except socket.timeout:
                        continue
                    except OSError:
                        break
                    if not answer or answer.startswith(b"HTTP/"):
                        break
                if not self.done.is_set():
                    self.count("slow-loris closed: " + (answer[:12].decode(errors="replace") or "no answer"))

    def heavy_client(self, index: int) -> None:
        """Huge-work requests one after another (alternating bodies)."""
        turn = index
        while not self.done.is_set():
            body = self.heavy[turn % len(self.heavy)]
            turn += 1
            try:
                status, _ = control(self.url, "POST", self.path, body)
            except OSError as err:
                status = type(err).__name__
            self.count(f"heavy answered {status}")


def stop_server(process: subprocess.Popen) -> float:
    """Ctrl-C to the server; the seconds it took to exit."""
    start = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return round(time.monotonic() - start, 2)


def measure(run: str, args, extra: list[str]) -> dict:
    process, url = start_server(run, [*SERVER_DEFAULTS, *extra])
    stopped_s = None
    try:
        listing = json.loads(control(url, "GET", "/commands")[1])
        command = args.command or next(iter(listing["commands"]))
        spec = listing["commands"][command]
        light = Light(url, f"/{command}", json.dumps(spec["example"]).encode())
        for _ in range(5):  # warm-up, not counted
            control(url, "POST", f"/{command}", light.body)
        alone = light.run(args.seconds)
        heavy = heavy_bodies(spec)
        hostile = Hostile(url, f"/{command}", [json.dumps(b).encode() for b in heavy])
        hostile.start(args.stalled, args.slow, args.heavy)
        time.sleep(1.0)
        attacked = light.run(args.seconds)
        hostile_counts = hostile.stop()
        health = json.loads(control(url, "GET", "/health")[1])
    finally:
        stopped_s = stop_server(process)
    ratio = {k: round(attacked["latency_ms"][k] / alone["latency_ms"][k], 2) for k in ("p50", "p95", "max")}
    return {
        "recipe": listing["recipe"],
        "command": command,
        "light_body": spec["example"],
        "heavy_bodies": heavy,
        "limits": listing["limits"],
        "server_options": [*SERVER_DEFAULTS, *extra],
        "hostile_clients": {"stalled": args.stalled, "slow_loris": args.slow, "heavy": args.heavy},
        "seconds_per_phase": args.seconds,
        "light_alone": alone,
        "light_under_attack": attacked,
        "latency_ratio_attack_over_alone": ratio,
        "hostile_outcomes": hostile_counts,
        "server_answers": health["answers"],
        "ctrl_c_stop_s": stopped_s,
        "machine": machine(),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", nargs="?", help="run directory or checkpoint (default: a charlm smoke run)")
    parser.add_argument("--command", help="served command (default: the first)")
    parser.add_argument("--seconds", type=float, default=40, help="length of each phase of light requests")
    parser.add_argument("--stalled", type=int, default=200, help="connections that send nothing")
    parser.add_argument("--slow", type=int, default=20, help="slow-loris clients")
    parser.add_argument("--heavy", type=int, default=2, help="clients asking for huge work")
    parser.add_argument("--out", help="also write the JSON here")
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    if args.seconds <= 0 or min(args.stalled, args.slow, args.heavy) < 0:
        parser.error("--seconds must be > 0 and the client counts >= 0")
    with tempfile.TemporaryDirectory() as directory:
        result = measure(args.run or smoke_run(Path(directory)), args, extra)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
