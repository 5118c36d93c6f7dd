"""Recipe: character-level language model (Tiny Shakespeare or any UTF-8 text).

Train: ``rnnkit train charlm [--preset cpu-quick|gpu-full] [--text PATH] ...``
Sample: ``rnnkit sample RUN_DIR --prime "ROMEO:" --length 1000``
Evaluate: ``rnnkit eval RUN_DIR --text PATH`` (nats and bits per character).
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from typing import Iterator, Optional

from rnnkit.bounds import MAX_STEPS, batch
from rnnkit.data import CharVocab, bundled_text, min_tokens, read_text, split_text
from rnnkit.export import graphs
from rnnkit.export import ids as export_ids
from rnnkit.export.write import export_command
from rnnkit.export.write import outputs as export_outputs
from rnnkit.families.lm import LMConfig, RNNLanguageModel
from rnnkit.nn import CELL_CHOICES
from rnnkit.objectives.lm import LMObjective, TrainedLM, evaluate_lm, sample_command
from rnnkit.train.config import PATH, bound
from rnnkit.train.options import TrainConfig
from rnnkit.train.params import Param
from rnnkit.train.recipe import Built, Recipe, Smoke


@dataclass
class CharDataConfig:
    """Where the text comes from and how it is batched.

    Attributes:
        text: a UTF-8 text file; empty means the bundled Tiny Shakespeare.
        val_fraction: the last fraction of the text held out for validation.
        batch_size: parallel streams N.
        seq_length: truncated-BPTT window length.
        variable_bptt: vary the window length per batch (AWD-LSTM style).
    """

    text: str = field(default="", metadata=PATH)
    val_fraction: float = field(default=0.1, metadata=bound(0, 0.5, open_low=True))
    batch_size: int = field(default=64, metadata=batch())
    seq_length: int = field(default=100, metadata=bound(1, MAX_STEPS))
    variable_bptt: bool = False


def defaults():
    return {"data": CharDataConfig(), "model": LMConfig(), "train": TrainConfig(max_steps=5000)}


# Chosen by measurement on a 2-core CPU (see docs/recipes/charlm.md, issue 4).
PRESETS = {
    "cpu-quick": {
        "data": {"batch_size": 32, "seq_length": 100},
        "model": {"embedding_dim": 64, "hidden_size": 384, "num_layers": 2, "dropout": 0.1},
        "train": {
            "optimizer": "adam",
            "lr": 3e-3,
            "schedule": "cosine",
            "warmup_steps": 50,
            "final_lr_ratio": 0.05,
            "max_steps": 1600,
            "max_minutes": 15.0,
            "eval_every": 200,
            "grad_clip": 1.0,
        },
    },
    # Karpathy's classic char-rnn setting (2x512 LSTM, dropout 0.5, seq 100)
    # with batch 128 and an input embedding; about 50 passes over the text.
    "gpu-full": {
        "data": {"batch_size": 128, "seq_length": 100},
        "model": {"embedding_dim": 128, "hidden_size": 512, "num_layers": 2, "dropout": 0.5},
        "train": {
            "optimizer": "adam",
            "lr": 2e-3,
            "schedule": "cosine",
            "warmup_steps": 100,
            "final_lr_ratio": 0.05,
            "max_steps": 4000,
            "eval_every": 250,
            "grad_clip": 1.0,
        },
    },
}
HELP = {
    "text": "UTF-8 text file to train on (default: bundled Tiny Shakespeare)",
    "cell": CELL_CHOICES,
    "embedding_dim": "input embedding size; 0 = one-hot input",
}


def load_corpus(path: str) -> tuple[str, str]:
    """(text, label): the file at ``path``, or the bundled corpus when empty."""
    if not path:
        return bundled_text("tinyshakespeare"), "bundled Tiny Shakespeare"
    return read_text(path), path


def build(sections, resume_meta: Optional[dict]):
    """Model, objective and checkpoint metadata for a charlm run."""
    data: CharDataConfig = sections["data"]
    text, label = load_corpus(data.text)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if resume_meta is not None and resume_meta.get("text_sha256") != digest:
        raise ValueError(
            f"{label}: the text changed since the run started (its sha256 differs "
            "from the checkpoint's); resume needs the same text"
        )
    train_text, val_text = split_text(text, data.val_fraction)
    need = min_tokens(data.batch_size, data.seq_length)
    if len(train_text) < need:
        raise ValueError(
            f"{label}: the training part has {len(train_text)} characters; "
            f"batch_size={data.batch_size} x seq_length={data.seq_length} needs at "
            f"least {need} (about {int(need / (1 - data.val_fraction)) + 1} in the "
            "whole file); use a longer text or smaller --batch-size/--seq-length"
        )
    vocab = CharVocab.from_text(train_text)
    unknown = vocab.unknown(val_text)
    if unknown:
        print(
            f"note: {label}: validation text has {len(unknown)} character(s) not seen in "
            f"training ({''.join(unknown)!r}); they are skipped when scoring",
            file=sys.stderr,
        )
    val_ids = vocab.encode(val_text, skip_unknown=True)
    if val_ids.numel() < 2:
        raise ValueError(
            f"{label}: the validation part is too short ({val_ids.numel()} "
            "characters); use a longer text or a larger --val-fraction"
        )
    train_ids = vocab.encode(train_text)
    model = RNNLanguageModel(len(vocab), sections["model"])
    objective = LMObjective(
        train_ids,
        val_ids,
        data.batch_size,
        data.seq_length,
        data.variable_bptt,
        seed=sections["train"].seed,
        unit="chars",
    )
    return Built(
        model, objective, {"vocab": vocab.to_json(), "corpus": label, "text_sha256": digest}, objective.callbacks
    )


class CharLM(TrainedLM):
    """A trained character model: sample text and score text.

    Example:
        >>> lm = rnnkit.load("runs/charlm-20261123-170000")   # doctest: +SKIP
        >>> print(lm.sample("ROMEO:", length=200, temperature=0.8, seed=1))  # doctest: +SKIP
    """

    model_class, vocab_class = RNNLanguageModel, CharVocab
    config_defaults = staticmethod(defaults)

    def iter_sample(
        self,
        prime: str = "\n",
        length: int = 500,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: Optional[int] = None,
        skip_unknown: bool = False,
    ) -> Iterator[str]:
        """Yield ``length`` characters one at a time, continuing ``prime``.

        One model step per character; the hidden state is carried, never re-fed.
        """
        if length < 0:
            raise ValueError(f"length: expected >= 0, got {length}")
        ids = self.vocab.encode(prime, skip_unknown=skip_unknown, what="prime")
        if ids.numel() == 0:
            start = "\n" if "\n" in self.vocab.index else self.vocab.chars[0]
            ids = self.vocab.encode(start)
        for token in self.generate_ids(ids, length, temperature, top_k, top_p, seed):
            yield self.vocab.chars[token]

    def sample(self, prime: str = "\n", length: int = 500, **options) -> str:
        """The generated continuation of ``prime`` as one string."""
        return "".join(self.iter_sample(prime, length, **options))

    def evaluate(
        self,
        text: Optional[str] = None,
        skip_unknown: bool = False,
        batch_size: Optional[int] = None,
        seq_length: Optional[int] = None,
        what: str = "text",
        path: Optional[str] = None,
    ) -> dict:
        """Loss on ``text`` (or on the UTF-8 file ``path``): ``{"loss": nats/char,
        "bpc": bits/char, "chars": scored, "text": what}``.

        The text is read as in validation: ``batch_size`` continuous streams
        (default: the run's), each window continuing the previous one's state.
        ``what`` names the text in errors (e.g. its file name).
        """
        if path is not None:
            text, what = read_text(path), path
        if text is None:
            raise ValueError("--text PATH is required for a character model")
        data = self.sections["data"]
        ids = self.vocab.encode(text, skip_unknown=skip_unknown, what=what)
        result = evaluate_lm(self.model, ids, batch_size or data.batch_size, seq_length or data.seq_length)
        return {"loss": result["loss"], "bpc": result["bits"], "chars": result["tokens"], "text": what}

    def describe(self, result: dict) -> str:
        return (
            f"{result['text']}: {result['loss']:.4f} nats/char, {result['bpc']:.4f} bits/char "
            f"over {result['chars']:,} characters"
        )


SAMPLE = sample_command(
    "generate text, streamed as it goes",
    "--length",
    1000,
    "characters",
    "\n",
    "text to start from (default: a newline)",
    "drop prime characters the model does not know",
    most=20_000,
    example={"length": 200, "temperature": 0.8, "seed": 1},
)

EXPORT = export_command(
    lambda lm: graphs.lm_step(lm.model, len(lm.vocab)),
    ("vocab",),
    runtime=lambda lm: {"ids": export_ids.lm_step(lm.vocab.chars, "characters")},
)

RECIPE = Recipe(
    name="charlm",
    summary="character-level language model (bundled Tiny Shakespeare or any UTF-8 text)",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=CharLM,
    commands=(SAMPLE, EXPORT),
    eval_params=(
        Param("path", str, None, "UTF-8 text file to score", flag="--text"),
        Param("skip_unknown", bool, False, "drop characters the model does not know instead of failing"),
    ),
    cpu_preset="cpu-quick",
    gpu_preset="gpu-full",
    help=HELP,
    outputs=export_outputs(("step",)),
    smoke=Smoke(
        train=(
            "--text",
            "{fixtures}/tiny.txt",
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
            "--max-steps",
            "6",
            "--eval-every",
            "3",
            "--warmup-steps",
            "0",
        ),
        uses={
            "export": ("--format", "torchscript"),
            "sample": ("--prime", "First", "--length", "20", "--seed", "1"),
            "eval": ("--text", "{fixtures}/tiny.txt", "--skip-unknown"),
        },
        expect={"sample": r"^First", "eval": r"nats/char, \d\.\d{4} bits/char"},
    ),
)
