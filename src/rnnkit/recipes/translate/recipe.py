"""Recipe: translation with an attentional encoder-decoder (Multi30k, the eng-fra tutorial, any pairs).

Train: ``rnnkit train translate --dataset multi30k --src de --tgt en`` (or ``--preset eng-fra``)
Translate: ``rnnkit translate RUN "Ein Mann fährt Fahrrad." [--beam 5] [--attention-plot a.png]``
Evaluate: ``rnnkit eval RUN --split test --beam 5`` (sacreBLEU cased and lowercased, chrF;
the hypotheses beside the scores)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

from rnnkit.export.write import outputs as export_outputs
from rnnkit.families.seq2seq.bitext import BitextConfig, load_bitext, preparer
from rnnkit.families.seq2seq.pairs import build_pairs
from rnnkit.files import atomic_write_text
from rnnkit.metrics.bleu import sacrebleu_metrics
from rnnkit.recipes import load
from rnnkit.recipes.translate.config import HELP, PRESETS, SPLITS, defaults
from rnnkit.recipes.translate.trained import TrainedTranslator
from rnnkit.recipes.translate.use import EXPORT, SEARCH, TRANSLATE_COMMAND
from rnnkit.train import final_report
from rnnkit.train.params import Param
from rnnkit.train.recipe import Built, Recipe, Smoke


def build(sections, resume_meta: Optional[dict]) -> Built:
    """Model, objective and checkpoint metadata of a translation run."""
    data: BitextConfig = sections["data"]
    sacrebleu_metrics()  # validation scores BLEU: fail now, not after the first pass
    corpus = load_bitext(data, sections["train"].seed, (resume_meta or {}).get("split_lines"))
    if corpus.skipped:
        print(f"translate: {corpus.skipped:,} bad lines skipped", file=sys.stderr)
    built = build_pairs(sections, corpus.splits, corpus.origin, preparer(data), resume_meta, "translate", bleu=True)
    built.meta["split_lines"] = corpus.split_lines
    return built


def report(run_dir: Path) -> str:
    """After training: test BLEU of the best checkpoint, greedy and beam 5 (report_test.json;
    greedy only with ``--final-report quick``)."""
    model = load(run_dir)
    beams = (1,) if final_report.level(run_dir) == "quick" else (1, 5)
    results = [model.evaluate("test", beam=beam) for beam in beams]
    atomic_write_text(run_dir / "report_test.json", json.dumps(results, indent=1) + "\n")
    return "\n".join(model.describe(r) for r in results)


RECIPE = Recipe(
    name="translate",
    summary="translation with an attentional encoder-decoder (Multi30k, eng-fra, any pairs)",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=TrainedTranslator,
    commands=(TRANSLATE_COMMAND, EXPORT),
    eval_params=(
        Param("split", str, "test", "split of the run's corpus to score", choices=SPLITS),
        *SEARCH,
        Param("data_dir", str, None, "folder holding the data set (default: the run's)"),
    ),
    help=HELP,
    report=report,
    outputs=("report_test.json", "eval_*_beam*.txt", "eval_*_beam*.json") + export_outputs(("encoder", "decoder_step")),
    smoke=Smoke(
        train=(
            "--dataset",
            "{fixtures}/translate",
            "--src",
            "de",
            "--tgt",
            "en",
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
            "--min-freq",
            "1",
        ),
        uses={
            "export": ("--format", "torchscript"),
            "translate": ("Der rote Hund läuft.",),
            "eval": ("--split", "valid", "--beam", "2"),
        },
        expect={"translate": r"^.*\n$", "eval": r"^valid: BLEU \d+\.\d\d \(lowercased"},
    ),
)
