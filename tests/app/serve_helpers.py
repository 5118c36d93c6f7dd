"""Helpers of the ``rnnkit serve`` tests: JSON over HTTP, in-process servers, a server process."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from helpers import smoke_runs


def post(url: str, body, raw: bool = False, timeout: float = 30) -> tuple[int, dict]:
    """POST ``body`` (JSON, or bytes when ``raw``); (status, decoded JSON answer)."""
    data = body if raw else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def get(url: str, timeout: float = 30) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


_RUNS: dict = {}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each recipe's smoke run, trained once for every serve test module of the session."""
    if "get" not in _RUNS:
        _RUNS["get"] = smoke_runs(tmp_path_factory)
    return _RUNS["get"]


@pytest.fixture
def serving():
    """``serving(model, recipe_name, commands, **limits)`` -> a running server; all stopped after the test."""
    from rnnkit.serve.app import build_app
    from rnnkit.serve.limits import Limits
    from rnnkit.serve.server import Background

    started = []

    def start(model, name, commands, **limits):
        server = Background(build_app(model, name, commands, Limits(**limits)))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def start_process(args: list, script: str = "") -> tuple[subprocess.Popen, str]:
    """``rnnkit serve ARGS`` (or ``python -c SCRIPT ARGS``) as a process; (process, its URL)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    command = [sys.executable, "-c", script] if script else [sys.executable, "-m", "rnnkit", "serve"]
    process = subprocess.Popen(
        command + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    line = process.stdout.readline()
    if " on http://" not in line:
        process.kill()
        raise AssertionError(f"the server did not start: {line!r} {process.stderr.read()}")
    return process, line.split(" on ", 1)[1].split(" ", 1)[0]
