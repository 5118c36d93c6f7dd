"""Recipe: word-level language model (PTB, WikiText-2 or a train/valid/test folder).

Train: ``rnnkit train wordlm --corpus ptb --preset cpu-quick``
Evaluate: ``rnnkit eval RUN_DIR --split test`` (perplexity, batch 1 as in the papers)
Sample: ``rnnkit sample RUN_DIR --words 50 --temperature 1.0``
"""

from __future__ import annotations

import hashlib
import sys
from typing import Optional

from rnnkit.data.corpus import EOS, UNK, WordVocab, load_corpus
from rnnkit.export import graphs
from rnnkit.export import ids as export_ids
from rnnkit.export.write import export_command
from rnnkit.export.write import outputs as export_outputs
from rnnkit.families import pretrained
from rnnkit.objectives.lm import LMObjective, sample_command
from rnnkit.recipes.wordlm.config import HELP, WordDataConfig, defaults
from rnnkit.recipes.wordlm.model import WordLanguageModel
from rnnkit.recipes.wordlm.trained import WordLM
from rnnkit.train.ranges import split_params
from rnnkit.train.recipe import Built, Recipe, Smoke

_NO_AWD = {
    "dropout_embedding": 0.0,
    "weight_dropout": 0.0,
    "ar_alpha": 0.0,
    "tar_beta": 0.0,
    "tie_weights": False,
    "locked": False,
}


def _zaremba(
    size: int, dropout: float, init: float, clip: float, epochs: int, decay: float, decay_epoch: int, seq: int
) -> dict:
    """Zaremba, Sutskever & Vinyals (2014): SGD lr 1, batch 20, uniform init, step decay."""
    return {
        "data": {"batch_size": 20, "seq_length": seq, "variable_bptt": False},
        "model": dict(
            _NO_AWD,
            embedding_dim=size,
            hidden_size=size,
            num_layers=2,
            last_layer_size=0,
            dropout=dropout,
            dropout_input=dropout,
            dropout_hidden=dropout,
            init_range=init,
        ),
        "train": {
            "optimizer": "sgd",
            "lr": 1.0,
            "momentum": 0.0,
            "grad_clip": clip,
            "schedule": "step",
            "step_decay": decay,
            "step_decay_epoch": decay_epoch,
            "max_epochs": epochs,
            "max_steps": 0,
            "warmup_steps": 0,
            "eval_every": 0,
            "eval_each_epoch": True,
        },
    }


PRESETS = {
    # Table 1 of Zaremba et al. (2014): test perplexity 114.5 / 82.7 / 78.4
    "zaremba-small": _zaremba(200, 0.0, 0.1, 5.0, 13, 0.5, 4, 20),
    "zaremba-medium": _zaremba(650, 0.5, 0.05, 5.0, 39, 1 / 1.2, 6, 35),
    "zaremba-large": _zaremba(1500, 0.65, 0.04, 10.0, 55, 1 / 1.15, 14, 35),
    # Merity, Keskar & Socher (2018), PTB command of salesforce/awd-lstm-lm:
    # test perplexity 58.8 before fine-tuning, 57.3 after
    "awd-lstm": {
        "data": {"batch_size": 20, "seq_length": 70, "variable_bptt": True},
        "model": {
            "cell": "lstm",
            "embedding_dim": 400,
            "hidden_size": 1150,
            "num_layers": 3,
            "last_layer_size": 400,
            "dropout": 0.4,
            "dropout_input": 0.4,
            "dropout_hidden": 0.25,
            "dropout_embedding": 0.1,
            "weight_dropout": 0.5,
            "tie_weights": True,
            "init_range": 0.0,
            "ar_alpha": 2.0,
            "tar_beta": 1.0,
            "locked": True,
        },
        "train": {
            "optimizer": "ntasgd",
            "lr": 30.0,
            "weight_decay": 1.2e-6,
            "grad_clip": 0.25,
            "schedule": "constant",
            "nonmono": 5,
            "max_epochs": 500,
            "max_steps": 0,
            "warmup_steps": 0,
            "eval_every": 0,
            "eval_each_epoch": True,
        },
    },
    # chosen on validation perplexity on a 2-core CPU; see docs/recipes/wordlm.md (issue 5): the
    # adaptive softmax makes a step ~3x cheaper; in 10-minute runs 1x256 beat 1x400 (more steps
    # won) and SGD beat Adam; over the full 29 minutes 1x320 beat 1x256 (valid ppl 93.11 vs 95.37)
    "cpu-quick": {
        "data": {"batch_size": 32, "seq_length": 35, "variable_bptt": False},
        "model": dict(
            _NO_AWD,
            embedding_dim=320,
            hidden_size=320,
            num_layers=1,
            last_layer_size=0,
            dropout=0.4,
            dropout_input=0.4,
            dropout_hidden=0.0,
            dropout_embedding=0.1,
            tie_weights=True,
            locked=True,
            init_range=0.1,
            adaptive_cutoffs="2000,5000",
        ),
        "train": {
            "optimizer": "sgd",
            "lr": 20.0,
            "grad_clip": 0.25,
            "schedule": "cosine",
            "max_steps": 0,
            "max_epochs": 0,
            "max_minutes": 29.0,
            "anneal_by_time": True,
            "warmup_steps": 0,
            "final_lr_ratio": 0.02,
            "eval_every": 2000,
            "eval_each_epoch": False,
        },
    },
}
# an hour on a CPU (issue 31): cpu-quick at 512 units, which beat 320 on validation perplexity over 58
# minutes side by side in bf16 (84.79 vs 86.77; docs/recipes/wordlm.md)
PRESETS["cpu-hour"] = {
    "data": PRESETS["cpu-quick"]["data"],
    "model": dict(PRESETS["cpu-quick"]["model"], embedding_dim=512, hidden_size=512),
    "train": dict(PRESETS["cpu-quick"]["train"], max_minutes=58.0),
}
EXPECTED = {"zaremba-small": 114.5, "zaremba-medium": 82.7, "zaremba-large": 78.4, "awd-lstm": 58.8}


def _digest(vocab: WordVocab) -> str:
    return hashlib.sha256("\n".join(vocab.words).encode()).hexdigest()


def build(sections, resume_meta: Optional[dict]):
    """Model, objective and checkpoint metadata for a wordlm run."""
    data: WordDataConfig = sections["data"]
    corpus = load_corpus(data.corpus, data.data_dir or None, splits=("train", "valid"))
    if resume_meta is not None and resume_meta.get("vocab") != corpus.vocab.to_json():
        raise ValueError(
            f"corpus {data.corpus!r}: its vocabulary differs from the checkpoint's; resume needs the same corpus"
        )
    if corpus.unseen["valid"]:
        print(
            f"note: {corpus.unseen['valid']:,} validation tokens are not in the training vocabulary and count as <unk>",
            file=sys.stderr,
        )
    model = WordLanguageModel(len(corpus.vocab), sections["model"])
    vectors = sections["embeddings"]
    frozen, report = pretrained.initialise(
        model.embedding,
        corpus.vocab.words,
        pretrained.read(vectors.pretrained_embeddings),
        vectors.freeze_embeddings,
        vectors.pretrained_embeddings,
        "wordlm",
        scale=vectors.pretrained_scale,
    )
    regularise = bool(sections["model"].ar_alpha or sections["model"].tar_beta)
    objective = LMObjective(
        corpus.ids["train"],
        corpus.ids["valid"],
        data.batch_size,
        data.seq_length,
        data.variable_bptt,
        seed=sections["train"].seed,
        metric_names=("loss", "ppl"),
        eval_batch_size=data.eval_batch_size,
        regularise=regularise,
    )
    meta = {"vocab": corpus.vocab.to_json(), "corpus": data.corpus, "vocab_sha256": _digest(corpus.vocab)}
    if report:
        meta["pretrained_embeddings"] = report
    return Built(model, objective, meta, tuple(objective.callbacks) + tuple(frozen))


SAMPLE = sample_command(
    "generate words, streamed as they come (<eos> prints as a new line)",
    "--words",
    50,
    "words",
    "",
    "words to start from (default: a new sentence)",
    "drop prime words the model does not know (default: read them as <unk>)",
    most=5_000,
    example={"words": 30, "seed": 1},
)

EXPORT = export_command(
    lambda lm: graphs.lm_step(lm.model, len(lm.vocab)),
    ("vocab", "corpus"),
    runtime=lambda lm: {"ids": export_ids.lm_step(lm.vocab.words, "words", UNK, EOS)},
)

RECIPE = Recipe(
    name="wordlm",
    summary="word-level language model (PTB, WikiText-2 or a train/valid/test folder)",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=WordLM,
    commands=(SAMPLE, EXPORT),
    eval_params=split_params("folder holding the corpus (default: the run's)", "(test uses batch 1 as in the papers)"),
    cpu_preset="cpu-quick",
    help=HELP,
    outputs=export_outputs(("step",)),
    smoke=Smoke(
        train=(
            "--corpus",
            "{fixtures}/wordlm",
            "--embedding-dim",
            "8",
            "--hidden-size",
            "8",
            "--num-layers",
            "1",
            "--batch-size",
            "4",
            "--seq-length",
            "6",
            "--eval-batch-size",
            "2",
            "--max-steps",
            "6",
            "--eval-every",
            "3",
            "--adaptive-cutoffs",
            "6",
        ),
        uses={
            "export": ("--format", "torchscript"),
            "sample": ("--words", "8", "--seed", "1"),
            "eval": ("--split", "test"),
        },
        expect={"eval": r"^test: perplexity \d+\.\d\d"},
    ),
)
