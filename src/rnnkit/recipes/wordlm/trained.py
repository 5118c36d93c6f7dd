"""Wordlm recipe, trained side: a word language model loaded from a checkpoint (:class:`WordLM`):
perplexity on a split of its corpus, and sampled words."""

from __future__ import annotations

from typing import Iterator, Optional

from rnnkit.data.corpus import EOS, WordVocab, load_corpus
from rnnkit.objectives.lm import TrainedLM, evaluate_lm
from rnnkit.recipes.wordlm.config import defaults
from rnnkit.recipes.wordlm.model import WordLanguageModel
from rnnkit.train.meta import Need


class WordLM(TrainedLM):
    """A trained word model: perplexity on a split, sampling."""

    model_class, vocab_class = WordLanguageModel, WordVocab
    config_defaults = staticmethod(defaults)
    meta_fields = {**TrainedLM.meta_fields, "corpus": Need("string", optional=True)}  # export keeps it

    def evaluate(self, split: str = "test", data_dir: Optional[str] = None, batch_size: Optional[int] = None) -> dict:
        """Perplexity on a split of the run's corpus (test: batch 1, valid: batch 10)."""
        data = self.sections["data"]  # the run's config, checked when the checkpoint was loaded
        root = data_dir or data.data_dir or None
        trained_on = load_corpus(data.corpus, root, splits=("train",)).vocab
        if trained_on.words != self.vocab.words:
            raise ValueError(
                f"corpus {data.corpus!r}: its training vocabulary ({len(trained_on):,} "
                f"words) differs from the checkpoint's ({len(self.vocab):,} words); "
                "this checkpoint was trained on another corpus or version"
            )
        corpus = load_corpus(data.corpus, root, splits=(split,), vocab=self.vocab)
        if batch_size is None:
            batch_size = data.test_batch_size if split == "test" else data.eval_batch_size
        result = evaluate_lm(self.model, corpus.ids[split], batch_size, data.seq_length)
        return {
            "loss": result["loss"],
            "ppl": result["ppl"],
            "tokens": result["tokens"],
            "unseen": corpus.unseen[split],
            "batch_size": batch_size,
            "split": split,
        }

    def describe(self, result: dict) -> str:
        return (
            f"{result['split']}: perplexity {result['ppl']:.2f} (loss {result['loss']:.4f} "
            f"nats/word) over {result['tokens']:,} tokens, batch {result['batch_size']}; "
            f"{result['unseen']:,} unseen words counted as <unk>"
        )

    def iter_sample(
        self,
        prime: str = "",
        length: int = 50,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: Optional[int] = None,
        skip_unknown: bool = False,
    ) -> Iterator[str]:
        """Yield ``length`` words (joined by the caller), continuing ``prime``.

        Unknown prime words become ``<unk>`` unless ``skip_unknown`` drops them.
        """
        words = prime.split()
        if skip_unknown:
            words = [w for w in words if w in self.vocab.index]
        ids, _ = self.vocab.encode(words or [EOS])
        for token in self.generate_ids(ids, length, temperature, top_k, top_p, seed):
            word = self.vocab.words[token]
            yield ("\n" if word == EOS else " " + word)

    def sample(self, prime: str = "", length: int = 50, **options) -> str:
        return "".join(self.iter_sample(prime, length, **options)).strip(" ")
