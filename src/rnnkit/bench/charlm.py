"""``rnnkit bench charlm``: training throughput of rnnkit's charlm step vs a plain torch loop.

Both sides train the same model size on the same Tiny Shakespeare windows
with the same optimizer, clipping and carried state:

* rnnkit: :class:`rnnkit.train.Trainer` stepping the charlm objective
  (``RNNLanguageModel`` on ``rnnkit.nn.LSTM``);
* torch: a hand-written loop with ``torch.nn.Embedding``, ``torch.nn.LSTM``,
  ``torch.nn.Linear``, ``torch.optim.Adam`` and ``clip_grad_norm_``.

The two sides alternate step by step (the order flips every pair), after
warm-up steps, so slow drifts of a shared machine hit both alike. Each step
is timed alone; the report gives each side's median tokens/s, their ratio,
and the median of the per-pair ratios.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from typing import Callable, Optional

import torch
from torch import nn

from rnnkit.data import CharVocab, bundled_text
from rnnkit.families.lm import LMConfig, RNNLanguageModel
from rnnkit.files import atomic_write_text
from rnnkit.objectives.lm import LMObjective
from rnnkit.recipes.charlm import PRESETS, CharDataConfig, defaults
from rnnkit.train import config as cfg
from rnnkit.train.trainer import Trainer


class PlainLSTMLM(nn.Module):
    """The reference loop's model: torch.nn modules only."""

    def __init__(self, vocab: int, m: LMConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, m.embedding_dim)
        self.rnn = nn.LSTM(
            m.embedding_dim,
            m.hidden_size,
            m.num_layers,
            batch_first=True,
            dropout=m.dropout if m.num_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(m.dropout)
        self.decoder = nn.Linear(m.hidden_size, vocab)

    def forward(self, x, state):
        out, state = self.rnn(self.drop(self.embedding(x)), state)
        return self.decoder(self.drop(out)), state


def _plain_stepper(ids, vocab: int, data: CharDataConfig, m: LMConfig, lr: float, clip: float):
    model = PlainLSTMLM(vocab, m)
    opt = torch.optim.Adam(model.parameters(), lr)
    objective = LMObjective(ids, ids[:1000], data.batch_size, data.seq_length)  # windows only
    state = [None]

    def step() -> int:
        window = objective.next_batch()
        if window.reset:
            state[0] = None
        logits, new = model(window.inputs, state[0])
        state[0] = tuple(s.detach() for s in new)
        loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), window.targets.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return window.targets.numel()

    return step


def _rnnkit_stepper(ids, vocab: int, sections, folder: str):
    data, train = sections["data"], sections["train"]
    model = RNNLanguageModel(vocab, sections["model"])
    objective = LMObjective(ids, ids[:1000], data.batch_size, data.seq_length)
    trainer = Trainer(model, objective, train, folder, meta={}, progress=False)

    def step() -> int:
        _, count, _ = trainer.train_step()
        trainer.step += 1
        return count

    return step


def _time_step(step: Callable[[], int]) -> float:
    """Tokens per second of one step."""
    start = time.perf_counter()
    tokens = step()
    return tokens / (time.perf_counter() - start)


def run(
    preset: str = "cpu-quick",
    threads: int = 2,
    pairs: int = 40,
    warmup: int = 3,
    json_path: Optional[str] = None,
    out: Callable[[str], None] = print,
) -> dict:
    """Time ``pairs`` interleaved step pairs; print and return the summary."""
    if preset not in PRESETS:
        raise ValueError(f"--preset: expected one of {', '.join(PRESETS)}, got {preset!r}")
    torch.set_num_threads(threads)
    sections = cfg.apply(defaults(), PRESETS[preset])
    data, m, train = sections["data"], sections["model"], sections["train"]
    text = bundled_text()[:400_000]
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        sides = {
            "rnnkit": _rnnkit_stepper(ids, len(vocab), sections, folder),
            "torch": _plain_stepper(ids, len(vocab), data, m, train.lr, train.grad_clip),
        }
        for _ in range(warmup):
            for step in sides.values():
                step()
        rates: dict[str, list[float]] = {name: [] for name in sides}
        for index in range(pairs):
            order = list(sides) if index % 2 == 0 else list(reversed(sides))
            for name in order:
                rates[name].append(_time_step(sides[name]))
    median = {name: statistics.median(values) for name, values in rates.items()}
    ratio = median["rnnkit"] / median["torch"]
    paired = statistics.median(a / b for a, b in zip(rates["rnnkit"], rates["torch"]))
    out(
        f"charlm training step, preset {preset}: {m.num_layers}x{m.hidden_size} {m.cell.upper()}, "
        f"embedding {m.embedding_dim}, batch {data.batch_size}, seq {data.seq_length}, "
        f"{threads} threads, {pairs} interleaved step pairs after {warmup} warm-up pairs"
    )
    for name in sides:
        q = statistics.quantiles(rates[name], n=4)
        out(f"  {name:7s} median {median[name]:8,.0f} tokens/s   (quartiles {q[0]:,.0f} - {q[2]:,.0f})")
    out(
        f"  ratio of medians rnnkit/torch = {ratio:.3f}; median of per-pair ratios = {paired:.3f}"
        f"  (target >= 1.0: {'PASS' if ratio >= 1.0 else 'FAIL'})"
    )
    summary = {
        "preset": preset,
        "threads": threads,
        "pairs": pairs,
        "warmup": warmup,
        "tokens_per_s": rates,
        "median": median,
        "ratio": ratio,
        "paired_ratio": paired,
    }
    if json_path:
        atomic_write_text(json_path, json.dumps(summary, indent=2))
    return summary
