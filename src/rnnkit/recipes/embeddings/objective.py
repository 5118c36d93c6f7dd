"""The objective that trains word vectors (skip-gram, CBOW, N-gram LM) for the trainer.

Each pass subsamples the training stream afresh (seeded by the pass); batch k
takes the next ``batch_words`` centre positions of that pass and draws their
windows and negatives from a generator seeded by (seed, pass, position). The
state is just (pass, position), so a resumed run draws exactly the batches an
uninterrupted one would have, and a fixed seed reproduces a run.

Loss scale: the value returned is always the mean loss per example (what the
trainer logs). With ``sum_gradient`` (the recipe sets it for SGD) the *gradient*
is that of the sum, so ``--lr`` means what it means in word2vec.c (0.025
skip-gram, 0.05 CBOW, per example, decayed linearly); otherwise (Adam, and always
for the N-gram LM) it is the mean's.

On ``world`` processes every rank draws the same global batch and keeps a contiguous share
of its centre words (:func:`shard_batch`); the state stays global, so a run resumes on any
number of processes.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.objectives.supervised import evaluating
from rnnkit.recipes.embeddings import skipgram as sg
from rnnkit.recipes.embeddings.huffman import huffman_paths
from rnnkit.train.callbacks import Callback
from rnnkit.train.distributed import shard_range


def _generator(*keys: int) -> torch.Generator:
    seed = 0
    for key in keys:
        seed = (seed * 1_000_003 + int(key)) % (2**63 - 1)
    return torch.Generator().manual_seed(seed)


class WordVectorObjective:
    """Args:
    train: training stream ids (T,), words below the cut-off already dropped.
    valid: held-out stream ids (T_v,), scored on a fixed draw of examples.
    counts: word counts (V,), for subsampling and the negative distribution.
    method: skipgram, cbow or ngram.
    window: largest window (skip-gram, CBOW); context: words before the target (ngram).
    negatives: K per example; sample: subsampling threshold t (0 = off).
    batch_words: centre positions per batch; seed: of every draw.
    sum_gradient: the gradient of the summed loss (word2vec's per-example lr; skipgram/cbow).
    hierarchical: hierarchical softmax over the Huffman tree of ``counts`` instead of negatives.
    """

    metrics = {"loss": "min"}
    unit = "words"  # centre words: the progress line's rate

    def __init__(
        self,
        train: Tensor,
        valid: Tensor,
        counts: Tensor,
        method: str,
        window: int,
        context: int,
        negatives: int,
        sample: float,
        batch_words: int,
        seed: int,
        valid_words: int = 20_000,
        sum_gradient: bool = True,
        hierarchical: bool = False,
    ) -> None:
        self.train, self.method, self.window, self.context = train, method, window, context
        self.negatives, self.batch_words, self.seed = negatives, batch_words, seed
        self.sum_gradient = sum_gradient and method != "ngram"
        self.keep = sg.keep_probabilities(counts, sample if method != "ngram" else 0.0)
        self.sampler = sg.NegativeSampler(counts)
        self.paths = None
        if hierarchical and method != "ngram":
            nodes, codes, mask = huffman_paths(counts)
            self.paths = (nodes, (1 - 2 * codes) * mask)  # signs: +1 branch 0, -1 branch 1, 0 unused
        self.epoch, self.position = 0, 0
        self.rank, self.world = 0, 1
        self._cached: tuple[int, Tensor] = (-1, train)
        held = valid[:valid_words] if len(valid) > self.span else train[:valid_words]
        self.valid = self.examples(held, 0, len(held), _generator(seed, 7, 7, 7))

    @property
    def span(self) -> int:
        """The fewest tokens that give one example."""
        return self.context if self.method == "ngram" else 1

    def stream(self) -> Tensor:
        """This pass's subsampled training stream (T',)."""
        if self._cached[0] != self.epoch:
            kept = sg.subsample(self.train, self.keep, _generator(self.seed, 1, self.epoch))
            self._cached = (self.epoch, kept if len(kept) > self.span else self.train)
        return self._cached[1]

    def examples(self, stream: Tensor, start: int, stop: int, generator: torch.Generator) -> dict:
        """A batch for the centres ``stream[start:stop]``: dict of id tensors (see the model)."""
        if self.method == "ngram":
            contexts, target = sg.ngram_examples(stream, start, stop, self.context)
            return {"contexts": contexts, "target": target, "words": stop - start}
        if self.method == "cbow":
            target, contexts, mask = sg.cbow_windows(stream, start, stop, self.window, generator)
            batch = {"target": target, "contexts": contexts, "mask": mask}
        else:
            centre, owner, context = sg.skipgram_pairs(stream, start, stop, self.window, generator)
            batch = {"centre": centre, "owner": owner, "context": context}
        if self.paths is not None:
            positive = batch["context"] if self.method == "skipgram" else batch["target"]
            signs = self.paths[1][positive]  # (P, L)
            slot, column = signs.nonzero(as_tuple=True)  # the used slots only: (M,)
            batch.update(path=self.paths[0][positive][slot, column], signs=signs[slot, column], slot=slot)
        else:
            rows = len(next(iter(batch.values())))  # skip-gram: per centre, shared by its window's pairs
            batch["negatives"] = self.sampler.sample((rows, self.negatives), generator)
        batch["words"] = stop - start
        return batch

    def next_batch(self) -> Any:
        stream = self.stream()
        start = self.position
        stop = min(start + self.batch_words, len(stream))
        batch = self.examples(stream, start, stop, _generator(self.seed, 2, self.epoch, start))
        self.position = stop
        if stop >= len(stream):
            self.epoch, self.position = self.epoch + 1, 0
        if self.world > 1:
            batch = shard_batch(batch, self.method, self.rank, self.world)
        return batch

    def shard(self, rank: int, world: int) -> None:
        """Keep only this rank's share of each global batch."""
        self.rank, self.world = rank, world

    def loss_weight(self, batch: dict, count: int) -> int:
        """The examples this rank's mean loss is over (its share of the global mean)."""
        return int(batch["examples"])

    def loss(self, model: nn.Module, batch: dict) -> Tensor:
        device = next(model.parameters()).device
        losses = model({k: v.to(device) for k, v in batch.items() if k not in COUNTS})
        if len(losses) == 0:
            return next(model.parameters()).sum() * 0.0
        mean = losses.mean()
        if not self.sum_gradient:
            return mean
        if "global_examples" in batch:  # a share: the gradient of the global sum's part here,
            # in the units DDP's weighted average expects (loss_weight / global examples)
            return mean.detach() + (mean - mean.detach()) * float(batch["global_examples"])
        total = losses.sum()
        return mean.detach() + (total - total.detach())  # value: the mean; gradient: the sum's

    def step(self, model: nn.Module, batch: dict, info=None) -> tuple[Tensor, int]:
        """(loss, training words in the batch): the trainer's rate is words/s after subsampling."""
        return self.loss(model, batch), int(batch["words"])

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        with evaluating(model), torch.no_grad():
            return {"loss": float(self.loss(model, self.valid))}

    def state_dict(self) -> tuple[dict[str, Tensor], dict]:
        return {}, {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, tensors: dict[str, Tensor], meta: dict) -> None:
        self.epoch, self.position = int(meta["epoch"]), int(meta["position"])


#: batch entries that count, not model inputs
COUNTS = ("words", "examples", "global_examples")


def examples_of(batch: dict, method: str) -> int:
    """How many losses the model returns for ``batch``: pairs (skip-gram) or rows."""
    return len(batch["owner"] if method == "skipgram" else batch["target"])


def shard_batch(batch: dict, method: str, rank: int, world: int) -> dict:
    """Rank ``rank``'s contiguous share of a global batch's centre rows (n), with their
    skip-gram pairs (P: ``owner`` is sorted) and Huffman path slots (M: ``slot`` is sorted),
    re-indexed from 0. Adds ``examples`` (the share's losses) and ``global_examples``."""
    rows = len(batch["centre"] if method == "skipgram" else batch["target"])
    start, stop = shard_range(rows, rank, world)
    out = {"global_examples": examples_of(batch, method)}
    first, last = shard_range(int(batch["words"]), rank, world)
    out["words"] = last - first
    for key in ("centre", "target", "contexts", "mask", "negatives"):
        if key in batch:
            out[key] = batch[key][start:stop]
    examples = slice(start, stop)
    if method == "skipgram":
        owner = batch["owner"]
        lo, hi = (int(torch.searchsorted(owner, torch.tensor(v))) for v in (start, stop))
        out["owner"], out["context"] = owner[lo:hi] - start, batch["context"][lo:hi]
        examples = slice(lo, hi)
    if "slot" in batch:
        slot = batch["slot"]
        lo, hi = (int(torch.searchsorted(slot, torch.tensor(v))) for v in (examples.start, examples.stop))
        out.update(path=batch["path"][lo:hi], signs=batch["signs"][lo:hi], slot=slot[lo:hi] - examples.start)
    out["examples"] = examples_of(out, method)
    return out


class WordRate(Callback):
    """Prints the training speed at every evaluation: words/s after subsampling (the words the
    batches were drawn from), since the start of this process.

    Its checkpointed state counts the whole run (resumes included): ``words``, ``seconds``
    (wall) and ``cpu_seconds`` (``time.process_time``, every thread of the process) from the
    first batch to the last finished step; evaluations after that step are not counted. CPU
    seconds are what a benchmark on a shared machine can hold equal (see
    benchmarks/scripts/embeddings_vs_gensim.py)."""

    name = "word_rate"

    def __init__(self) -> None:
        self.words, self.start, self.cpu_start = 0, None, None
        self.base = {"words": 0, "seconds": 0.0, "cpu_seconds": 0.0}  # earlier processes of this run
        self.seconds = self.cpu_seconds = 0.0  # this process

    def on_batch(self, trainer, batch) -> None:
        if self.start is None:
            self.start, self.cpu_start = time.perf_counter(), time.process_time()

    def on_step_end(self, trainer, loss: float, count: int) -> None:
        self.words += count
        self.seconds = time.perf_counter() - self.start
        self.cpu_seconds = time.process_time() - self.cpu_start

    def on_evaluate(self, trainer, result: dict[str, float], improved: bool) -> None:
        if self.start is not None:
            seconds = max(self.seconds, 1e-9)
            trainer.note(
                f"{self.words / seconds:,.0f} words/s ({self.words:,} words in {seconds:.1f} s, "
                f"{self.cpu_seconds:.1f} CPU s)"
            )

    def state_dict(self) -> tuple[dict[str, Tensor], dict]:
        return {}, {
            "words": self.base["words"] + self.words,
            "seconds": round(self.base["seconds"] + self.seconds, 4),
            "cpu_seconds": round(self.base["cpu_seconds"] + self.cpu_seconds, 4),
        }

    def load_state_dict(self, tensors: dict[str, Tensor], meta: dict) -> None:
        self.base = {k: type(v)(meta.get(k, v)) for k, v in self.base.items()}
