"""Chat recipe, trained side: a chatbot loaded from a checkpoint (:class:`ChatBot`).

It replies to lines and scores a split of its dialogue: reference perplexity, distinct-1/2 and reply length
of greedy, beam-5 and sampled replies, beside a unigram model and the most frequent training reply.
"""

from __future__ import annotations

from collections import Counter
from typing import Optional

import torch

from rnnkit.data.batches import collate_pairs
from rnnkit.families.seq2seq.pairs import TrainedPairModel, pair_example
from rnnkit.families.seq2seq.parallel import Pair
from rnnkit.families.seq2seq.translator import SearchOptions, pair_loss
from rnnkit.metrics.classification import distinct_n, unigram_perplexity
from rnnkit.objectives.supervised import mean_loss
from rnnkit.recipes.chat.config import defaults
from rnnkit.recipes.chat.data import NO_PROMPT, first_words, load_dialogue
from rnnkit.recipes.chat.use import MAX_REPLY
from rnnkit.train.meta import Need


class ChatBot(TrainedPairModel):
    """A trained chatbot: replies to lines, figures on a split of its dialogue data."""

    config_defaults = staticmethod(defaults)
    meta_fields = {
        **TrainedPairModel.meta_fields,
        "split": Need("object", optional=True),
        **{f"split.{name}": Need("integers", minimum=0) for name in ("train", "valid", "test")},
    }

    def replies(self, lines: list[str], options: SearchOptions) -> list:
        data = self.sections["data"]
        lines = [NO_PROMPT if data.ignore_prompt else first_words(line, data.max_length) for line in lines]
        return self.translator.translate(lines, options)

    def evaluate(
        self, split: str = "test", temperature: float = 0.8, top_k: int = 0, top_p: float = 0.9, seed: Optional[int] = 0
    ) -> dict:
        """Reference perplexity; distinct-1/2 and mean length of greedy, beam-5 and sampled replies;
        the unigram model's perplexity and the most frequent training reply on the same split."""
        splits, _, _ = load_dialogue(self.sections["data"], self.sections["train"].seed, self.meta.get("split"))
        pairs, train = splits[split], splits["train"]
        if not pairs:
            raise ValueError(f"split {split!r} of this run has no pairs")
        loss = mean_loss(self.model, [pair_example(self.translator, p) for p in pairs], collate_pairs, pair_loss)[
            "loss"
        ]
        result = {
            "split": split,
            "pairs": len(pairs),
            "perplexity": float(torch.tensor(loss).exp()),
            "ignore_prompt": self.sections["data"].ignore_prompt,
            **self._unigram(train, pairs),
        }
        cap = dict(max_ratio=0.0, max_extra=MAX_REPLY, no_unk=True)  # as `rnnkit chat` replies by default
        searches = {
            "greedy": SearchOptions(**cap),
            "beam 5": SearchOptions(beam=5, **cap),
            f"sampling (T={temperature:g}, top-p {top_p:g})": SearchOptions(
                temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, **cap
            ),
        }
        frequent = Counter(p.tgt for p in train).most_common(1)[0][0]
        result["most_frequent_reply"] = frequent
        outputs = {name: [t.text for t in self.replies([p.src for p in pairs], o)] for name, o in searches.items()}
        outputs["most frequent reply"] = [frequent] * len(pairs)
        result["replies"] = {name: _reply_figures(texts) for name, texts in outputs.items()}
        result["examples"] = [
            {"utterance": p.src, "reference": p.tgt, **{n: outputs[n][i] for n in outputs}}
            for i, p in enumerate(pairs[:10])
        ]
        return result

    def _unigram(self, train: list[Pair], pairs: list[Pair]) -> dict:
        """The add-one unigram baseline on the model's own terms (its target vocabulary, every other
        word one ``<unk>``, as the model scores it), the same per word (``open``), and the counts."""
        tok, vocab = self.translator.tgt_tokenizer.tokenize, self.translator.tgt_vocab
        known = set(vocab.tokens)

        def closed(seqs):
            return [[t if t in known else "<unk>" for t in seq] for seq in seqs]

        train_seqs, test_seqs = [tok(p.tgt) for p in train], [tok(p.tgt) for p in pairs]
        tokens = sum(len(s) + 1 for s in test_seqs)  # + </s>
        unknown = sum(t not in known for s in test_seqs for t in s)
        return {
            "unigram_perplexity": unigram_perplexity(
                closed(train_seqs), closed(test_seqs), end="<eos>", vocabulary=vocab.tokens
            ),
            "unigram_perplexity_open": unigram_perplexity(train_seqs, test_seqs),
            "tokens": tokens,
            "unk_tokens": unknown,
            "vocabulary": len(vocab.tokens),
        }

    def describe(self, result: dict) -> str:
        lines = [
            f"{result['split']}: perplexity {result['perplexity']:.2f} of the reference replies "
            f"(unigram baseline {result['unigram_perplexity']:.2f} on the same "
            f"{result['vocabulary']:,}-token vocabulary, {result['unk_tokens']:,} of {result['tokens']:,} "
            f"tokens <unk>) over {result['pairs']:,} pairs",
            f"{'replies':<32} {'distinct-1':>10} {'distinct-2':>10} {'mean words':>10}",
        ]
        for name, row in result["replies"].items():
            lines.append(f"{name:<32} {row['distinct_1']:>10.3f} {row['distinct_2']:>10.3f} {row['mean_words']:>10.2f}")
        return "\n".join(lines)


def _reply_figures(texts: list[str]) -> dict:
    words = [t.split() for t in texts]
    return {
        "distinct_1": distinct_n(words, 1),
        "distinct_2": distinct_n(words, 2),
        "mean_words": sum(map(len, words)) / max(len(words), 1),
    }
