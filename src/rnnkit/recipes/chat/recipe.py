"""Recipe: a seq2seq chatbot on dialogue pairs (bundled Tiny Shakespeare, Cornell Movie-Dialogs, any TSV).

Train: ``rnnkit train chat`` (the bundled Shakespeare: each speech and the next one of the same
conversation form a pair)
Talk: ``rnnkit chat RUN`` (a ``> `` prompt on a terminal; one reply per stdin line otherwise; greedy,
so the same line gets the same reply; ``--temperature T --seed S`` samples, ``--beam 5`` searches)
Evaluate: ``rnnkit eval RUN --split test`` (reference perplexity, distinct-1/2 and reply length for
greedy, beam 5 and sampling, never emitting ``<unk>``, beside a unigram model and the most frequent reply)
"""

from __future__ import annotations

from typing import Optional

from rnnkit.export.write import outputs as export_outputs
from rnnkit.families.seq2seq.bitext import preparer
from rnnkit.families.seq2seq.pairs import build_pairs
from rnnkit.recipes import report_on_test
from rnnkit.recipes.chat import use as chat_use
from rnnkit.recipes.chat.config import HELP, PRESETS, defaults
from rnnkit.recipes.chat.data import SPLITS, load_dialogue
from rnnkit.recipes.chat.trained import ChatBot
from rnnkit.train.params import Param
from rnnkit.train.recipe import Built, Recipe, Smoke


def build(sections, resume_meta: Optional[dict]) -> Built:
    """Model, objective and checkpoint metadata of a chat run (best checkpoint by validation loss)."""
    splits, origin, split = load_dialogue(sections["data"], sections["train"].seed, (resume_meta or {}).get("split"))
    built = build_pairs(sections, splits, origin, preparer(sections["data"]), resume_meta, "chat", bleu=False)
    built.meta["split"] = split
    return built


RECIPE = Recipe(
    name="chat",
    summary="a seq2seq chatbot on dialogue pairs (bundled Shakespeare, Cornell Movie-Dialogs, any TSV)",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=ChatBot,
    commands=(chat_use.CHAT_COMMAND, chat_use.EXPORT),
    eval_params=(Param("split", str, "test", "split of the run's dialogue to score", choices=SPLITS),),
    help=HELP,
    report=report_on_test(),
    outputs=("report_test.json",) + export_outputs(("encoder", "decoder_step")),
    smoke=Smoke(
        train=(
            "--embedding-dim",
            "8",
            "--hidden-size",
            "8",
            "--encoder-layers",
            "1",
            "--batch-size",
            "8",
            "--max-minutes",
            "0",
            "--max-steps",
            "6",
            "--warmup-steps",
            "0",
            "--valid-fraction",
            "0.02",
            "--test-fraction",
            "0.02",
            "--max-length",
            "8",
        ),
        uses={
            "export": ("--format", "torchscript"),
            "chat": ("What is thy name?", "Whither goest thou?"),
            "eval": ("--split", "valid"),
        },
        expect={"chat": r"^[^\n]*\n[^\n]*\n$", "eval": r"^valid: perplexity \d+\.\d\d"},
    ),
)
