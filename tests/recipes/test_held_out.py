"""Held-out splits stay held out in the sentence-pair recipes (translate, chat): every validation
figure the engine records, and so the best checkpoint it keeps, is the model's score on the
validation split, recomputed here on a copy of the weights taken at each evaluation; the test
split, which scores differently, never takes its place; training batches hold only training pairs."""

import copy
import math
from pathlib import Path

import pytest
from helpers import pairs_tsv

import rnnkit
from rnnkit.cli import main
from rnnkit.families.seq2seq.model import Seq2Seq
from rnnkit.families.seq2seq.pairs import pair_example
from rnnkit.train import checkpoint as ckpt
from rnnkit.train.trainer import Trainer

FIXTURES = Path(__file__).parents[1] / "fixtures"
TINY = (
    "--embedding-dim",
    "16",
    "--hidden-size",
    "32",
    "--encoder-layers",
    "1",
    "--batch-size",
    "16",
    "--max-minutes",
    "0",
    "--warmup-steps",
    "0",
    "--lr",
    "0.02",
    "--dropout",
    "0.0",
    "--min-freq",
    "1",
    "--no-eval-each-epoch",
    "--quiet",
    "--threads",
    "1",
    "--max-steps",
    "36",
    "--eval-every",
    "12",
)


def spied_training(monkeypatch, args: list[str]) -> tuple[list, list]:
    """Train with ``main(args)``; returns (the step, a copy of the weights and the recorded result
    at each evaluation; the source rows of every training batch, without padding)."""
    evaluations, sources = [], []
    after_eval, forward = Trainer._after_eval, Seq2Seq.forward

    def spy_after_eval(self, result, progress):
        evaluations.append((self.step, copy.deepcopy(self.model.state_dict()), dict(result)))
        return after_eval(self, result, progress)

    def spy_forward(self, src, src_lengths, *rest, **options):
        if self.training:
            sources.extend(tuple(row[:n].tolist()) for row, n in zip(src, src_lengths))
        return forward(self, src, src_lengths, *rest, **options)

    monkeypatch.setattr(Trainer, "_after_eval", spy_after_eval)
    monkeypatch.setattr(Seq2Seq, "forward", spy_forward)
    assert main(args) == 0
    monkeypatch.undo()
    return evaluations, sources


def encoded_sources(model, pairs) -> set:
    return {tuple(pair_example(model.translator, p)[0].tolist()) for p in pairs}


def check_best(run: Path, evaluations: list, valid: list[float], test: list[float], monitor: str, higher: bool):
    """The recorded figures are the validation ones; the best checkpoint is the best of those."""
    recorded = [result[monitor] for _, _, result in evaluations]
    assert recorded == pytest.approx(valid, rel=1e-5, abs=1e-6), (
        f"recorded {monitor} {recorded}; on valid {valid}, on test {test}"
    )
    assert recorded != pytest.approx(test, rel=1e-3), f"the fixture must score test apart from valid ({test})"
    choose = max if higher else min
    first_best = next(i for i, v in enumerate(recorded) if v == choose(recorded))  # a tie keeps the earlier
    best = ckpt.load(run / ckpt.BEST).meta
    assert (best["step"], best["best"]) == (evaluations[first_best][0], pytest.approx(valid[first_best], rel=1e-5)), (
        f"best checkpoint at step {best['step']}; by valid step {evaluations[first_best][0]}, "
        f"by test step {evaluations[test.index(choose(test))][0]}"
    )


def test_translate_selects_on_validation_and_trains_on_training_pairs(tmp_path, monkeypatch):
    run = tmp_path / "run"
    evaluations, sources = spied_training(
        monkeypatch,
        [
            "train",
            "translate",
            "--dataset",
            str(FIXTURES / "translate"),
            *TINY,
            "--monitor",
            "ppl",
            "--run-dir",
            str(run),
        ],
    )
    assert [step for step, _, _ in evaluations] == [12, 24, 36]
    model = rnnkit.load(run / ckpt.BEST)
    scores = {"valid": [], "test": []}
    for _, weights, result in evaluations:
        model.model.load_state_dict(weights)
        for split in scores:
            scores[split].append(model.evaluate(split, write=False))
        bleu = {split: scores[split][-1]["bleu"] for split in scores}
        assert result["bleu"] == pytest.approx(bleu["valid"], abs=1e-9), (
            f"recorded BLEU {result['bleu']}; greedy on valid {bleu['valid']}, on test {bleu['test']}"
        )
    check_best(
        run, evaluations, [s["ppl"] for s in scores["valid"]], [s["ppl"] for s in scores["test"]], "ppl", higher=False
    )
    from rnnkit.families.seq2seq.bitext import load_bitext

    splits = load_bitext(model.sections["data"], model.sections["train"].seed, model.meta.get("split_lines")).splits
    outside = set(sources) - encoded_sources(model, splits["train"])
    assert len(sources) >= 36 * 8 and not outside, f"{len(outside)} training rows are no training source"


def test_chat_selects_on_validation(tmp_path, monkeypatch):
    """Chat keeps the checkpoint of the lowest validation loss (its default monitor), through the CLI."""
    pairs_tsv(tmp_path)
    run = tmp_path / "run"
    evaluations, sources = spied_training(
        monkeypatch,
        [
            "train",
            "chat",
            "--dataset",
            str(tmp_path / "pairs.tsv"),
            *TINY,
            "--valid-fraction",
            "0.1",
            "--test-fraction",
            "0.1",
            "--run-dir",
            str(run),
        ],
    )
    assert [step for step, _, _ in evaluations] == [12, 24, 36]
    bot = rnnkit.load(run / ckpt.BEST)
    scores = {"valid": [], "test": []}
    for _, weights, _ in evaluations:
        bot.model.load_state_dict(weights)
        for split in scores:
            scores[split].append(math.log(bot.evaluate(split)["perplexity"]))
    check_best(run, evaluations, scores["valid"], scores["test"], "loss", higher=False)
    from rnnkit.recipes.chat.data import load_dialogue

    splits = load_dialogue(bot.sections["data"], bot.sections["train"].seed, bot.meta["split"])[0]
    outside = set(sources) - encoded_sources(bot, splits["train"])
    assert sources and not outside, f"{len(outside)} training rows are no training source"
