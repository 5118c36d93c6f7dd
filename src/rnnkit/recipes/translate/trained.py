"""Translate recipe, trained side: a translation model loaded from a checkpoint (:class:`TrainedTranslator`).

It translates text and scores a split of its corpus: sacreBLEU cased and lowercased, chrF and perplexity,
with the hypotheses written beside the checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Optional

import torch

from rnnkit.data.batches import collate_pairs
from rnnkit.families.seq2seq import translator as translation
from rnnkit.families.seq2seq.bitext import NAMED, load_bitext, preparer
from rnnkit.families.seq2seq.pairs import TrainedPairModel, pair_example
from rnnkit.families.seq2seq.parallel import normalize_space
from rnnkit.families.seq2seq.translator import MAX_RATIO, SearchOptions, pair_loss
from rnnkit.files import atomic_write_text
from rnnkit.metrics.bleu import corpus_scores
from rnnkit.objectives.supervised import mean_loss
from rnnkit.recipes.translate.config import defaults
from rnnkit.train.meta import Need
from rnnkit.train.ranges import BEAM, LENGTH_PENALTY


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
