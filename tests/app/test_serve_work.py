"""``rnnkit serve`` under hostile requests (issue 28): the client's errors are 4xx naming the field,
a bug is a one-line 500 after which the server goes on, and work that runs past ``--timeout-s`` is
stopped so that the next client is served."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from serve_helpers import get, post, serving, trained  # noqa: E402,F401

import rnnkit  # noqa: E402
from rnnkit import deadline  # noqa: E402
from rnnkit.recipes import recipe  # noqa: E402
from rnnkit.train.params import Param  # noqa: E402
from rnnkit.train.recipe import Command, Serving  # noqa: E402


def _command(name: str, handle, params=(Param("items", "strings", ["a"]),), **serve) -> Command:
    return Command(name, name, tuple(params), lambda model, values: 0, serve=Serving(handle, **serve))


def _raises(error):
    def handle(model, request):
        raise error

    return handle


def _endless(model, request):
    """Work that ends only when its time limit stops it (or after a minute)."""
    until = time.monotonic() + 60
    while time.monotonic() < until:
        deadline.check()
        time.sleep(0.002)
    return {"finished": True}


TEST_COMMANDS = [
    _command("ok", lambda model, request: {"items": request["items"]}),
    _command("value", _raises(ValueError("field 'temperature': expected a number from 0.001 to 100"))),
    _command("bug", _raises(RuntimeError("probability tensor contains either `inf`, `nan` or element < 0"))),
    _command("notdict", lambda model, request: ["not", "an", "object"]),
    _command("badmerge", lambda model, request: {"out": ["only one"]}, batch="items", output="out"),
    _command("endless", _endless),
    _command("endless_batched", lambda model, request: _endless(model, request), batch="items", output="out"),
]


def test_handler_value_errors_are_422_bugs_are_500_and_the_worker_goes_on(serving):
    server = serving(None, "test", TEST_COMMANDS, batch_wait_ms=300)
    url = server.url
    assert post(url + "/value", {}) == (
        422,
        {"error": "field 'temperature': expected a number from 0.001 to 100", "status": 422},
    )
    status, body = post(url + "/bug", {})
    assert status == 500 and body["error"].startswith("internal error: RuntimeError: probability tensor")
    assert "\n" not in body["error"]
    status, body = post(url + "/notdict", {})
    assert status == 500 and "answered list, not an object" in body["error"]
    # two requests merged into one call whose answer cannot be split back: 500 for both, and the
    # batching loop survives (before, it died and every later request hung)
    with ThreadPoolExecutor(2) as pool:
        merged = list(pool.map(lambda items: post(url + "/badmerge", {"items": items}, timeout=10), [["a"], ["b"]]))
    assert [status for status, _ in merged] == [500, 500], merged
    assert "not one entry per item" in merged[0][1]["error"]
    assert post(url + "/ok", {"items": ["x"]}, timeout=10) == (200, {"items": ["x"]})
    assert get(url + "/health")[1]["answers"] == {"200": 1, "422": 1, "500": 4}


def test_work_past_the_time_limit_is_stopped_and_the_next_client_is_served(serving):
    server = serving(None, "test", TEST_COMMANDS, timeout_s=0.5, batch_wait_ms=50)
    started = time.monotonic()
    status, body = post(server.url + "/endless", {})
    assert status == 504 and "did not finish within 0.5 s (--timeout-s) and was stopped" in body["error"]
    # the worker is free: a light request right after is answered at once (it waited 60 s before)
    assert post(server.url + "/ok", {}, timeout=10) == (200, {"items": ["a"]})
    assert time.monotonic() - started < 5
    # a merged call stops at the earliest deadline of its requests
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(post, server.url + "/endless_batched", {"items": ["a"]})
        time.sleep(0.02)
        second = pool.submit(post, server.url + "/endless_batched", {"items": ["b"]})
        answers = [first.result(), second.result()]
    assert [status for status, _ in answers] == [504, 504]
    assert get(server.url + "/health")[1]["model_calls"] == 3  # endless, ok, and one call for both
    assert post(server.url + "/ok", {}, timeout=10)[0] == 200
    assert time.monotonic() - started < 8


def test_a_long_sample_is_stopped_at_the_time_limit(trained, serving):
    run = trained("charlm")
    server = serving(rnnkit.load(run), "charlm", recipe("charlm").commands, timeout_s=1.0)
    started = time.monotonic()
    status, body = post(server.url + "/sample", {"prime": "First", "length": 20000, "temperature": 1.0}, timeout=60)
    assert status == 504 and "was stopped" in body["error"], body
    light = time.monotonic()
    status, body = post(server.url + "/sample", {"prime": "First", "length": 5, "seed": 1}, timeout=60)
    assert status == 200 and len(body["text"]) == 5
    assert time.monotonic() - light < 2.0 and time.monotonic() - started < 6


def test_lone_surrogates_are_422_naming_the_field(trained, serving):
    server = serving(rnnkit.load(trained("charlm")), "charlm", recipe("charlm").commands)
    status, body = post(server.url + "/sample", b'{"prime": "Fi\\ud800rst", "length": 3}', raw=True)
    assert status == 422 and body["field"] == "prime", body
    assert "lone UTF-16 surrogate (\\ud800 at character 3)" in body["error"]
    # an unknown field named by a lone surrogate: still 422 with a JSON answer (\u escapes), not 500
    status, body = post(server.url + "/sample", b'{"\\udc00": 1}', raw=True)
    assert status == 422 and body["unknown_fields"] == ["\udc00"]
    names = serving(rnnkit.load(trained("names")), "names", recipe("names").commands)
    status, body = post(names.url + "/predict", b'{"names": ["Kateov", "\\ud83d\\ude00", "x\\udfff"]}', raw=True)
    assert status == 422 and body["field"] == "names" and "\\udfff at character 2 of item 3" in body["error"]
    assert get(server.url + "/health")[1]["answers"] == {"422": 2}


@pytest.mark.parametrize(
    "name,command,request_",
    [
        ("charlm", "sample", {"temperature": 1e-300}),
        ("charlm", "sample", {"temperature": 1e-45}),
        ("charlm", "sample", {"top_p": 1e-300}),
        ("charlm", "sample", {"top_p": 5e-324, "temperature": 1e-300}),
    ],
)
def test_tiny_temperatures_and_top_p_are_never_500(name, command, request_, trained, serving):
    """Either refused (422 naming the field and its range) or a bounded answer (200)."""
    server = serving(rnnkit.load(trained(name)), name, recipe(name).commands)
    if name == "charlm":
        request_ = dict(request_, prime="First", length=20)
    status, body = post(f"{server.url}/{command}", request_)
    assert status in (200, 422), body
    if status == 422:
        assert body["field"] in request_ and "expected a number" in body["error"], body
    else:
        assert json.dumps(body)


def test_a_limit_stopped_from_another_thread_ends_the_work_at_its_next_check():
    assert deadline.remaining() is None
    deadline.check()  # no limit: never raises
    with deadline.limit(None) as running:
        assert deadline.remaining() is None
        threading.Thread(target=running.stop).start()
        with pytest.raises(deadline.WorkTimeout):
            for _ in range(1000):
                deadline.check()
                time.sleep(0.005)
    with deadline.limit(60) as outer, deadline.limit(None):  # stopping an outer limit reaches the inner work
        outer.stop()
        with pytest.raises(deadline.WorkTimeout):
            deadline.check()
    with deadline.limit(0.05), deadline.limit(60):  # an outer, earlier limit stays
        assert deadline.remaining() <= 0.05
