"""The use commands (``rnnkit sample/translate/chat/predict/forecast ...`` and their JSON form under
``rnnkit serve``) take bounded, documented numbers: every numeric option of every recipe states its
range in ``--help`` and as the JSON field's ``minimum``/``maximum``; one just past the range is a
one-line error (exit 2) naming the option, or a 422 naming the field. Options may come before,
between or after the texts. Issue 28, part C."""

from __future__ import annotations

import pytest
from helpers import FIXTURES, smoke_runs

from rnnkit.cli import _use_parser, main
from rnnkit.recipes import recipe, recipes
from rnnkit.serve.validate import RequestError, expected, validate
from rnnkit.train.forms import bounded_of
from rnnkit.train.params import LIST_TYPES, REQUIRED, Param, forms


def _params():
    """(recipe, verb, Param) of every parameter declared for every use command and ``eval``."""
    for found in recipes():
        for command in found.commands:
            for param in command.params:
                yield found.name, command.name, param
        for param in found.eval_params:
            yield found.name, "eval", param


def _arguments():
    """(recipe, verb, Arg) of every command-line argument the CLI builds."""
    for found in recipes():
        for command in found.commands:
            for argument in command.arguments:
                yield found.name, command.name, argument
        for argument in found.eval_arguments:
            yield found.name, "eval", argument


def _numeric_options():
    """(recipe, verb, the Param as the command line has it) of every number option."""
    return [
        (name, verb, view)
        for name, verb, param in _params()
        for view in forms([param], "cli")
        if view.type in (int, float)
    ]


def test_every_numeric_option_and_field_states_its_range():
    for name, verb, param in _params():
        for view in forms([param], "cli") + forms([param], "http"):
            if view.type in (int, float):
                assert view.low is not None and view.high is not None, (name, verb, param.name)
    # every typed command-line option comes from a number's declaration, and its help says the range
    typed = [(name, verb, a) for name, verb, a in _arguments() if a.options.get("type") not in (None, str)]
    unbounded = [f"{name} {verb} {a.flags[0]}" for name, verb, a in typed if not bounded_of(a)]
    assert not unbounded, f"numeric options without a stated range: {', '.join(unbounded)}"
    for name, verb, argument in typed:
        assert bounded_of(argument).expected in argument.options["help"].replace("%%", "%"), (name, verb)
    open_fields = [
        f"{found.name} {command.name} {field.name}"
        for found in recipes()
        for command in found.commands
        if command.serve
        for field in command.serve.fields
        if field.type in ("integer", "number") and (field.minimum is None or field.maximum is None)
    ]
    assert not open_fields, f"numeric JSON fields without a minimum and a maximum: {', '.join(open_fields)}"
    assert len(_numeric_options()) >= 30  # the walk found the options


def _past(option: Param) -> list[str]:
    """Values just outside the range, as typed on the command line."""
    high = option.high + 1 if option.type is int else option.high * 2 + 1
    low = option.low - 1 if option.type is int else (option.low if option.open_low else option.low - 1)
    return [str(high), str(low), "nan" if option.type is float else "1.5"]


def _positionals(found, verb) -> list[str]:
    """A value for each required positional argument of the command."""
    if verb == "eval":
        return []
    return [
        "x"
        for p in forms(found.command(verb).params, "cli")
        if p.positional and (p.type not in LIST_TYPES or p.default is REQUIRED)
    ]


@pytest.mark.parametrize(
    "name, verb, option", _numeric_options(), ids=[f"{n}-{v}-{o.name}" for n, v, o in _numeric_options()]
)
def test_the_command_line_refuses_a_number_past_the_range_in_one_line(name, verb, option, capsys):
    found = recipe(name)
    parser = _use_parser(verb, found)
    flag = option.arg().flags[0]
    expected_range = option.bounded.expected
    for value in _past(option):
        with pytest.raises(SystemExit) as stop:
            parser.parse_intermixed_args(["RUN", *_positionals(found, verb), f"{flag}={value}"])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and err.count("\n") == 1, err
        assert f"argument {flag}: expected {expected_range}" in err and "Traceback" not in err, err
    # the ends themselves are taken
    for value in (option.high, option.low) if not option.open_low else (option.high,):
        args = parser.parse_intermixed_args(["RUN", *_positionals(found, verb), f"{flag}={value}"])
        assert getattr(args, option.name) == value


def _served():
    return [
        (found.name, command.name, field)
        for found in recipes()
        for command in found.commands
        if command.serve
        for field in command.serve.fields
        if field.type in ("integer", "number")
    ]


@pytest.mark.parametrize("name, verb, field", _served(), ids=[f"{n}-{v}-{f.name}" for n, v, f in _served()])
def test_the_server_refuses_a_number_past_the_range_with_422(name, verb, field):
    serving = recipe(name).command(verb).serve
    high = field.maximum + 1 if field.type == "integer" else field.maximum * 2 + 1
    with pytest.raises(RequestError) as info:
        validate(verb, serving, {**serving.example, field.name: high})
    assert info.value.status == 422 and f"field {field.name!r}: expected" in info.value.message
    assert f"expected {expected(field)}, got" in info.value.message and " to " in expected(field)


# ---- on trained smoke runs, through ``rnnkit.cli.main`` ----


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return smoke_runs(tmp_path_factory)


@pytest.fixture
def run_of(trained, capsys):
    """recipe name -> its smoke run, with the training's output cleared from capsys."""

    def get(name: str):
        run = trained(name)
        capsys.readouterr()
        return run

    return get


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _refused(capsys, *argv) -> str:
    """The one error line of a command that must exit 2."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, (argv, code, err)
    return err


#: per use command that reads texts: (texts, options); the options are put before, between and after
ORDER_CASES = {
    ("translate", "translate"): (["Der rote Hund läuft.", "Ein Mann."], ["--beam", "2", "--max-ratio", "1.5"]),
    ("chat", "chat"): (["What is thy name?", "Whither goest thou?"], ["--beam", "2", "--max-reply", "5"]),
    ("names", "predict"): (["Kowalski", "Nakamura"], ["--top", "2", "--prior", "uniform"]),
    ("postag", "tag"): (["The old man the boat .", "Dogs bark ."], ["--format", "tsv"]),
    ("embeddings", "neighbors"): (None, ["--top", "3"]),
    ("embeddings", "analogy"): (None, ["--top", "2"]),
    ("seqmnist", "predict"): (None, ["--index", "0"]),
    ("caption", "caption"): (None, ["--beam", "2", "--max-words", "5"]),
    ("cnn", "predict"): (None, ["--top", "2"]),
    ("stn", "predict"): (None, ["--top", "2"]),
    ("stn", "transform"): (None, ["--count", "2"]),
    ("transfer", "predict"): (None, ["--top", "2"]),
}


def test_every_command_that_reads_texts_has_an_order_case():
    reading = {
        (found.name, command.name)
        for found in recipes()
        for command in found.commands
        if any(p.positional for p in forms(command.params, "cli"))
    }
    assert reading <= set(ORDER_CASES), sorted(reading - set(ORDER_CASES))


@pytest.mark.parametrize("name, verb", sorted(ORDER_CASES), ids=[f"{n}-{v}" for n, v in sorted(ORDER_CASES)])
def test_options_may_come_before_between_or_after_the_texts(name, verb, run_of, capsys, tmp_path):
    run = run_of(name)
    texts, options = ORDER_CASES[name, verb]
    if name == "embeddings":  # words of its vocabulary
        import rnnkit

        texts = rnnkit.load(run).words[: 3 if verb == "analogy" else 2]
    elif name in ("seqmnist", "cnn", "stn", "transfer"):  # image files
        texts = [str(_digit_png(tmp_path, "a")), str(_digit_png(tmp_path, "b"))]
    elif name == "caption":  # image files
        texts = [str(p) for p in sorted((FIXTURES / "caption" / "scenes").glob("*.png"))[:2]]
    after = _run(capsys, verb, run, *texts, *options)
    assert after[0] == 0 and after[1].strip(), after
    before = _run(capsys, verb, run, *options, *texts)
    between = _run(capsys, verb, run, texts[0], *options, *texts[1:])
    split = _run(capsys, verb, run, *options[:2], *texts, *options[2:])
    assert before[:2] == after[:2] == between[:2] == split[:2]  # code and output (a warning shows once)


def _digit_png(folder, name: str):
    from PIL import Image

    path = folder / f"{name}.png"
    Image.new("L", (28, 28), 0).save(path)
    return path


# ---- item 1: a tiny temperature or top_p is greedy, on the command line and over HTTP ----

SAMPLERS = {
    "charlm": ("sample", "--prime", "First", "--length", "25"),
    "wordlm": ("sample", "--words", "8"),
    "names-gen": ("sample", "--category", "Ovish", "--start", "KM", "--n", "2"),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_a_tiny_temperature_or_top_p_samples_the_greedy_text(name, run_of, capsys):
    run, args = run_of(name), SAMPLERS[name]
    code, greedy, _ = _run(capsys, *args[:1], run, *args[1:], "--temperature", "0")
    assert code == 0 and greedy.strip()
    for tiny, seed in (
        (["--temperature", "1e-300"], "1"),
        (["--temperature", "1e-45"], "2"),
        (["--top-p", "1e-300"], "3"),
    ):
        assert _run(capsys, *args[:1], run, *args[1:], *tiny, "--seed", seed) == (0, greedy, ""), tiny


def test_chat_and_translate_sample_greedily_at_a_tiny_temperature(run_of, capsys):
    run = run_of("chat")
    line = "What is thy name?"
    greedy = _run(capsys, "chat", run, line)
    assert greedy[0] == 0 and _run(capsys, "chat", run, line, "--temperature", "1e-300", "--seed", "4") == greedy
    assert _run(capsys, "chat", run, line, "--temperature", "1", "--top-p", "1e-300", "--seed", "4") == greedy


def test_served_samplers_answer_a_tiny_temperature_greedily(run_of):
    import rnnkit

    lm = rnnkit.load(run_of("charlm"))
    serving = recipe("charlm").command("sample").serve
    answers = [
        serving.handle(lm, validate("sample", serving, {"length": 20, "prime": "First", **extra}))
        for extra in (
            {"temperature": 0},
            {"temperature": 1e-300},
            {"temperature": 1e-45, "seed": 3},
            {"top_p": 1e-300, "seed": 3},
        )
    ]
    assert all(a == answers[0] for a in answers)


# ---- item 2: translate's search and input are bounded, with named ranges ----


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--length-penalty", "1e308", "a number from 0 to 10"),
        ("--max-ratio", "1000000", "a number from 0 to 10"),
        ("--max-ratio", "1e17", "a number from 0 to 10"),
        ("--max-ratio", "1e308", "a number from 0 to 10"),
        ("--beam", "100000", "an integer from 1 to 64"),
        ("--max-source-tokens", "10001", "an integer from 1 to 10,000"),
    ],
)
def test_translate_refuses_unbounded_work_in_one_line(option, value, expected, run_of, capsys):
    err = _refused(capsys, "translate", run_of("translate"), option, value, "Ein Mann.")
    assert f"argument {option}: expected {expected}, got {value}" in err


def test_a_source_line_over_the_bound_is_refused_and_the_bound_can_be_raised(run_of, capsys, monkeypatch):
    import io
    import time

    run = run_of("translate")
    long = " ".join(["Mann"] * 1_001)
    err = _refused(capsys, "translate", run, long)
    assert "line 1: 1,001 source tokens; at most 1,000 are read per line (--max-source-tokens, up to 10,000)" in err
    code, out, _ = _run(capsys, "translate", run, long, "--max-source-tokens", "1001", "--max-ratio", "0")
    assert code == 0 and len(out.split()) <= 10  # max ratio 0: at most 10 tokens
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(("Ein Mann.\n" + long + "\n").encode())))
    assert "line 2: 1,001 source tokens" in _refused(capsys, "translate", run)
    started = time.monotonic()  # two million words: refused after tokenizing, no decoding, no oneDNN error
    assert "2,000,000 source tokens" in _refused(capsys, "translate", run, " ".join(["Mann"] * 2_000_000))
    assert time.monotonic() - started < 60


def test_served_translate_bounds_each_request(run_of):
    import rnnkit

    model = rnnkit.load(run_of("translate"))
    serving = recipe("translate").command("translate").serve
    for field, value in [
        ("beam", 65),
        ("beam", 100_000),
        ("max_ratio", 1e6),
        ("max_ratio", 1e308),
        ("length_penalty", 1e308),
    ]:
        with pytest.raises(RequestError) as info:
            validate("translate", serving, {"text": ["Ein Mann."], field: value})
        assert info.value.status == 422 and field in info.value.message
    request = validate("translate", serving, {"text": [" ".join(["Mann"] * 1_001)]})
    with pytest.raises(ValueError, match="at most 1,000 are read per line"):  # the server answers 422
        serving.handle(model, request)
    assert serving.handle(
        model,
        validate("translate", serving, {"text": ["Ein Mann."], "max_ratio": 10, "beam": 64, "length_penalty": 10}),
    )


def test_search_options_check_every_range_themselves():
    from rnnkit.families.seq2seq.translator import SearchOptions

    for changes, message in [
        ({"beam": 65}, "--beam: expected an integer from 1 to 64"),
        ({"max_ratio": 1e308}, "--max-ratio: expected a number from 0 to 10"),
        ({"length_penalty": float("inf")}, "--length-penalty: expected a number from 0 to 10"),
        ({"max_extra": 10_001}, "--max-extra: expected an integer from 0 to 10,000"),
        ({"max_source_tokens": 0}, "--max-source-tokens: expected an integer from 1 to 10,000"),
        ({"no_repeat_ngram": 101}, "--no-repeat-ngram: expected an integer from 0 to 100"),
    ]:
        with pytest.raises(ValueError, match=message):
            SearchOptions(**changes).check()


def test_output_length_is_capped_at_ten_thousand_tokens(run_of, monkeypatch):
    import rnnkit
    from rnnkit.decode import Hypothesis
    from rnnkit.families.seq2seq import translator as translation

    model = rnnkit.load(run_of("translate"))
    seen = []

    def greedy(step, state, context, batch_size, sos, eos, max_lengths, **kwargs):
        seen.append(max_lengths.tolist())
        return [Hypothesis([], 0.0, None, True)] * batch_size

    monkeypatch.setattr(translation, "greedy_search", greedy)
    options = translation.SearchOptions(max_ratio=10.0, max_source_tokens=10_000)
    model.translator.translate([" ".join(["Mann"] * 2_000), "Mann"], options)
    # (tokens + <eos>) * 10 + 10: 30 for one word; 20,020 for 2,000 words, capped at 10,000
    assert seen == [[30, 10_000]]


def test_a_search_too_big_for_memory_is_refused_and_batches_fit_the_budget(run_of, capsys):
    from rnnkit.decode.limits import budget_batches

    long = " ".join(["Mann"] * 10_000)  # beam 64 x 10,000 steps x 10,001 source positions of attention
    err = _refused(
        capsys,
        "translate",
        run_of("translate"),
        long,
        "--max-source-tokens",
        "10000",
        "--beam",
        "64",
        "--max-ratio",
        "10",
        "--replace-unk",
    )
    assert "a line of 10,000 source tokens with --beam 64 and attention kept: needs about 25.6 GB" in err
    assert budget_batches([1, 2, 3, 3, 5], batch_size=3, budget=8) == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="item 2: needs about"):
        budget_batches([1, 2, 9], batch_size=3, budget=8)


# ---- item 3: forecast's horizon and samples ----


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--samples", "1000000000", "an integer from 1 to 10,000"),
        ("--horizon", "1000000000", "an integer from 1 to 1,000"),
        ("--seed", str(2**64), "an integer from 0 to 4,294,967,295"),
    ],
)
def test_forecast_refuses_unbounded_work_in_one_line(option, value, expected, run_of, capsys):
    err = _refused(capsys, "forecast", run_of("timeseries"), option, value)
    assert f"argument {option}: expected {expected}" in err


def test_forecast_checks_its_bounds_itself(run_of):
    import torch

    import rnnkit

    model = rnnkit.load(run_of("timeseries"))
    values = torch.arange(50, dtype=torch.float64)
    with pytest.raises(ValueError, match="horizon: expected an integer from 1 to 1,000"):
        model.forecast(values, 10**9, "values")
    with pytest.raises(ValueError, match="samples: expected an integer from 1 to 10,000"):
        model.forecast(values, 3, "values", samples=10**9)


# ---- item 4: chat is greedy by default; beam search with n-gram blocking needs no temperature ----


def test_chat_replies_the_same_every_time_and_the_readme_command_works(run_of, capsys):
    import rnnkit

    run, line = run_of("chat"), "What is thy name?"
    replies = [_run(capsys, "chat", run, line) for _ in range(3)]
    assert replies[0][0] == 0 and replies[0] == replies[1] == replies[2]
    code, out, err = _run(capsys, "chat", run, "--beam", "5", "--no-repeat-ngram", "2", line)
    assert code == 0 and out.count("\n") == 1 and "error" not in err
    sampled = [_run(capsys, "chat", run, line, "--temperature", "0.9", "--seed", "7") for _ in range(2)]
    assert sampled[0][0] == 0 and sampled[0] == sampled[1]  # sampling only when asked, and seedable
    bot, serving = rnnkit.load(run), recipe("chat").command("chat").serve
    request = validate("chat", serving, {"text": [line], "beam": 5, "no_repeat_ngram": 2})
    assert request["temperature"] == 0 and serving.handle(bot, request)["replies"][0]["text"]
    plain = validate("chat", serving, {"text": [line]})
    assert [serving.handle(bot, plain) for _ in range(3)] == [serving.handle(bot, plain)] * 3


# ---- item 5: names-gen refuses start letters the model never saw ----


def test_names_gen_refuses_unseen_start_letters(run_of, capsys):
    import rnnkit

    run = run_of("names-gen")
    err = _refused(capsys, "sample", run, "--category", "Ovish", "--start", "KЖ", "--seed", "1")
    assert "--start: the model never saw 'Ж' in training" in err
    assert "'Q'" in _refused(capsys, "sample", run, "--category", "Ovish", "--start", "QK")
    generator, serving = rnnkit.load(run), recipe("names-gen").command("sample").serve
    with pytest.raises(ValueError, match="never saw 'Ж'"):  # the server answers 422
        serving.handle(generator, validate("sample", serving, {"category": "Ovish", "start": "Ж"}))
    assert serving.handle(generator, validate("sample", serving, {"category": "Ovish", "start": "KM", "seed": 1}))
