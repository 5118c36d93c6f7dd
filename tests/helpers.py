"""Shared test helpers: a torch.nn layer and its rnnkit twin with the same weights; comparing runs."""

import random
from pathlib import Path

import torch

import rnnkit.nn as rnn
from rnnkit.train import checkpoint as ckpt
from rnnkit.train.rundir import read_metrics

TORCH = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "RNN_TANH": torch.nn.RNN, "RNN_RELU": torch.nn.RNN}
OURS = {"LSTM": rnn.LSTM, "GRU": rnn.GRU, "RNN_TANH": rnn.RNN, "RNN_RELU": rnn.RNN}


def layer_pair(mode, impl="reference", dtype=torch.float64, **kw):
    """(torch layer, rnnkit layer) with identical parameters, loaded strictly from torch."""
    if mode.startswith("RNN"):
        kw["nonlinearity"] = mode[4:].lower()
    ref = TORCH[mode](dtype=dtype, **kw)
    ours = OURS[mode](impl=impl, dtype=dtype, **kw)
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ref, ours


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def sq(a, b):
    """Summed squared difference."""
    return float((a - b).detach().pow(2).sum())


def comparable(run):
    """metrics.jsonl without the timing fields."""
    return [{k: v for k, v in r.items() if k not in ("tokens_per_s", "elapsed")} for r in read_metrics(run)]


def assert_same_checkpoints(a: Path, b: Path) -> None:
    first, second = ckpt.load(a), ckpt.load(b)
    assert first.tensors.keys() == second.tensors.keys()
    for key in first.tensors:  # weights, optimizer state, RNG, data position, callbacks
        assert torch.equal(first.tensors[key], second.tensors[key]), key
    for key in (
        "step",
        "best",
        "bad_evals",
        "optimizer",
        "objective",
        "rng",
        "schedule",
        "callbacks",
        "inference_weights",
    ):
        assert untimed(first.meta[key]) == untimed(second.meta[key]), key


TIMING = ("seconds", "cpu_seconds", "tokens_per_s", "elapsed")


def untimed(value):
    """``value`` without the clock readings a checkpoint may hold (they differ run to run)."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIMING}
    return value


FIXTURES = Path(__file__).parent / "fixtures"


def smoke_train(name: str, run: Path, *extra: str) -> list[str]:
    """``rnnkit train`` arguments of recipe ``name``'s smoke run into ``run``."""
    from rnnkit.recipes import recipe

    args = [a.replace("{fixtures}", str(FIXTURES)) for a in recipe(name).smoke.train]
    return ["train", name, *args, "--run-dir", str(run), "--quiet", *extra]


def smoke_runs(tmp_path_factory, *extra: str):
    """A function: recipe name -> the run directory of its smoke run, each trained once."""
    from rnnkit.cli import main

    runs = {}

    def get(name: str) -> Path:
        if name not in runs:
            run = tmp_path_factory.mktemp(name) / "run"
            assert main(smoke_train(name, run, *extra)) == 0
            runs[name] = run
        return runs[name]

    return get


def pairs_tsv(folder: Path) -> Path:
    """The translate fixture's 'German' lines and their 'English' translations as a TSV of
    ``utterance<TAB>reply`` in ``folder``."""
    de = (FIXTURES / "translate" / "train.de").read_text().splitlines()
    en = (FIXTURES / "translate" / "train.en").read_text().splitlines()
    path = folder / "pairs.tsv"
    path.write_text("".join(f"{a}\t{b}\n" for a, b in zip(de, en)))
    return path


SYLLABLES = ["ka", "ri", "mo", "te", "lu", "sa", "no", "vi", "de", "ba"]


def write_languages(folder: Path, per_language: int = 80, seed: int = 0) -> Path:
    """Three made-up languages a model can tell apart: -ov endings, -son endings, Mc- starts."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)

    def stem():
        return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))).capitalize()

    styles = {"Ovish": lambda: stem() + "ov", "Sonish": lambda: stem() + "son", "Mcish": lambda: "Mc" + stem()}
    for language, make in styles.items():
        names = {make() for _ in range(per_language * 3)}
        (folder / f"{language}.txt").write_text("\n".join(sorted(names)[:per_language]) + "\n")
    return folder


def tiny_charlm(run: Path, *extra: str, steps: int = 10, eval_every: int = 5, threads: int | None = 1) -> list[str]:
    """``rnnkit train charlm`` arguments of a run of a few seconds on the tiny fixture into ``run``
    (``extra`` last, so it may override any of these)."""
    one = ["--threads", str(threads)] if threads is not None else []
    size = [
        "--embedding-dim",
        "8",
        "--hidden-size",
        "16",
        "--num-layers",
        "1",
        "--batch-size",
        "4",
        "--seq-length",
        "10",
    ]
    text = ["--text", str(FIXTURES / "tiny.txt"), "--run-dir", str(run), "--quiet"]
    return ["train", "charlm", *text, *one, *size, "--max-steps", str(steps), "--eval-every", str(eval_every), *extra]


def photo_folder(root: Path, bad: bool = False) -> Path:
    """An image folder data set at ``root``: train/ and test/ with two classes of 12-14 x 12 photos,
    red squares and blue squares (12 and 4 of each); ``bad`` adds a text file to train/red."""
    from PIL import Image

    for split, count in (("train", 12), ("test", 4)):
        for name, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
            folder = root / split / name
            folder.mkdir(parents=True)
            for k in range(count):
                Image.new("RGB", (12 + k % 3, 12), colour).save(folder / f"{k}.png")
    if bad:
        (root / "train" / "red" / "notes.txt").write_text("not an image")
    return root
