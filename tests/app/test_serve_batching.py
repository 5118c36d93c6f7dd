"""Served answers do not depend on who else is asking (issue 28), for every served command.

Concurrent requests of a batchable command are merged into one model call; its float results
can then differ from the same request alone in the last digits (another batch size, other
padding: other summation orders). The stated tolerance (:data:`rnnkit.serve.TOLERANCE`): every
number within 1e-5 absolute or 1e-5 relative of the answer alone; every ranking the same except
where the answer alone has two scores within that tolerance; every string (names, tags,
translations, replies) equal. Here N requests are queued behind a held model call so that they
are merged for certain, then each is asked again alone and compared.
"""

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from helpers import FIXTURES  # noqa: E402
from serve_helpers import get, post, serving, trained  # noqa: E402,F401

import rnnkit  # noqa: E402
from rnnkit.data import mnist  # noqa: E402
from rnnkit.recipes import REGISTRY, recipe  # noqa: E402
from rnnkit.serve import TOLERANCE  # noqa: E402
from rnnkit.train.recipe import Command, Serving  # noqa: E402

N = 8
SCORES, IDS = ("probability", "cosine", "score"), ("language", "word", "digit", "class")


def _lines(path, count=N):
    return [line.strip() for line in open(path, encoding="utf-8") if line.strip()][:count]


def _images(count):
    return [
        image.tolist()
        for image in mnist.read_idx(FIXTURES / "mnist" / "t10k-images-idx3-ubyte.gz", mnist.IMAGES)[:count]
    ]


def _pictures(count):
    """Base64 PNG files: the caption fixtures' scenes and small images, repeated."""
    import base64

    files = sorted((FIXTURES / "caption").glob("*/*.png"))
    return [base64.b64encode(files[i % len(files)].read_bytes()).decode() for i in range(count)]


def _sentences():
    with open(FIXTURES / "treebank" / "made-up-ud-test.conllu", encoding="utf-8") as f:
        return [line.split("=", 1)[1].strip() for line in f if line.startswith("# text =")][:N]


def _requests(name: str, command: str) -> list[dict]:
    """N different requests of a served command (the batchable ones of one or two items)."""
    names = [n for kind in ("Ovish", "Mcish", "Sonish") for n in _lines(FIXTURES / "names" / f"{kind}.txt", 4)]
    words = ["king", "queen", "man", "woman", "cat", "dog", "cow", "horse"]
    images = _images(N + 4)
    pictures = _pictures(N + 4)
    requests = {
        ("charlm", "sample"): [
            {"prime": p, "length": 12, "seed": i} for i, p in enumerate(["First", "The", "A", "t"] * 2)
        ],
        ("wordlm", "sample"): [{"words": 6, "seed": i} for i in range(N)],
        ("names", "predict"): [{"names": names[i : i + 1 + i % 2], "top": 3} for i in range(N)],
        ("names-gen", "sample"): [
            {"category": c, "seed": i, "n": 2} for i, c in enumerate(["Ovish", "Mcish", "Sonish"] * 3)
        ][:N],
        ("postag", "tag"): [{"text": [s]} for s in _sentences()],
        ("translate", "translate"): [{"text": [s]} for s in _lines(FIXTURES / "translate" / "test.de")],
        ("chat", "chat"): [
            {"text": [s], "temperature": 0}
            for s in _lines(FIXTURES / "translate" / "short.en")
            + ["What is thy name?", "Whither goest thou?", "Good morrow, sir."]
        ],
        ("seqmnist", "predict"): [{"images": images[i : i + 1 + i % 2]} for i in range(N)],
        ("caption", "caption"): [{"images": pictures[i : i + 1 + i % 2]} for i in range(N)],
        ("cnn", "predict"): [{"images": pictures[i : i + 1 + i % 2], "top": 3} for i in range(N)],
        ("stn", "predict"): [{"images": pictures[i : i + 1 + i % 2], "top": 3} for i in range(N)],
        ("transfer", "predict"): [{"images": pictures[i : i + 1 + i % 2], "top": 3} for i in range(N)],
        ("timeseries", "forecast"): [{"horizon": 2 + i, "samples": 50, "seed": i} for i in range(N)],
        ("embeddings", "neighbors"): [{"words": [w], "top": 5} for w in words],
        ("embeddings", "analogy"): [
            {"a": words[i], "b": words[(i + 1) % N], "c": words[(i + 2) % N]} for i in range(N)
        ],
    }[(name, command)]
    assert len(requests) == N
    return requests


SERVED = sorted((name, c.name) for name in REGISTRY for c in recipe(name).commands if c.serve is not None)


def _close(got: float, want: float) -> bool:
    return abs(got - want) <= max(TOLERANCE * abs(want), TOLERANCE)


def _score(item):
    return next((item[k] for k in SCORES if isinstance(item, dict) and k in item), None)


def _ranked(got: list, want: list, where: str) -> None:
    """A ranked list: scores within tolerance, the order the same but for ties within it."""
    scores = [_score(w) for w in want]
    for i, (g, w) in enumerate(zip(got, want)):
        assert _close(_score(g), scores[i]), (where, i, g, w)
        same = all(g.get(k) == w.get(k) for k in IDS if k in w)
        tied = any(j != i and _close(scores[j], scores[i]) for j in range(len(scores)))
        assert same or tied, (where, i, g, w)
        compare(
            {k: v for k, v in g.items() if k not in IDS}, {k: v for k, v in w.items() if k not in IDS}, f"{where}[{i}]"
        )


def compare(got, want, where: str = "answer") -> float:
    """Assert ``got`` (merged) matches ``want`` (alone) as stated; the largest difference of numbers."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (where, got, want)
        return max([compare(got[k], want[k], f"{where}.{k}") for k in want], default=0.0)
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (where, got, want)
        if want and all(_score(w) is not None for w in want):
            _ranked(got, want, where)
            return max(abs(_score(g) - _score(w)) for g, w in zip(got, want))
        return max([compare(g, w, f"{where}[{i}]") for i, (g, w) in enumerate(zip(got, want))], default=0.0)
    if isinstance(want, float) and not isinstance(want, bool):
        assert isinstance(got, (int, float)) and _close(got, want), (where, got, want)
        return abs(got - want) if math.isfinite(want) else 0.0
    assert got == want, (where, got, want)
    return 0.0


def _held(gate: threading.Event, held: threading.Event) -> Command:
    """A command that holds the model thread until ``gate`` is set, so that others queue behind it."""

    def handle(model, request):
        held.set()
        gate.wait(60)
        return {}

    return Command("hold", "holds the worker", (), lambda model, args: 0, serve=Serving(handle))


@pytest.mark.parametrize("name,command", SERVED)
def test_concurrent_answers_match_each_request_alone(name, command, trained, serving):
    requests = _requests(name, command)
    gate, held = threading.Event(), threading.Event()
    commands = list(recipe(name).commands) + [_held(gate, held)]
    server = serving(rnnkit.load(trained(name)), name, commands, max_batch=16, batch_wait_ms=0)
    together = _queued(server.url, command, requests, gate, held)
    health = get(server.url + "/health")[1]
    served = recipe(name).command(command).serve
    batched = served.batch is not None and all(
        served.batchable is None or served.batchable({f.name: r.get(f.name, f.default) for f in served.fields})
        for r in requests
    )
    assert health["merged_requests"] == (N if batched else 0), health
    alone = [post(f"{server.url}/{command}", r) for r in requests]
    largest = 0.0
    for request, (status, got), (status_alone, want) in zip(requests, together, alone):
        assert status == status_alone == 200, (request, got, want)
        largest = max(largest, compare(got, want, f"{name} {command} {request}"))
    if not batched:  # one call per request: exactly the answer alone
        assert together == alone
    print(f"{name} {command}: largest difference merged vs alone {largest:.2g}")


def _queued(url: str, command: str, requests: list, gate: threading.Event, held: threading.Event) -> list:
    """``requests`` sent at once while the model thread is held, then released: merged for certain."""
    with ThreadPoolExecutor(len(requests) + 1) as pool:
        hold = pool.submit(post, url + "/hold", {})
        assert held.wait(30)
        answers = [pool.submit(post, f"{url}/{command}", r) for r in requests]
        until = time.monotonic() + 30
        while get(url + "/health")[1]["waiting"] < len(requests) and time.monotonic() < until:
            time.sleep(0.01)
        gate.set()
        assert hold.result()[0] == 200
        return [a.result() for a in answers]


def test_the_comparison_fails_on_what_it_must_catch():
    """The checks above would see a swapped answer, a difference past the tolerance, a new order."""
    want = {
        "predictions": [
            {"name": "A", "languages": [{"language": "x", "probability": 0.6}, {"language": "y", "probability": 0.3}]}
        ]
    }
    near = {
        "predictions": [
            {
                "name": "A",
                "languages": [{"language": "x", "probability": 0.6 + 1e-7}, {"language": "y", "probability": 0.3}],
            }
        ]
    }
    assert compare(near, want) == pytest.approx(1e-7)
    for wrong in (
        {"predictions": [{"name": "B", "languages": want["predictions"][0]["languages"]}]},
        {
            "predictions": [
                {
                    "name": "A",
                    "languages": [{"language": "x", "probability": 0.6001}, {"language": "y", "probability": 0.3}],
                }
            ]
        },
        {
            "predictions": [
                {
                    "name": "A",
                    "languages": [{"language": "y", "probability": 0.6}, {"language": "x", "probability": 0.3}],
                }
            ]
        },
    ):
        with pytest.raises(AssertionError):
            compare(wrong, want)
    tie = [{"word": "a", "cosine": 0.5}, {"word": "b", "cosine": 0.5 + 1e-7}]
    assert compare(list(reversed([dict(t) for t in tie])), tie) < TOLERANCE  # a tie may swap
