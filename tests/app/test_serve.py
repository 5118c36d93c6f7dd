"""``rnnkit serve``: every served command answers the JSON its Python API gives, on each recipe's
smoke run; bad requests get a clear 4xx/5xx and the server goes on; concurrent requests are merged
into one model call; startup failures are one line and exit 2."""

import base64
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from helpers import FIXTURES  # noqa: E402
from serve_helpers import get, post, serving, trained  # noqa: E402,F401

import rnnkit  # noqa: E402
from rnnkit.cli import main  # noqa: E402
from rnnkit.data import mnist  # noqa: E402
from rnnkit.data.conllu import sentences_from_text  # noqa: E402
from rnnkit.families.seq2seq.translator import SearchOptions  # noqa: E402
from rnnkit.recipes import REGISTRY, recipe  # noqa: E402
from rnnkit.serve.validate import RequestError, validate  # noqa: E402
from rnnkit.train.params import REQUIRED, Field, Param  # noqa: E402
from rnnkit.train.recipe import Command, Serving  # noqa: E402


def _probabilities(predictions):
    return [
        {"name": name, "languages": [{"language": lang, "probability": math.exp(lp)} for lp, lang in top]}
        for name, top in predictions
    ]


def _cli(capsys, *args) -> str:
    capsys.readouterr()
    assert main(list(args)) == 0
    return capsys.readouterr().out


# recipe -> command -> (request, expected(model, run, capsys)): what the Python API (and the CLI) gives
def _charlm(lm, run, capsys):
    text = lm.sample("First", 20, seed=1)
    assert (
        _cli(capsys, "sample", str(run), "--prime", "First", "--length", "20", "--seed", "1") == "First" + text + "\n"
    )
    return {"prime": "First", "text": text}


def _names(classifier, run, capsys):
    return {
        "prior": "uniform",
        "predictions": _probabilities(zip(["Kateov", "Kateson"], classifier.predict(["Kateov", "Kateson"], 2))),
    }


def _postag(tagger, run, capsys):
    words = sentences_from_text("The old man the boat .")[0].words
    tags = tagger.tag([words])[0]
    pairs = " ".join(f"{w}/{u}" for w, u in zip(words, tags["upos"])) + "\n"
    assert _cli(capsys, "tag", str(run), "The old man the boat .") == pairs
    return {"sentences": [{"words": words, **tags}]}


def _translate(model, run, capsys):
    t = model.translator.translate(["Der rote Hund läuft."], SearchOptions())[0]
    assert _cli(capsys, "translate", str(run), "Der rote Hund läuft.") == t.text + "\n"
    return {"translations": [{"text": t.text, "unknown": t.unknown}]}


def _chat(bot, run, capsys):
    lines = ["What is thy name?", "Whither goest thou?"]
    out = _cli(capsys, "chat", str(run), *lines, "--temperature", "1", "--seed", "1")
    replies = [
        bot.replies([line], SearchOptions(temperature=1.0, seed=1, max_ratio=0.0, max_extra=25, no_unk=True))[0]
        for line in lines
    ]
    assert out == "".join(r.text + "\n" for r in replies)
    return {"replies": [{"text": r.text, "unknown": list(dict.fromkeys(r.unknown))} for r in replies]}


def _mnist_image():
    return mnist.read_idx(FIXTURES / "mnist" / "t10k-images-idx3-ubyte.gz", mnist.IMAGES)[3]


def _seqmnist(classifier, run, capsys):
    p, digits = classifier.probabilities(_mnist_image()[None])[0].topk(3)
    top = [{"digit": int(d), "probability": float(q)} for d, q in zip(digits, p)]
    return {"predictions": [{"digit": top[0]["digit"], "probability": top[0]["probability"], "top": top}]}


_SCENE = FIXTURES / "caption" / "scenes" / "test1.png"


def _caption(model, run, capsys):
    """The server's caption of a base64 PNG is the command line's caption of the file."""
    out = _cli(capsys, "caption", str(run), str(_SCENE), "--beam", "2")
    return {"captions": [{"text": out.split(None, 1)[1].strip() if len(out.split(None, 1)) > 1 else ""}]}


def _image_class(model, run, capsys):
    """The server's top 2 for a base64 PNG are the Python API's for the same file."""
    from rnnkit.families.vision.inputs import read_images

    images = read_images([str(_SCENE)], model.meta["side"], model.meta["channels"])
    p, best = model.log_probs(images).exp()[0].topk(2)
    key = "digit" if type(model).__name__ == "StnClassifier" else "class"
    top = [
        {key: int(c) if key == "digit" else model.meta["classes"][c], "probability": float(q)} for c, q in zip(best, p)
    ]
    return {"predictions": [{key: top[0][key], "probability": top[0]["probability"], "top": top}]}


def _timeseries(model, run, capsys):
    saved = model.meta["series"]
    import torch

    rows = model.forecast(torch.tensor(saved["tail"], dtype=torch.float64), 3, saved["source"], 200, 0)
    out = _cli(capsys, "forecast", str(run), "--horizon", "3").splitlines()[1:]
    assert [float(line.split(",")[2]) for line in out] == pytest.approx([r[1] for r in rows], rel=1e-5)
    step = float(saved["times"][-1]) - float(saved["times"][-2])
    return {
        "source": saved["source"],
        "forecast": [
            {"step": k, "time": float(saved["times"][-1]) + k * step, "forecast": m, "lower": lo, "upper": hi}
            for k, m, lo, hi in rows
        ],
    }


def _neighbors(model, run, capsys):
    out = _cli(capsys, "neighbors", str(run), "king", "--top", "3")
    found = [(part.rsplit(" ", 1)[0], float(part.rsplit(" ", 1)[1])) for part in out.split(": ", 1)[1].split(", ")]
    return found


SERVED = {
    ("charlm", "sample"): ({"prime": "First", "length": 20, "seed": 1}, _charlm),
    ("wordlm", "sample"): (
        {"words": 8, "seed": 1},
        lambda lm, run, capsys: {"prime": "", "text": lm.sample("", 8, seed=1)},
    ),
    ("names", "predict"): ({"names": ["Kateov", "Kateson"], "top": 2}, _names),
    ("names-gen", "sample"): (
        {"category": "Ovish", "start": "KM", "seed": 1},
        lambda g, run, capsys: {"category": "Ovish", "names": g.sample_names("Ovish", start="KM", seed=1)},
    ),
    ("postag", "tag"): ({"text": ["The old man the boat ."]}, _postag),
    ("translate", "translate"): ({"text": ["Der rote Hund läuft."]}, _translate),
    ("chat", "chat"): ({"text": ["What is thy name?", "Whither goest thou?"], "temperature": 1.0, "seed": 1}, _chat),
    ("seqmnist", "predict"): ({"images": [_mnist_image().tolist()]}, _seqmnist),
    ("timeseries", "forecast"): ({"horizon": 3}, _timeseries),
    ("embeddings", "neighbors"): ({"words": ["king"], "top": 3}, _neighbors),
    ("embeddings", "analogy"): ({"a": "man", "b": "king", "c": "woman"}, None),
    ("caption", "caption"): ({"images": [base64.b64encode(_SCENE.read_bytes()).decode()], "beam": 2}, _caption),
    ("cnn", "predict"): ({"images": [base64.b64encode(_SCENE.read_bytes()).decode()], "top": 2}, _image_class),
    ("stn", "predict"): ({"images": [base64.b64encode(_SCENE.read_bytes()).decode()], "top": 2}, _image_class),
    ("transfer", "predict"): ({"images": [base64.b64encode(_SCENE.read_bytes()).decode()], "top": 2}, _image_class),
}


def test_every_served_command_is_tested_and_its_example_fits_its_fields():
    served = {(name, c.name) for name in REGISTRY for c in recipe(name).commands if c.serve is not None}
    assert served == set(SERVED)
    for name, command in served:
        found = recipe(name).command(command)
        validate(command, found.serve, found.serve.example)  # raises RequestError when it does not fit


@pytest.mark.parametrize("name", sorted({name for name, _ in SERVED}))
def test_served_commands_answer_what_the_python_api_gives(name, trained, serving, capsys):
    run = trained(name)
    model = rnnkit.load(run)
    server = serving(rnnkit.load(run), name, recipe(name).commands)
    for (recipe_name, command), (request, expected) in SERVED.items():
        if recipe_name != name:
            continue
        status, body = post(f"{server.url}/{command}", request)
        assert status == 200, body
        if command == "neighbors":
            cli = expected(model, run, capsys)
            assert [(n["word"], round(n["cosine"], 3)) for n in body["neighbors"][0]["neighbors"]] == cli
        elif command == "analogy":
            out = _cli(capsys, "analogy", str(run), "man", "king", "woman")
            assert out.startswith("man : king :: woman : " + body["answers"][0]["word"] + " ")
            assert len(body["answers"]) == 5
        else:
            assert body == json.loads(json.dumps(expected(model, run, capsys))), command
    status, listing = get(server.url + "/commands")
    assert status == 200 and listing["recipe"] == name
    every = {c.name for c in recipe(name).commands} | {"eval"}
    assert set(listing["commands"]) | set(listing["not_served"]) == every
    status, health = get(server.url + "/health")
    assert status == 200 and health["status"] == "ok" and health["recipe"] == name
    assert health["checkpoint"] == str(model.path) and health["requests_served"] >= 1 and health["uptime_s"] >= 0


def test_bad_requests_get_clear_errors_and_the_server_goes_on(trained, serving):
    run = trained("charlm")
    server = serving(rnnkit.load(run), "charlm", recipe("charlm").commands, max_body_bytes=1024)
    url = server.url
    cases = [
        (post(url + "/sample", b'{"length": 5,', raw=True), 400, "malformed JSON"),
        (post(url + "/sample", b'{"temperature": NaN}', raw=True), 400, "NaN is not valid JSON"),
        (post(url + "/sample", b"\xff\xfe", raw=True), 400, "not UTF-8"),
        (post(url + "/sample", b"[" * 1000, raw=True), 400, "malformed JSON"),
        (post(url + "/sample", {"prime": "x" * 2000}), 413, "at most 1024"),
        (
            post(url + "/sample", {"lenght": 5, "colour": 1}),
            422,
            "unknown fields 'lenght', 'colour' for sample; allowed: prime, length,",
        ),
        (
            post(url + "/sample", {"length": "5"}),
            422,
            "field 'length': expected an integer from 0 to 20000, got string '5'",
        ),
        (post(url + "/sample", {"length": 2.5}), 422, "field 'length': expected an integer"),
        (post(url + "/sample", {"length": -1}), 422, "got number -1"),
        (post(url + "/sample", {"skip_unknown": "yes"}), 422, "field 'skip_unknown': expected true or false"),
        (post(url + "/sample", [1, 2]), 422, "must be a JSON object"),
        (post(url + "/sample", {"prime": "\u00e9", "length": 3}), 422, "not in the model's vocabulary"),
        (post(url + "/tag", {}), 404, "no command 'tag' for a charlm model; served: sample"),
        (post(url + "/export", {}), 404, "'export' is not served over HTTP"),
        (get(url + "/sample"), 405, "takes POST"),
        (get(url + "/nowhere"), 404, "no such path"),
    ]
    for (status, body), want_status, want in cases:
        assert status == want_status and body["status"] == want_status, body
        assert want in body["error"], body
    bodies = [body for (_, body), _, _ in cases]
    unknown = next(b for b in bodies if "unknown_fields" in b)
    assert unknown["unknown_fields"] == ["lenght", "colour"] and "skip_unknown" in unknown["allowed_fields"]
    assert next(b for b in bodies if "field" in b) == {
        "error": "field 'length': expected an integer from 0 to 20000, got string '5'",
        "status": 422,
        "field": "length",
        "expected": "an integer from 0 to 20000",
    }
    status, body = post(url + "/sample", {"prime": "First", "length": 5, "seed": 1})
    assert status == 200 and len(body["text"]) == 5
    assert get(url + "/") == get(url + "/commands")
    status, health = get(url + "/health")
    assert health["answers"] == {"200": 1, "400": 4, "404": 2, "413": 1, "422": 7}


def _gated_command(calls: list, gate: threading.Event) -> Command:
    """A batchable test command: ``items`` answered doubled. A request of ``["hold"]`` holds the
    worker until ``gate`` is set (so that others queue behind it); an item ``bad`` is a ValueError."""

    def handle(model, request):
        calls.append(list(request["items"]))
        if request["items"] == ["hold"]:
            gate.wait(10)
        if "bad" in request["items"]:
            raise ValueError("item 'bad' is bad")
        return {"doubled": [x * 2 for x in request["items"]], "suffix": request["suffix"]}

    return Command(
        "double",
        "doubles strings",
        (Param("items", "strings", REQUIRED, size=(1, None)), Param("suffix", str, "")),
        lambda model, values: 0,
        serve=Serving(handle, example={"items": ["a"]}, batch="items", output="doubled"),
    )


def _behind_a_held_call(url: str, bodies: list, calls: list, gate: threading.Event) -> list:
    """``bodies`` posted while a held call runs (so they all queue), then the hold released; the answers."""
    gate.clear()
    with ThreadPoolExecutor(len(bodies) + 1) as pool:
        held = pool.submit(post, url + "/double", {"items": ["hold"]})
        while ["hold"] not in calls:
            time.sleep(0.005)
        queued = [pool.submit(post, url + "/double", body) for body in bodies]
        while get(url + "/health")[1]["waiting"] < len(bodies):
            time.sleep(0.005)
        gate.set()
        assert held.result()[0] == 200
        return [f.result() for f in queued]


def test_concurrent_requests_are_merged_into_one_model_call(serving):
    calls, gate = [], threading.Event()
    server = serving(None, "test", [_gated_command(calls, gate)], batch_wait_ms=0, max_batch=8)
    bodies = [{"items": [f"x{i}", f"y{i}"]} for i in range(6)] + [{"items": ["z"], "suffix": "other"}]
    answers = _behind_a_held_call(server.url, bodies, calls, gate)
    for body, answer in zip(bodies, answers):
        assert answer == (200, {"doubled": [x * 2 for x in body["items"]], "suffix": body.get("suffix", "")})
    # the held call, one call for the six requests alike (12 items), one for the other suffix
    assert sorted(map(len, calls)) == [1, 1, 12]
    health = get(server.url + "/health")[1]
    assert health["model_calls"] == 3 and health["merged_requests"] == 6


def test_a_bad_request_in_a_merged_call_fails_alone(serving):
    calls, gate = [], threading.Event()
    server = serving(None, "test", [_gated_command(calls, gate)], batch_wait_ms=0)
    bodies = [{"items": ["a"]}, {"items": ["bad"]}, {"items": ["b", "c"]}]
    answers = _behind_a_held_call(server.url, bodies, calls, gate)
    assert answers[0] == (200, {"doubled": ["aa"], "suffix": ""})
    assert answers[1] == (422, {"error": "item 'bad' is bad", "status": 422})
    assert answers[2] == (200, {"doubled": ["bb", "cc"], "suffix": ""})
    assert len(calls) == 1 + 1 + 3  # held, the merged call that failed, then one call per request
    assert get(server.url + "/health")[1]["answers"] == {"200": 3, "422": 1}


def test_merged_predictions_equal_single_ones(trained, serving):
    run = trained("names")
    classifier = rnnkit.load(run)
    server = serving(rnnkit.load(run), "names", recipe("names").commands, batch_wait_ms=300)
    names = [["Kateov"], ["Kateson", "Mcdonald"], ["Ovich"], ["Sonneson"]]
    with ThreadPoolExecutor(len(names)) as pool:
        answers = list(pool.map(lambda n: post(server.url + "/predict", {"names": n, "top": 2}), names))
    for request, (status, body) in zip(names, answers):
        assert status == 200
        want = _probabilities(zip(request, classifier.predict(request, 2)))
        for got, expected in zip(body["predictions"], want):
            assert [x["language"] for x in got["languages"]] == [x["language"] for x in expected["languages"]]
            assert [x["probability"] for x in got["languages"]] == pytest.approx(
                [x["probability"] for x in expected["languages"]], abs=1e-6
            )
    health = get(server.url + "/health")[1]
    assert health["merged_requests"] >= 2 and health["model_calls"] < len(names)


def _slow_command() -> Command:
    def handle(model, request):
        time.sleep(request["seconds"])
        return {"slept": request["seconds"]}

    return Command(
        "slow",
        "sleeps",
        (Param("seconds", float, 0.0, low=0.0, high=60.0),),
        lambda model, values: 0,
        serve=Serving(handle),
    )


def test_a_request_over_the_time_limit_gets_504_and_one_queued_behind_it_503(serving):
    server = serving(None, "test", [_slow_command()], timeout_s=0.3, queue_timeout_s=0.3)
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(post, server.url + "/slow", {"seconds": 0.8})
        time.sleep(0.1)
        queued = pool.submit(post, server.url + "/slow", {"seconds": 0})
        (status, body), (queued_status, queued_body) = running.result(), queued.result()
    assert status == 504 and "did not finish within 0.3 s" in body["error"]
    assert queued_status == 503 and "waited 0.3 s in the queue" in queued_body["error"]
    time.sleep(0.6)  # the slow call finishes in the background
    assert post(server.url + "/slow", {"seconds": 0}) == (200, {"slept": 0})


def test_a_request_queued_behind_a_call_of_the_longest_time_still_starts(serving):
    """--queue-timeout-s longer than --timeout-s: a light request behind one call that runs its
    whole time limit waits for it and is answered, not dropped."""
    server = serving(None, "test", [_slow_command()], timeout_s=0.3, queue_timeout_s=1.5)
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(post, server.url + "/slow", {"seconds": 0.8})  # sleeps: cannot be stopped
        time.sleep(0.1)
        queued = pool.submit(post, server.url + "/slow", {"seconds": 0})
        assert running.result()[0] == 504 and queued.result() == (200, {"slept": 0})


def test_validation_messages_name_the_field_and_what_was_expected():
    serving = Serving(lambda model, request: {}).with_fields(
        (  # the validator on its own: fields of any bounds
            Field("words", "strings", minimum=1, maximum=2),
            Field("top", "integer", 3, minimum=1),
            Field("mode", "string", "a", choices=("a", "b")),
            Field("seed", "integer", None),
        )
    )
    assert validate("x", serving, {"words": ["a"]}) == {"words": ["a"], "top": 3, "mode": "a", "seed": None}
    assert validate("x", serving, {"words": ["a"], "seed": None})["seed"] is None
    for body, message in [
        ({}, "missing field 'words' for x: expected a list of strings of 1 to 2 items"),
        ({"words": []}, "expected a list of strings of 1 to 2 items, got a list"),
        ({"words": ["a", 1]}, "field 'words': expected a list of strings"),
        ({"words": ["a"], "top": True}, "field 'top': expected an integer >= 1, got boolean true"),
        ({"words": ["a"], "mode": "c"}, "field 'mode': expected one of \"a\", \"b\", got string 'c'"),
        ({"words": ["a"], "top": None}, "field 'top': expected an integer >= 1, got null"),
    ]:
        with pytest.raises(RequestError) as info:
            validate("x", serving, body)
        assert info.value.status == 422 and message in info.value.message


def test_serve_without_the_libraries_is_one_line_naming_the_extra(trained, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi now raises ImportError
    assert main(["serve", str(trained("charlm")), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'rnnkit[serve]'" in err and err.startswith("rnnkit serve: error:")


def test_startup_errors_are_one_line_and_exit_2(trained, tmp_path, capsys):
    assert main(["serve", str(tmp_path / "missing"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing" in err
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        assert main(["serve", str(trained("charlm")), "--port", str(port)]) == 2
        err = capsys.readouterr().err
        assert err == f"rnnkit serve: error: port {port} on 127.0.0.1 is in use; choose another with --port\n"
    finally:
        taken.close()


def test_rnnkit_serve_runs_as_a_process_and_stops_on_ctrl_c(trained):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "serve", str(trained("charlm")), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("rnnkit serve: charlm model "), (line, process.stderr.read() if not line else "")
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        status, health = get(url + "/health")
        assert status == 200 and health["recipe"] == "charlm"
        assert post(url + "/sample", {"prime": "First", "length": 4})[0] == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
