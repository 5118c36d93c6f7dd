"""A bounded load test of ``rnnkit serve`` on loopback: latency percentiles, throughput, errors.

Starts ``rnnkit serve RUN --port 0`` as a child process, waits for ``/health``,
sends ``--warmup`` requests (not counted), then exactly ``--requests`` POSTs
of one command from ``--concurrency`` client threads (one keep-alive
connection each, standard library only), stops the server with Ctrl-C and
prints one JSON object (also written to ``--out``): latency p50/p90/p99/max
and mean in ms, requests per second over the measured wall time, answers by
status, client-side errors, the server's model calls and merged requests.

    python benchmarks/scripts/serve_load.py runs/names-20261201-120000 --requests 500 --concurrency 8 \\
        --out benchmarks/results/serve/serve_load_names.json

The command and body default to the first served command and the example
request it declares (``GET /commands``); ``--command`` and ``--body '{...}'``
choose others. Server options go after ``--``, e.g. ``-- --max-batch 32``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit


def start_server(run: str, extra: list[str], timeout_s: float = 120.0) -> tuple[subprocess.Popen, str]:
    """The server process and its base URL (from its first line of output)."""
    command = [sys.executable, "-m", "rnnkit", "serve", run, "--port", "0", *extra]
    log = tempfile.TemporaryFile("w+")  # the server's stderr (e.g. --access-log): a pipe could fill and block it
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=log, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1")
    )
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    line = found[0] if found else ""
    if " on http://" not in line:
        process.kill()
        process.wait()
        log.seek(0)
        raise SystemExit(f"serve_load: the server did not start: {line.strip() or log.read().strip()}")
    return process, line.split(" on ", 1)[1].split(" ", 1)[0]


def call(connection: http.client.HTTPConnection, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if body else {}
    connection.request(method, path, body=body or None, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def control(url: str, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """One request on a new connection (the server closes idle keep-alive connections after 5 s)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        return call(connection, method, path, body)
    finally:
        connection.close()


def percentile(sorted_values: list[float], q: float) -> float:
    """The nearest-rank ``q`` percentile (0 < q <= 100) of ascending values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil
    return sorted_values[int(rank) - 1]


def load(url: str, path: str, body: bytes, requests: int, concurrency: int) -> dict:
    """``requests`` POSTs from ``concurrency`` threads; latencies (s), statuses, client errors, wall time."""
    parts = urlsplit(url)
    counter, lock = iter(range(requests)), threading.Lock()
    latencies, statuses, failures = [], {}, {}

    def worker() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        while True:
            with lock:
                if next(counter, None) is None:
                    break
            start = time.perf_counter()
            try:
                status, _ = call(connection, "POST", path, body)
            except (OSError, http.client.HTTPException) as err:
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
                with lock:
                    failures[type(err).__name__] = failures.get(type(err).__name__, 0) + 1
                continue
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
        connection.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    return {"latencies": latencies, "statuses": statuses, "failures": failures, "wall_s": time.perf_counter() - start}


def summary(measured: dict, requests: int, concurrency: int) -> dict:
    ms = sorted(x * 1000 for x in measured["latencies"])
    ok = measured["statuses"].get("200", 0)
    return {
        "requests": requests,
        "concurrency": concurrency,
        "wall_s": round(measured["wall_s"], 3),
        "throughput_rps": round(requests / measured["wall_s"], 2),
        "ok_rps": round(ok / measured["wall_s"], 2),
        "latency_ms": {
            "p50": percentile(ms, 50),
            "p90": percentile(ms, 90),
            "p99": percentile(ms, 99),
            "max": ms[-1] if ms else None,
            "mean": sum(ms) / len(ms) if ms else None,
        },
        "status_counts": measured["statuses"],
        "errors": {**{k: v for k, v in measured["statuses"].items() if k != "200"}, **measured["failures"]},
    }


def machine() -> dict:
    import torch

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent
    ).stdout.strip()
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "commit": commit or None,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="run directory or checkpoint to serve")
    parser.add_argument("--requests", type=int, default=500, help="requests measured")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads, one connection each")
    parser.add_argument("--warmup", type=int, default=10, help="requests sent first and not measured")
    parser.add_argument("--command", default=None, help="served command (default: the first)")
    parser.add_argument("--body", default=None, help="JSON request body (default: the command's example)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    if args.requests < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--requests and --concurrency must be >= 1, --warmup >= 0")
    process, url = start_server(args.run, extra)
    try:
        listing = json.loads(control(url, "GET", "/commands")[1])
        if not listing["commands"]:
            raise SystemExit(f"serve_load: a {listing['recipe']} model serves no command")
        command = args.command or next(iter(listing["commands"]))
        if command not in listing["commands"]:
            raise SystemExit(f"serve_load: --command {command}: served are {', '.join(listing['commands'])}")
        body = (args.body or json.dumps(listing["commands"][command]["example"])).encode()
        for _ in range(args.warmup):
            control(url, "POST", f"/{command}", body)
        before = json.loads(control(url, "GET", "/health")[1])
        measured = load(url, f"/{command}", body, args.requests, args.concurrency)
        after = json.loads(control(url, "GET", "/health")[1])
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    result = {
        "recipe": listing["recipe"],
        "command": command,
        "body": json.loads(body),
        "server_options": extra,
        **summary(measured, args.requests, args.concurrency),
        "model_calls": after["model_calls"] - before["model_calls"],
        "merged_requests": after["merged_requests"] - before["merged_requests"],
        "machine": machine(),
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
