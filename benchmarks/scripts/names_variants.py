"""Exploration harness: variants of the names classifier that the recipe does not offer.

Trains one bidirectional-RNN classifier on the recipe's split (split seed 0)
with the recipe's schedule (Adam, 100 warm-up steps, cosine to 2% over
``--steps``, clip 1, batch 64) and prints validation figures each epoch,
then the test figures of the epoch best on validation (per-name accuracy +
macro-F1). Both scorings as in ``rnnkit eval``: per (name, language) pair
(``acc``, ``f1``) and per distinct name, right if any of its languages
(``nacc``, ``nf1``). Variants: ``--multi any`` (one example per name, loss
-log sum of its languages' probabilities), ``--chardrop`` (characters
replaced by <unk>), ``--edrop`` (whole character embeddings dropped),
``--pool final+max`` (max over time beside the final states), ``--wd``,
``--ls`` (label smoothing), ``--sampler POWER`` (balanced sampling).
The valid/test log-probabilities are saved to ``--out`` (safetensors) for ensembling.

Usage: ``python benchmarks/scripts/names_variants.py --out base.safetensors [--seed 1] [--multi any] ...``
(1 thread by default, so two runs can share a 2-core machine).
"""

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import Tensor, nn

from rnnkit.data.batches import BatchCycler, pad_batch
from rnnkit.data.names import NameVocab
from rnnkit.data.names_split import NamesDataConfig, load_split
from rnnkit.nn import build_rnn
from rnnkit.objectives.supervised import classifier_log_probs
from rnnkit.recipes.names.evaluate import split_figures as score_split


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="names classifier variants")
    parser.add_argument("--out", required=True, help="file for the valid/test log-probabilities")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--emb", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--edrop", type=float, default=0.0, help="drop whole character embeddings")
    parser.add_argument("--chardrop", type=float, default=0.0, help="replace characters by <unk>")
    parser.add_argument("--pool", default="final", choices=("final", "max", "final+max"))
    parser.add_argument("--multi", default="pairs", choices=("pairs", "any"))
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--wd", type=float, default=0.0, help="AdamW weight decay")
    parser.add_argument("--ls", type=float, default=0.0, help="label smoothing (pairs only)")
    parser.add_argument("--bs", type=int, default=64)
    parser.add_argument("--sampler", type=float, default=0.0, help="balanced sampling power (0: off)")
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args()


class VariantClassifier(nn.Module):
    """ids (N, L), lengths (N,) -> logits (N, C): bidirectional RNN, final states and/or max pooling."""

    def __init__(self, args, vocab_size: int, num_classes: int) -> None:
        super().__init__()
        self.args = args
        self.embedding = nn.Embedding(vocab_size, args.emb, padding_idx=0)
        self.rnn = build_rnn(args.cell, args.emb, args.hidden, args.layers, args.dropout, bidirectional=True)
        self.drop = nn.Dropout(args.dropout)
        width = 2 * args.hidden * (2 if args.pool == "final+max" else 1)
        self.output = nn.Linear(width, num_classes)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        vectors = self.embedding(ids)
        if self.training and self.args.edrop > 0:
            rows = self.embedding.weight.shape[0]
            keep = (torch.rand(rows, 1) > self.args.edrop).float() / (1 - self.args.edrop)
            vectors = F.embedding(ids, self.embedding.weight * keep, padding_idx=0)
        outputs, state = self.rnn(self.drop(vectors), lengths=lengths)
        h = state[0] if isinstance(state, tuple) else state
        features = [torch.cat([h[-2], h[-1]], -1)]
        if self.args.pool in ("max", "final+max"):
            mask = torch.arange(ids.shape[1])[None, :] < lengths[:, None]
            pooled = outputs.masked_fill(~mask[..., None], -1e4).max(1).values
            features = [pooled] if self.args.pool == "max" else features + [pooled]
        return self.output(self.drop(torch.cat(features, -1)))


def training_examples(names, parts, vocab: NameVocab, multi: str) -> list[tuple[Tensor, Tensor]]:
    """(ids, labels) per pair, or with ``multi == "any"`` per distinct name with all its labels."""
    if multi == "pairs":
        return [(vocab.encode(n, warn=False), torch.tensor([l])) for n, l in parts["train"]]
    labels_of = names.label_sets()  # a name's languages all sit in the same split
    first_seen = dict.fromkeys(n for n, _ in parts["train"])
    return [(vocab.encode(n, warn=False), torch.tensor(sorted(labels_of[n]))) for n in first_seen]


def learning_rate(args, step: int) -> float:
    if step < 100:
        return args.lr * (step + 1) / 100
    progress = (step - 100) / max(1, args.steps - 100)
    return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))


def log_probs(model: nn.Module, examples: list[Tensor]) -> Tensor:
    """(M, C) in the given order (the recipe's batched prediction, 512 names a batch)."""
    return classifier_log_probs(model, examples, batch_size=512)


def batch_loss(args, model, train, rows: list[int]) -> Tensor:
    sequences = [train[i][0] for i in rows]
    if args.chardrop > 0:
        sequences = [torch.where(torch.rand(len(s)) < args.chardrop, torch.ones_like(s), s) for s in sequences]
    ids, lengths = pad_batch(sequences)
    logits = model(ids, lengths)
    if args.multi == "pairs":
        return F.cross_entropy(logits, torch.cat([train[i][1] for i in rows]), label_smoothing=args.ls)
    log_p = F.log_softmax(logits, -1)
    right = torch.zeros_like(log_p, dtype=torch.bool)
    for row, i in enumerate(rows):
        right[row, train[i][1]] = True
    return -(log_p.masked_fill(~right, -1e9).logsumexp(-1)).mean()  # -log p(any of its languages)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    names, _, parts = load_split(NamesDataConfig())
    num_classes = len(names.languages)
    vocab = NameVocab.from_names([n for n, _ in parts["train"]])
    train = training_examples(names, parts, vocab, args.multi)
    model = VariantClassifier(args, len(vocab), num_classes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    weights = None
    if args.sampler > 0:
        first_label = torch.tensor([int(labels[0]) for _, labels in train])
        counts = torch.bincount(first_label, minlength=num_classes).double()
        weights = ((len(train) / (num_classes * counts)) ** args.sampler)[first_label]
    cycler = BatchCycler([len(ids) for ids, _ in train], args.bs, args.seed, weights)

    def figures(lp: Tensor, split: str) -> dict:
        report = score_split(lp, parts[split], names)
        return {
            "acc": report["accuracy"],
            "f1": report["macro_f1"],
            "nacc": report["by_name"]["accuracy"],
            "nf1": report["by_name"]["macro_f1"],
            "loss": report["loss"],
        }

    def rounded(result: dict) -> str:
        return json.dumps({k: round(v, 4) for k, v in result.items()})

    valid = [vocab.encode(n, warn=False) for n, _ in parts["valid"]]
    test = [vocab.encode(n, warn=False) for n, _ in parts["test"]]
    start, epoch, best = time.time(), 0, None
    for step in range(args.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(args, step)
        loss = batch_loss(args, model, train, cycler.next())
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if cycler.epoch != epoch or step == args.steps - 1:
            epoch = cycler.epoch
            valid_lp = log_probs(model, valid)
            result = figures(valid_lp, "valid")
            print(json.dumps(dict(step=step, t=round(time.time() - start), **json.loads(rounded(result)))), flush=True)
            if best is None or result["nacc"] + result["nf1"] > best[0]:
                best = (result["nacc"] + result["nf1"], step, valid_lp, log_probs(model, test))
    _, best_step, valid_lp, test_lp = best
    print(
        "BEST",
        best_step,
        "valid",
        rounded(figures(valid_lp, "valid")),
        "test",
        rounded(figures(test_lp, "test")),
        f"time {time.time() - start:.0f}s",
    )
    save_file(
        {"valid": valid_lp.contiguous(), "test": test_lp.contiguous()},
        args.out,
        metadata={"args": json.dumps(vars(args))},
    )


if __name__ == "__main__":
    main()
