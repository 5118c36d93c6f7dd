"""Recipe: translation with an attentional encoder-decoder (Multi30k, the eng-fra tutorial, any pairs).

Train: ``rnnkit train translate --dataset multi30k --src de --tgt en`` (or ``--preset eng-fra``)
Translate: ``rnnkit translate RUN "Ein Mann fährt Fahrrad." [--beam 5] [--attention-plot a.png]``
Evaluate: ``rnnkit eval RUN --split test --beam 5`` (sacreBLEU cased and lowercased, chrF;
the hypotheses beside the scores)
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Optional

import torch

from rnnkit.data.batches import collate_pairs
from rnnkit.data.inputs import stdin_lines
from rnnkit.export import graphs
from rnnkit.export import ids as export_ids
from rnnkit.export.write import export_command
from rnnkit.export.write import outputs as export_outputs
from rnnkit.families import pretrained
from rnnkit.families.seq2seq import translator as translation
from rnnkit.families.seq2seq.bitext import NAMED, BitextConfig, load_bitext, preparer
from rnnkit.families.seq2seq.model import Seq2SeqConfig
from rnnkit.families.seq2seq.pairs import PairLossConfig, TrainedPairModel, build_pairs, pair_example
from rnnkit.families.seq2seq.parallel import normalize_space
from rnnkit.families.seq2seq.translator import MAX_RATIO, MAX_SOURCE, SearchOptions, pair_loss, plot_attention
from rnnkit.files import atomic_write_text
from rnnkit.metrics.bleu import corpus_scores, sacrebleu_metrics
from rnnkit.objectives.supervised import mean_loss
from rnnkit.recipes import load
from rnnkit.train import final_report
from rnnkit.train.meta import Need
from rnnkit.train.options import TrainConfig
from rnnkit.train.params import REQUIRED, Param
from rnnkit.train.ranges import BEAM, LENGTH_PENALTY
from rnnkit.train.recipe import Built, Command, Recipe, Serving, Smoke

SPLITS = ("train", "valid", "test")


def defaults():
    return {
        "data": BitextConfig(),
        "model": Seq2SeqConfig(embedding_dim=512, tie_embeddings=True),
        "embeddings": pretrained.PairPretrainedConfig(),
        "loss": PairLossConfig(),
        "train": TrainConfig(
            optimizer="adam",
            lr=2e-3,
            schedule="cosine",
            max_steps=0,
            max_minutes=55.0,
            anneal_by_time=True,
            warmup_steps=200,
            final_lr_ratio=0.02,
            eval_every=0,
            eval_each_epoch=True,
            grad_clip=1.0,
            monitor="bleu",
        ),
    }


PRESETS = {
    # the 60-minute budget on 2 CPU cores (training, validation BLEU each pass, the test report)
    "cpu-quick": {"train": {"max_minutes": 55.0}},
    # the PyTorch tutorial's setting: French -> English, normalised, < 10 words, "i am / he is ..."
    "eng-fra": {
        "data": {
            "dataset": "eng-fra",
            "src": "fr",
            "tgt": "en",
            "columns": "en,fr",
            "lowercase": True,
            "ascii_fold": True,
            "tutorial_punctuation": True,
            "max_length": 10,
            "english_prefixes": True,
            "min_freq": 1,
        },
        "model": {"embedding_dim": 256, "hidden_size": 512, "encoder_layers": 1},
        "train": {"max_minutes": 17.0},
    },
}
HELP = {
    "dataset": "multi30k, eng-fra, a folder of {train,val,test}.LANG files or a TSV of pairs",
    "data_dir": "folder holding named data sets (default $RNNKIT_DATA or ../shared/data)",
    "attention": "none (Cho et al.), bahdanau (additive) or luong (global)",
    "score": "Luong score: dot, general or concat",
    "input_feeding": "Luong input feeding",
    "teacher_forcing_final": "teacher-forcing ratio at the end of the run (-1 = as at the start)",
    **pretrained.HELP,
}


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


class TrainedTranslator(TrainedPairModel):
    """A trained translation model: translations of text, BLEU/chrF on a split of its corpus."""

    config_defaults = staticmethod(defaults)
    meta_fields = {
        **TrainedPairModel.meta_fields,
        "split_lines": Need("object", optional=True),
        "split_lines.rule": Need("string", optional=True),  # a TSV's held-out line numbers
        "split_lines.valid": Need("integers", minimum=1),
        "split_lines.test": Need("integers", minimum=1),
    }

    def evaluate(
        self,
        split: str = "test",
        beam: int = BEAM.default,
        length_penalty: float = LENGTH_PENALTY.default,
        max_ratio: float = MAX_RATIO.default,
        replace_unk: bool = False,
        data_dir: Optional[str] = None,
        write: bool = True,
    ) -> dict:
        """BLEU (cased, lowercased), chrF and perplexity on ``split``; with ``write``, the
        hypotheses and the scores go beside the checkpoint (``eval_{split}_beam{K}.txt/json``)."""
        data = self.sections["data"]
        if data_dir is not None:
            if data.dataset not in NAMED:
                raise ValueError(
                    f"--data-dir applies only to runs on a named data set ({', '.join(NAMED)}); "
                    f"this run read {data.dataset}"
                )
            data = dataclasses.replace(data, data_dir=data_dir)
        pairs = load_bitext(data, self.sections["train"].seed, self.meta.get("split_lines")).splits[split]
        options = SearchOptions(
            beam=beam,
            length_penalty=length_penalty,
            max_ratio=max_ratio,
            replace_unk=replace_unk,
            max_source_tokens=translation.MAX_SOURCE_TOKENS_CAP,
        )
        translations = self.translator.translate([p.src for p in pairs], options)
        hyps = [t.text for t in translations]
        loss = mean_loss(self.model, [pair_example(self.translator, p) for p in pairs], collate_pairs, pair_loss)
        unknown = sum(len(t.unknown) for t in translations)
        result = {
            "split": split,
            "sentences": len(pairs),
            "beam": beam,
            "length_penalty": length_penalty,
            **corpus_scores(hyps, [p.tgt for p in pairs]),
            "ppl": float(torch.tensor(loss["loss"]).exp()),
            "unknown_source_tokens": unknown,
            "source_tokens": sum(len(t.source) for t in translations),
        }
        result.update(
            max_ratio=max_ratio,
            replace_unk=replace_unk,
            references="raw" if preparer(data) is normalize_space else "normalised like training",
        )
        if write and self.run_dir is not None:
            extra = (
                (f"_lp{length_penalty:g}" if length_penalty != LENGTH_PENALTY.default else "")
                + (f"_ratio{max_ratio:g}" if max_ratio != MAX_RATIO.default else "")
                + ("_unk" if replace_unk else "")
            )
            stem = self.run_dir / f"eval_{split}_beam{beam}{extra}"
            atomic_write_text(f"{stem}.txt", "".join(h + "\n" for h in hyps))
            atomic_write_text(f"{stem}.json", json.dumps(result, indent=1) + "\n")
            result["hypotheses"] = f"{stem}.txt"
        return result

    def describe(self, result: dict) -> str:
        search = "greedy" if result["beam"] == 1 else f"beam {result['beam']}"
        lines = [
            f"{result['split']}: BLEU {result['bleu']:.2f} (lowercased {result['bleu_lowercased']:.2f}), "
            f"chrF {result['chrf']:.2f}, perplexity {result['ppl']:.2f} over {result['sentences']:,} sentences "
            f"({search}); source tokens outside the vocabulary: {result['unknown_source_tokens']:,} of "
            f"{result['source_tokens']:,}",
            f"  {result['signature_bleu']}",
            f"  {result['signature_bleu_lowercased']}",
            f"  {result['signature_chrf']}",
        ]
        if result.get("references", "raw") != "raw":
            lines.append(
                "  references: normalised like the training text (lowercasing, accents, punctuation "
                "as configured), so scores are on that form"
            )
        if "hypotheses" in result:
            lines.append(f"hypotheses: {result['hypotheses']}")
        return "\n".join(lines)


def _note_empty(lines: list[str], translations) -> None:
    """A note on stderr for the first non-empty line whose translation came out empty, so an
    empty output line is never silent."""
    for number, (line, found) in enumerate(zip(lines, translations), 1):
        if line.strip() and not found.text:
            outside = len(found.unknown)
            print(
                f"note: line {number}: the model's translation is empty ({outside} of its "
                f"{len(found.source)} source tokens are outside the vocabulary)",
                file=sys.stderr,
            )
            return


def _translate(model: TrainedTranslator, values) -> int:
    lines = list(values.text) if values.text else stdin_lines()
    if not lines:
        raise ValueError("no input: give sentences as arguments or one per line on stdin")
    options = SearchOptions.of(values, attention=bool(values.attention_plot))
    options.check()
    if values.attention_plot:  # everything that would stop the plot is checked before translating
        if not Path(values.attention_plot).resolve().parent.is_dir():
            raise ValueError(
                f"--attention-plot {values.attention_plot}: the folder "
                f"{Path(values.attention_plot).parent} does not exist"
            )
        if model.model.attention is None:
            raise ValueError(
                "--attention-plot: this model was trained with --attention none; it has no attention to plot"
            )
        if not any(line.strip() for line in lines):
            raise ValueError("--attention-plot: every input line is empty; nothing to plot")
    translations = model.translator.translate(lines, options)
    sys.stdout.write("".join(t.text + "\n" for t in translations))
    _note_empty(lines, translations)
    if values.verbose:
        unknown = Counter(w for t in translations for w in t.unknown)
        shown = ", ".join(f"{w} ({n})" for w, n in unknown.most_common(20))
        print(
            f"{sum(unknown.values()):,} source tokens outside the vocabulary" + (f": {shown}" if shown else ""),
            file=sys.stderr,
        )
    if values.attention_plot:
        first = next(t for t in translations if t.source)
        plot_attention(first, values.attention_plot, f"{model.translator.src_tokenizer.detokenize(first.source)}")
        print(f"attention plot: {values.attention_plot}", file=sys.stderr)
    return 0


def serve_translate(model: TrainedTranslator, values) -> dict:
    """``POST /translate``: each sentence's translation and its source tokens outside the vocabulary."""
    return {
        "translations": [
            {"text": t.text, "unknown": t.unknown}
            for t in model.translator.translate(values["text"], SearchOptions.of(values, attention=False))
        ]
    }


#: the search options of ``translate`` and ``eval``
SEARCH = (
    BEAM,
    LENGTH_PENALTY,
    MAX_RATIO,
    Param(
        "replace_unk",
        bool,
        False,
        "replace <unk> by the source token with the most attention",
        cli={"help": "replace <unk> in the output by the source token with the most attention"},
    ),
)

# batched: sentences are searched independently (sorted by length, as the command line does)
TRANSLATE_COMMAND = Command(
    "translate",
    "translate sentences (arguments, or one per line on stdin)",
    (
        Param(
            "text",
            "strings",
            REQUIRED,
            "sentences to translate",
            positional=True,
            size=(1, 256),
            cli={"default": None, "help": "sentences to translate (default: lines of stdin)"},
        ),
        *SEARCH,
        MAX_SOURCE,
        Param("attention_plot", str, None, "save the first sentence's attention as a heatmap (PNG)", http=False),
        Param("verbose", bool, False, "report source words outside the vocabulary", http=False),
    ),
    _translate,
    serve=Serving(serve_translate, example={"text": ["Ein Mann fährt Fahrrad."]}, batch="text", output="translations"),
)


def report(run_dir: Path) -> str:
    """After training: test BLEU of the best checkpoint, greedy and beam 5 (report_test.json;
    greedy only with ``--final-report quick``)."""
    model = load(run_dir)
    beams = (1,) if final_report.level(run_dir) == "quick" else (1, 5)
    results = [model.evaluate("test", beam=beam) for beam in beams]
    atomic_write_text(run_dir / "report_test.json", json.dumps(results, indent=1) + "\n")
    return "\n".join(model.describe(r) for r in results)


EXPORT = export_command(graphs.pair_model, graphs.PAIR_META, runtime=lambda t: {"ids": export_ids.pair_model(t)})

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
