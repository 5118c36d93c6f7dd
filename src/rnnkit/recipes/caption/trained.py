"""Caption recipe, trained side: a captioner loaded from a checkpoint (:class:`TrainedCaptioner`).

It captions images and scores a split: BLEU-1..4, CIDEr-D and ROUGE-L (:mod:`rnnkit.metrics.captions`)
and, on the generated data sets, the truth scores (:mod:`rnnkit.recipes.caption.truth`): the share of
captions that parse back to exactly the scene, precision and recall of objects, attributes and
relations, and the class accuracy read from the captions. Captions go beside the checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Optional

from torch import Tensor

from rnnkit.data.token_vocab import Vocab
from rnnkit.files import atomic_write_text
from rnnkit.metrics.captions import caption_scores
from rnnkit.recipes.caption.config import defaults
from rnnkit.recipes.caption.data import kinds, load_split
from rnnkit.recipes.caption.model import Captioner
from rnnkit.recipes.caption.search import MAX_WORDS, Caption, caption_images
from rnnkit.recipes.caption.truth import truth_scores
from rnnkit.train.meta import Need, starts_with
from rnnkit.train.ranges import BEAM, LENGTH_PENALTY
from rnnkit.train.recipe import TrainedModel

TRUTH_LINES = (
    ("exact", "captions that parse back to exactly the scene"),
    ("article_accuracy", "objects named right at their place"),
)


class TrainedCaptioner(TrainedModel):
    """A trained captioner: captions of images, scores on a split of its data set."""

    config_defaults = staticmethod(defaults)
    meta_fields = {"vocab": Need("strings", unique=True, check=starts_with(Vocab.SPECIALS))}

    @classmethod
    def build_model(cls, sections, meta: dict) -> Captioner:
        return Captioner(len(meta["vocab"]), sections["model"], pretrained=False)

    def __init__(self, model, sections, meta: dict, path=None) -> None:
        super().__init__(model, sections, meta, path)
        self.vocab = Vocab.from_json(meta["vocab"])

    @property
    def image_size(self) -> int:
        return self.sections["data"].image_size

    def caption(
        self,
        images: Tensor,
        beam: int = BEAM.default,
        length_penalty: float = LENGTH_PENALTY.default,
        max_words: int = MAX_WORDS.default,
        attention: bool = False,
    ) -> list[Caption]:
        """Captions of images (M, 3, S, S) uint8 at the run's image size, in order."""
        return caption_images(self.model, self.vocab, images, beam, length_penalty, max_words, attention)

    def evaluate(
        self,
        split: str = "test",
        beam: int = BEAM.default,
        length_penalty: float = LENGTH_PENALTY.default,
        max_words: int = MAX_WORDS.default,
        data_dir: Optional[str] = None,
        write: bool = True,
    ) -> dict:
        """Caption scores (and truth scores on generated data) of ``split``; with ``write`` the captions
        and the scores go beside the checkpoint (``eval_{split}_beam{K}.txt/json``)."""
        data = self.sections["data"]
        if data_dir is not None:
            data = dataclasses.replace(data, data_dir=data_dir)
        found = load_split(data, split)
        started = time.perf_counter()
        captions = self.caption(found.images, beam, length_penalty, max_words)
        seconds = time.perf_counter() - started
        hyps = [c.text for c in captions]
        references = found.references()
        result = {
            "split": split,
            "dataset": data.dataset,
            "images": len(found),
            "beam": beam,
            "length_penalty": length_penalty,
            **caption_scores(hyps, references),
            "tokenisation": "lowercased words, punctuation dropped (rnnkit.metrics.captions.caption_tokens)",
            "unknown_words": sum(c.words.count(Vocab.SPECIALS[Vocab.UNK]) for c in captions),
            "images_per_second": len(found) / seconds,
        }
        if found.scenes is not None:
            result["truth"] = truth_scores(hyps, found.scenes, kinds(data))
        if write and self.run_dir is not None:
            stem = self.run_dir / f"eval_{split}_beam{beam}"
            atomic_write_text(f"{stem}.txt", "".join(f"{name}\t{h}\n" for name, h in zip(found.names, hyps)))
            atomic_write_text(f"{stem}.json", json.dumps(result, indent=1) + "\n")
            result["captions"] = f"{stem}.txt"
        return result

    def describe(self, result: dict) -> str:
        search = "greedy" if result["beam"] == 1 else f"beam {result['beam']}"
        lines = [
            f"{result['split']}: BLEU-4 {result['bleu4']:.2f} (BLEU-1 {result['bleu1']:.2f}), CIDEr-D "
            f"{result['cider_d']:.1f}, ROUGE-L {result['rouge_l']:.2f} over {result['images']:,} images ({search})"
        ]
        truth = result.get("truth")
        if truth:
            for key, text in TRUTH_LINES:
                lines.append(f"  {100 * truth[key]:.2f}% {text}")
            lines.append(
                "  precision / recall: objects {:.3f} / {:.3f}, attributes {:.3f} / {:.3f}, relations {:.3f} / {:.3f}".format(
                    *(
                        truth[f"{kind}_{side}"]
                        for kind in ("object", "attribute", "relation")
                        for side in ("precision", "recall")
                    )
                )
            )
        if "captions" in result:
            lines.append(f"captions: {result['captions']}")
        return "\n".join(lines)
