"""The inputs named in issue 28, one case each (the families in the other modules cover
their neighbours). Ids say the bullet: ``issue/<what>``."""

from __future__ import annotations

import json
import re
import shutil

from ..core import Case
from ..fixtures import mutate_checkpoint, nested, png
from .common import all_of, finite_output, no_empty_lines_of_output, nonempty_output, smoke_train, warns_or_refuses

TR = "Ein Mann fährt Fahrrad."


def _calibration(text: str):
    def setup(env):
        (env.run("names") / "calibration.json").write_text(text)

    return setup


def _ckpt(recipe: str, change):
    def setup(env):
        mutate_checkpoint(env.run(recipe) / "best.safetensors", change)

    return setup


def _meta_set(path, value):
    def change(meta):
        target = meta
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value

    return change


def _dates_ok(outcome):
    if outcome.exit != 0:
        return None
    if re.search(r"\d\.\d+e\+0\d", outcome.out):
        return "a date printed as a float (e+0..)"
    for token in re.findall(r"(?<![\d.])(\d{8})(?![\d.])", outcome.out):
        month, day = int(token[4:6]), int(token[6:8])
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return f"{token} is not a date (YYYYMMDD continued by adding numbers)"
    return None


def _help_defaults(outcome):
    if re.search(r"\(default [^()]*\)\s*\(default: ", " ".join(outcome.out.split())):
        return "--help prints a default twice"
    return None


def _no_tok_s(outcome):
    if "tok/s" in outcome.out + outcome.err:
        return "the progress line says tok/s for a recipe without tokens"
    return None


def _same_twice(outcome):
    if outcome.exit == 0 and outcome.others and outcome.others[0].exit == 0 and outcome.out != outcome.others[0].out:
        return "two runs of the same chat command gave different replies (unseeded sampling by default)"
    return None


def _sidecar_ids(outcome):
    if outcome.exit != 0:
        return None
    run = outcome.env.runs.get("names")
    sidecar = run / "model.json" if run else None
    if sidecar is None or not sidecar.exists():
        return "no model.json beside the exported model"
    text = sidecar.read_text().lower()
    if not any(word in text for word in ("pad", "unk", "special", "offset")):
        return "model.json lists the characters without the special ids in front of them"
    if "temperature" not in text or "prior" not in text:
        return "model.json lacks the calibration temperature or the prior predict applies"
    return None


def _no_leftovers(outcome):
    run = outcome.env.runs.get("charlm")
    left = [p.name for p in run.iterdir() if ".tmp-" in p.name or p.name == "model.pt"] if run else []
    if outcome.exit != 0 and left:
        return f"a failed export left {left}"
    return None


def _warmup(outcome):
    run = outcome.env.tmp / "run"
    if outcome.exit != 0 or not (run / "metrics.jsonl").exists():
        return None
    lrs = [json.loads(l).get("lr") for l in (run / "metrics.jsonl").read_text().splitlines() if l.strip()]
    lrs = [x for x in lrs if x]
    peak = (
        json.loads((run / "config.json").read_text()).get("train", {}).get("lr")
        if (run / "config.json").exists()
        else None
    )
    if lrs and peak and max(lrs) < 0.5 * peak:
        return f"the learning rate peaked at {max(lrs):.2e} of {peak:.2e}: warm-up not sized to the run"
    return None


def _two_million(env):
    from ..fixtures import words_line

    env.ctx.cached("2M-words.txt", lambda path: words_line(path, 2_000_000, "Hund"))


def _co2(env):
    lines = (env.ctx.data / "timeseries" / "co2.csv").read_text().splitlines()[:400]
    (env.tmp / "co2.csv").write_text("\n".join(lines) + "\n")


def _outside(env):
    outside = env.tmp / "outside"
    outside.mkdir()
    shutil.copyfile(env.ctx.run("names") / "best.safetensors", outside / "names.safetensors")
    (outside / "calibration.json").write_text('{"mine": "the user\'s own calibration.json"}\n')


def cases() -> list[Case]:
    c = []
    add = c.append
    # --- data that can be lost ---
    add(
        Case(
            "issue/export-out-over-config",
            "issue",
            ("export", "{run:charlm}", "--format", "torchscript", "--out", "{run:charlm}/config.pt"),
            sentinels=("{run:charlm}/metrics.jsonl",),
            note="export --out RUN/config.pt must not clobber config.json",
        )
    )
    add(
        Case(
            "issue/export-out-over-config-onnx",
            "issue",
            ("export", "{run:names}", "--out", "{run:names}/config.onnx"),
            timeout=90,
            note="export --out RUN/config.onnx: the sidecar must not clobber config.json",
        )
    )
    for name in ("best.safetensors", "last.safetensors", "metrics.jsonl", "config.json"):
        add(
            Case(
                f"issue/export-out-over-{name}",
                "issue",
                ("export", "{run:charlm}", "--format", "torchscript", "--out", "{run:charlm}/" + name),
                sentinels=("{run:charlm}/metrics.jsonl",),
                note=f"export --out RUN/{name} must not replace it",
            )
        )
    add(
        Case(
            "issue/export-out-directory",
            "issue",
            ("export", "{run:charlm}", "--format", "torchscript", "--out", "{tmp}"),
            note="export --out names a folder",
        )
    )
    add(
        Case(
            "issue/export-out-missing-folder",
            "issue",
            ("export", "{run:charlm}", "--format", "torchscript", "--out", "{tmp}/no/such/model.pt"),
            expect="error",
            note="export --out into a missing folder",
        )
    )
    add(
        Case(
            "issue/predict-outside-run-calibration",
            "issue",
            ("predict", "{tmp}/outside/names.safetensors", "Kowalski"),
            setup=_outside,
            sentinels=("{tmp}/outside/calibration.json",),
            note="predict of a names checkpoint outside a run must not overwrite a calibration.json beside it",
        )
    )
    add(
        Case(
            "issue/predict-planted-calibration",
            "issue",
            ("predict", "{run:names}", "Kowalski"),
            setup=lambda env: (
                (env.run("names") / "calibration.json").unlink(missing_ok=True),
                (env.tmp / "victim").write_text("unrelated\n"),
            ),
            plant=(("{run:names}", "calibration.json", "{tmp}/victim"),),
            sentinels=("{tmp}/victim",),
            note="a symlink planted as .calibration.json.tmp-PID made predict overwrite an unrelated file",
        )
    )
    add(
        Case(
            "issue/export-planted-model-pt",
            "issue",
            ("export", "{run:charlm}", "--format", "torchscript"),
            setup=lambda env: (env.tmp / "victim").write_text("unrelated\n"),
            plant=(("{run:charlm}", "model.pt", "{tmp}/victim"), ("{run:charlm}", "model.json", "{tmp}/victim")),
            sentinels=("{tmp}/victim",),
            note="export writes through planted symlinks",
        )
    )
    add(
        Case(
            "issue/embeddings-export-planted",
            "issue",
            ("export", "{run:embeddings}"),
            setup=lambda env: (env.tmp / "victim").write_text("unrelated\n"),
            plant=(("{run:embeddings}", "vectors.word2vec.txt", "{tmp}/victim"),),
            sentinels=("{tmp}/victim",),
            note="embeddings export writes through a planted symlink",
        )
    )
    # --- checkpoints, calibration ---
    add(
        Case(
            "issue/ckpt-vocab-is-dict",
            "issue",
            ("sample", "{run:charlm}", "--length", "5"),
            setup=_ckpt("charlm", _meta_set(("vocab",), {"a": 1})),
            keep_runs=False,
            note="metadata holds a dict where a list of strings is expected",
        )
    )
    add(
        Case(
            "issue/ckpt-vocab-items-lists",
            "issue",
            ("sample", "{run:charlm}", "--length", "5"),
            setup=_ckpt("charlm", _meta_set(("vocab",), [["a"], {"b": 1}])),
            keep_runs=False,
            note="unhashable items in the vocabulary (TypeError: unhashable type)",
        )
    )
    add(
        Case(
            "issue/ckpt-nested-100000",
            "issue",
            ("sample", "{run:charlm}", "--length", "5"),
            setup=_ckpt("charlm", lambda m: nested(100_000)),
            keep_runs=False,
            note="metadata nested 100,000 levels (RecursionError)",
        )
    )
    add(
        Case(
            "issue/ckpt-timeseries-without-series",
            "issue",
            ("forecast", "{run:timeseries}", "--horizon", "3"),
            setup=_ckpt("timeseries", _meta_set(("series",), KeyError)),
            keep_runs=False,
            note="a timeseries checkpoint without its series record (KeyError)",
        )
    )
    add(
        Case(
            "issue/ckpt-names-without-split",
            "issue",
            ("eval", "{run:names}", "--split", "valid"),
            setup=_ckpt("names", _meta_set(("split",), KeyError)),
            keep_runs=False,
            note="a names checkpoint without its split (KeyError)",
        )
    )
    add(
        Case(
            "issue/ckpt-embedding-dim-1e7",
            "issue",
            ("sample", "{run:charlm}", "--length", "5"),
            setup=_ckpt("charlm", _meta_set(("config", "model", "embedding_dim"), 10**7)),
            keep_runs=False,
            note="a 58 KB checkpoint claiming embedding_dim 10^7 (4.8 GB before any shape check)",
        )
    )
    for name, value in (
        ("nan-std", {"mean": 0.0, "std": float("nan")}),
        ("zero-std", {"mean": 0.0, "std": 0.0}),
        ("huge", {"mean": 1e308, "std": 1e308}),
        ("negative-std", {"mean": 0.0, "std": -1.0}),
    ):
        add(
            Case(
                f"issue/ckpt-normaliser-{name}",
                "issue",
                ("forecast", "{run:timeseries}", "--horizon", "3"),
                setup=_ckpt(
                    "timeseries",
                    lambda m, value=value: m["normaliser"].update(
                        {k: v for k, v in value.items() if k in m["normaliser"]} or value
                    ),
                ),
                keep_runs=False,
                check=finite_output,
                note=f"crafted normaliser values ({name}): no NaN forecasts",
            )
        )
    add(
        Case(
            "issue/calibration-a-list",
            "issue",
            ("predict", "{run:names}", "Kowalski"),
            setup=_calibration("[1, 2]"),
            check=nonempty_output,
            note="calibration.json is a JSON list (AttributeError)",
        )
    )
    add(
        Case(
            "issue/calibration-temperature-string",
            "issue",
            ("predict", "{run:names}", "Kowalski"),
            setup=_calibration('{"temperature": "1.5"}'),
            check=nonempty_output,
            note="calibration.json holds the temperature as a string (TypeError)",
        )
    )
    add(
        Case(
            "issue/calibration-temperature-zero",
            "issue",
            ("predict", "{run:names}", "Kowalski"),
            setup=_calibration('{"temperature": 0}'),
            check=all_of(nonempty_output, finite_output),
            note="calibration.json temperature 0",
        )
    )
    # --- sampling ---
    for recipe, command, extra in (
        ("charlm", "sample", ("--length", "20")),
        ("wordlm", "sample", ("--words", "5")),
        ("names-gen", "sample", ()),
        ("chat", "chat", ("hello",)),
    ):
        for value in ("1e-300", "1e-45"):
            add(
                Case(
                    f"issue/{recipe}-{command}-temperature-{value}",
                    "issue",
                    (command, f"{{run:{recipe}}}", *extra, "--temperature", value),
                    check=nonempty_output,
                    note="a tiny temperature: greedy or refused with its range",
                )
            )
        add(
            Case(
                f"issue/{recipe}-{command}-top-p-1e-300",
                "issue",
                (command, f"{{run:{recipe}}}", *extra, "--top-p", "1e-300"),
                check=nonempty_output,
                note="top-p 1e-300",
            )
        )
        add(
            Case(
                f"issue/{recipe}-{command}-seed-2^64",
                "issue",
                (command, f"{{run:{recipe}}}", *extra, "--seed", str(2**64)),
                note="--seed 2**64 (Overflow when unpacking long long)",
            )
        )
    # --- absurd numbers ---
    add(
        Case(
            "issue/translate-length-penalty-1e308",
            "issue",
            ("translate", "{run:translate}", TR, "--length-penalty", "1e308"),
            check=no_empty_lines_of_output,
            note="OverflowError",
        )
    )
    for option, value in (
        ("--forget-bias", "1e308"),
        ("--lr", "1e308"),
        ("--weight-decay", "1e308"),
        ("--length", "10000000"),
        ("--test-size", "1000000000"),
        ("--threads", "1000000"),
        ("--seed", str(2**64)),
    ):
        add(
            Case(
                f"issue/train-adding{option}={value}",
                "issue",
                smoke_train("adding", **{option: value}),
                check=finite_output,
                note="finite but absurd numbers, sizes that exhaust memory",
            )
        )
    add(
        Case(
            "issue/train-copy--symbols=1000000",
            "issue",
            smoke_train("copy", symbols="1000000"),
            note="copy --symbols 1e6",
        )
    )
    add(
        Case(
            "issue/train-charlm--embedding-dim=-1",
            "issue",
            smoke_train("charlm", embedding_dim="-1"),
            expect="error",
            note="--embedding-dim -1 (traceback)",
        )
    )
    add(
        Case(
            "issue/train-wordlm--pretrained-scale=1e308",
            "issue",
            smoke_train("wordlm", **{"--pretrained-embeddings": "{tmp}/v.txt", "--pretrained-scale": "1e308"}),
            setup=lambda env: (env.tmp / "v.txt").write_text("2 8\nthe " + "0.1 " * 8 + "\nof " + "0.2 " * 8 + "\n"),
            check=finite_output,
            note="--pretrained-scale 1e308",
        )
    )
    add(
        Case(
            "issue/train-timeseries--length=1000000000",
            "issue",
            smoke_train("timeseries", csv=None, column=None, time_column=None, length="1000000000"),
            note="killed by the kernel at 22.7 GB",
        )
    )
    add(
        Case(
            "issue/train-embeddings--dim=10000000",
            "issue",
            smoke_train("embeddings", dim="10000000"),
            note="allocator traceback",
        )
    )
    add(
        Case(
            "issue/forecast-samples-1e9",
            "issue",
            ("forecast", "{run:timeseries}", "--samples", "1000000000"),
            check=finite_output,
            note="sizes that exhaust memory",
        )
    )
    add(
        Case(
            "issue/forecast-horizon-1e9",
            "issue",
            ("forecast", "{run:timeseries}", "--horizon", "1000000000"),
            check=finite_output,
            note="hangs",
        )
    )
    add(
        Case(
            "issue/export-opset-1",
            "issue",
            ("export", "{run:charlm}", "--opset", "1"),
            expect="error",
            timeout=90,
            note="onnxruntime traceback",
        )
    )
    add(
        Case(
            "issue/export-opset-9999",
            "issue",
            ("export", "{run:charlm}", "--opset", "9999"),
            expect="error",
            timeout=90,
            note="prints a 25-line graph before its error",
        )
    )
    add(
        Case(
            "issue/analyze-gradients-steps-1e6",
            "issue",
            ("analyze", "gradients", "--steps", "1000000", "--out", "{tmp}"),
            note="allocator traceback",
        )
    )
    add(
        Case(
            "issue/export-torchscript-full-disk",
            "issue",
            ("export", "{run:charlm}", "--format", "torchscript"),
            fsize=20_000,
            expect="error",
            check=_no_leftovers,
            note="export onto a full disk (writes past 20 KB fail): one line, nothing left behind (was exit 134)",
        )
    )
    add(
        Case(
            "issue/seqmnist-png-20000",
            "issue",
            ("predict", "{run:seqmnist}", "{tmp}/big.png"),
            setup=lambda env: png(env.tmp / "big.png", 20000, 20000, 1),
            timeout=90,
            note="a 20,000 x 20,000 PNG: DecompressionBombError traceback",
        )
    )
    # --- translate bounds ---
    add(
        Case(
            "issue/translate-beam-100000",
            "issue",
            ("translate", "{run:translate}", TR, "--beam", "100000"),
            check=no_empty_lines_of_output,
            note="ran past a minute",
        )
    )
    for value in ("1000000", "1e17", "1e308"):
        add(
            Case(
                f"issue/translate-max-ratio-{value}",
                "issue",
                ("translate", "{run:translate}", TR, "--max-ratio", value),
                check=no_empty_lines_of_output,
                note="decoding ran for minutes / printed an empty translation",
            )
        )
    add(
        Case(
            "issue/translate-2M-words-stdin",
            "issue",
            ("translate", "{run:translate}"),
            stdin="file:{cache}/2M-words.txt",
            setup=_two_million,
            timeout=90,
            note="one source line of two million words (oneDNN could not create a primitive)",
        )
    )
    # --- export sidecar ---
    add(
        Case(
            "issue/names-export-sidecar-ids",
            "issue",
            ("export", "{run:names}"),
            check=_sidecar_ids,
            timeout=90,
            note="the sidecar states the full id mapping (the four special ids), the temperature and the prior",
        )
    )
    # --- help, budget, options anywhere ---
    for recipe in ("charlm", "names", "translate", "timeseries", "adding", "embeddings"):
        add(
            Case(
                f"issue/help-defaults-once/{recipe}",
                "issue",
                ("train", recipe, "--help"),
                expect="ok",
                check=_help_defaults,
                note="--help prints defaults twice",
            )
        )
    add(
        Case(
            "issue/help-max-minutes-says-what-it-covers",
            "issue",
            ("train", "names", "--help"),
            expect="ok",
            check=lambda o: (
                None
                if re.search(r"(?is)--max-minutes.{0,400}(report|loop|only|exclud|not)", o.out)
                else "--help does not say what --max-minutes covers"
            ),
            note="--max-minutes bounds only the loop",
        )
    )
    add(
        Case(
            "issue/translate-option-before-text",
            "issue",
            ("translate", "{run:translate}", "--beam", "1", TR),
            expect="ok",
            check=nonempty_output,
            note="unrecognized arguments",
        )
    )
    add(
        Case(
            "issue/predict-option-before-name",
            "issue",
            ("predict", "{run:names}", "--top", "2", "Kowalski"),
            expect="ok",
            check=nonempty_output,
            note="unrecognized arguments",
        )
    )
    # --- forecast dates ---
    add(
        Case(
            "issue/forecast-co2-dates",
            "issue",
            (
                "forecast",
                "{run:timeseries}",
                "--csv",
                "{tmp}/co2.csv",
                "--column",
                "co2",
                "--time-column",
                "date",
                "--horizon",
                "5",
            ),
            setup=_co2,
            check=_dates_ok,
            note="a CO2 date column printed as 2.00112e+07",
        )
    )
    add(
        Case(
            "issue/train-co2-dates",
            "issue",
            smoke_train("timeseries", csv="{tmp}/co2.csv", column="co2", time_column="date", season="52"),
            setup=_co2,
            check=_dates_ok,
            note="train on a YYYYMMDD column",
        )
    )
    # --- progress, warm-up ---
    for recipe in ("adding", "copy", "timeseries", "seqmnist"):
        args = tuple(a for a in smoke_train(recipe, log_every="1") if a != "--quiet")
        add(
            Case(
                f"issue/progress-no-tok-s/{recipe}",
                "issue",
                args,
                check=_no_tok_s,
                note="the progress line says tok/s for recipes without tokens",
            )
        )
    add(
        Case(
            "issue/translate-warmup-sized-to-run",
            "issue",
            smoke_train("translate", warmup_steps=None, max_steps="30", log_every="1"),
            check=_warmup,
            timeout=90,
            note="a short translate run never leaves its 200-step warm-up",
        )
    )
    # --- silent wrong results ---
    add(
        Case(
            "issue/timeseries-csv-1e308",
            "issue",
            smoke_train("timeseries", csv="{tmp}/big.csv"),
            setup=lambda env: (env.tmp / "big.csv").write_text(
                "t,value\n" + "".join(f"{i},1e308\n" for i in range(60))
            ),
            check=finite_output,
            note="a CSV of 1e308 trains to mse inf and says finished",
        )
    )
    add(
        Case(
            "issue/eval-pairs-nan",
            "issue",
            ("eval", "{run:embeddings}", "--pairs", "{tmp}/p.tsv"),
            setup=lambda env: (env.tmp / "p.tsv").write_text("king\tqueen\tnan\nman\twoman\tinf\ncat\tdog\t8\n"),
            expect="error",
            note="eval --pairs accepts NaN/inf scores",
        )
    )
    for recipe, command in (("names", "predict"), ("postag", "tag")):
        for name, data in (
            ("latin1", "Müller\n".encode("latin-1")),
            ("utf16", "Müller\n".encode("utf-16")),
            ("binary", bytes(range(256))),
        ):
            add(
                Case(
                    f"issue/{recipe}-{command}-{name}-stdin",
                    "issue",
                    (command, f"{{run:{recipe}}}"),
                    stdin=data,
                    expect="error",
                    note="accepts non-UTF-8 stdin and echoes mangled bytes",
                )
            )
    add(
        Case(
            "issue/seqmnist-eval-data-dir-other",
            "issue",
            ("eval", "{run:seqmnist}", "--split", "valid", "--data-dir", "{tmp}/other"),
            setup=_other_mnist,
            check=warns_or_refuses,
            note="eval --data-dir silently re-draws the validation split from other files",
        )
    )
    add(
        Case(
            "issue/wordlm-eval-data-dir-other",
            "issue",
            ("eval", "{run:wordlm}", "--split", "test", "--data-dir", "{tmp}/nothing"),
            expect="error",
            note="wordlm ignores --data-dir for folder corpora",
        )
    )
    # --- chat ---
    add(
        Case(
            "issue/chat-default-repeatable",
            "issue",
            ("chat", "{run:chat}", "What is thy name?"),
            also=(("chat", "{run:chat}", "What is thy name?"),),
            also_delay=0.0,
            check=_same_twice,
            note="chat's default is unseeded sampling at temperature 1 (three runs, three replies)",
        )
    )
    add(
        Case(
            "issue/chat-readme-beam",
            "issue",
            ("chat", "{run:chat}", "--beam", "5", "--no-repeat-ngram", "2"),
            stdin=b"What is thy name?\n",
            expect="ok",
            check=nonempty_output,
            note="the README's chat --beam 5 --no-repeat-ngram 2 fails unless --temperature 0 is added",
        )
    )
    # --- smaller ones ---
    for args, what in (
        (("translate", "label_smoothing", "1"), "--label-smoothing 1"),
        (("translate", "attention", "none", "score", "dot"), "--attention none --score dot"),
        (("embeddings", "output", "hierarchical", "negatives", "3"), "--output hierarchical --negatives 3"),
    ):
        recipe, pairs = args[0], dict(zip(args[1::2], args[2::2]))
        add(
            Case(
                f"issue/contradictory/{what.replace(' ', '')}",
                "issue",
                smoke_train(recipe, **pairs),
                expect="error",
                note=f"contradictory options accepted silently: {what}",
            )
        )
    add(
        Case(
            "issue/prior-json-duplicate-keys",
            "issue",
            ("predict", "{run:names}", "Kowalski", "--prior", "{tmp}/p.json"),
            setup=lambda env: (env.tmp / "p.json").write_text('{"Ovish": 0.5, "Ovish": 0.2, "Sonish": 0.3}'),
            expect="error",
            note="a JSON --prior with duplicate keys is accepted",
        )
    )
    add(
        Case(
            "issue/names-gen-start-unseen",
            "issue",
            ("sample", "{run:names-gen}", "--start", "Q\u2603"),
            check=warns_or_refuses,
            note="names-gen --start with unseen characters is used silently",
        )
    )
    return c


def _other_mnist(env):
    """Other MNIST files: the test images also serve as the training ones (another split)."""
    other = env.tmp / "other"
    other.mkdir()
    for path in (env.fx / "mnist").iterdir():
        if path.name.endswith(".gz"):
            source = path.name.replace("train-", "t10k-") if path.name.startswith("train-") else path.name
            shutil.copyfile(env.fx / "mnist" / source, other / path.name)
