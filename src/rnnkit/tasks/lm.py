"""What every language-model recipe shares: the stateful-BPTT objective and evaluation."""
from __future__ import annotations

import math
from typing import Iterator, Optional

import torch
from torch import Tensor

from rnnkit.data import BPTTStream, Window, eval_windows
from rnnkit.decode import generate
from rnnkit.train import config as cfg
from rnnkit.train.checkpoint import Checkpoint
from rnnkit.models.lm import (RNNLanguageModel, detach_state, map_state, state_from_tensors,
                              state_tensors)


def window_loss(model: RNNLanguageModel, window: Window, state, reduction: str = "mean"):
    """Cross-entropy of one window (``model.loss``); returns (loss, final state detached)."""
    weight = next(model.parameters())
    device = weight.device
    if window.reset:
        state = None
    else:  # the parameters' device and dtype: autocast may hand back a bf16 state
        state = map_state(state, lambda s: s.to(device=device, dtype=weight.dtype))
    loss, state = model.loss(window.inputs.to(device), window.targets.to(device), state, reduction)
    return loss, detach_state(state)


@torch.no_grad()
def evaluate_lm(model: RNNLanguageModel, ids: Tensor, batch_size: int, seq_length: int) -> dict[str, float]:
    """Mean loss (nats/token) over ``ids`` (T,) read as continuous streams.

    Returns ``loss`` (nats per token), ``bits`` (bits per token), ``ppl`` and
    ``tokens`` (how many targets were scored).
    """
    if ids.numel() < 2:
        raise ValueError(f"need at least 2 tokens to evaluate, got {ids.numel()}")
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    for window in eval_windows(ids, batch_size, seq_length):
        loss, state = window_loss(model, window, state, reduction="sum")
        total += float(loss)
        count += window.targets.numel()
    model.train(was_training)
    mean = total / count
    return {"loss": mean, "bits": mean / math.log(2), "ppl": math.exp(min(mean, 700)),
            "tokens": count}


class LMObjective:
    """Truncated BPTT over a :class:`BPTTStream`, carrying the detached state.

    ``step`` continues from the state the previous window ended in (reset to
    zeros at the start of each pass); the state is detached, so gradients
    stop at the window boundary.
    """

    def __init__(self, train_ids: Tensor, val_ids: Tensor, batch_size: int, seq_length: int,
                 variable_bptt: bool = False, seed: int = 0, metric_names=("loss", "bits"),
                 eval_batch_size: int = 0, regularise: bool = False) -> None:
        self.stream = BPTTStream(train_ids, batch_size, seq_length, variable_bptt, seed)
        self.val_ids, self.batch_size, self.seq_length = val_ids, batch_size, seq_length
        self.eval_batch_size = eval_batch_size or batch_size
        self.metric_names, self.regularise = metric_names, regularise
        self.state = None

    @property
    def epoch(self) -> int:
        return self.stream.epoch

    def next_batch(self) -> Window:
        return self.stream.next_window()

    def step(self, model: RNNLanguageModel, window: Window) -> tuple[Tensor, int]:
        loss, self.state = window_loss(model, window, self.state)
        if self.regularise:  # AR/TAR of the model's last forward (AWD-LSTM)
            loss = loss + model.regularisation()
        return loss, window.targets.numel()

    def evaluate(self, model: RNNLanguageModel) -> dict[str, float]:
        result = evaluate_lm(model, self.val_ids, self.eval_batch_size, self.seq_length)
        return {k: result[k] for k in self.metric_names}

    def state_dict(self) -> tuple[dict[str, Tensor], dict]:
        tensors, meta = self.stream.state_dict()
        tensors = {f"stream/{k}": v for k, v in tensors.items()}
        tensors.update({f"state/{k}": v for k, v in state_tensors(self.state).items()})
        return tensors, {"stream": meta}

    def load_state_dict(self, tensors: dict[str, Tensor], meta: dict) -> None:
        self.stream.load_state_dict({"generator": tensors["stream/generator"]}, meta["stream"])
        carried = {k[len("state/"):]: v for k, v in tensors.items() if k.startswith("state/")}
        self.state = state_from_tensors(carried)  # moved to the model's device in window_loss


def load_model_weights(model: torch.nn.Module, state: Checkpoint) -> None:
    """The checkpoint's weights; NT-ASGD's averaged ones once averaging started."""
    model.load_state_dict(state.section("model"))
    averager = state.meta.get("averager")
    if averager and averager.get("trigger_step", -1) >= 0:
        model.load_state_dict(state.section("avg"), strict=False)


class TrainedLM:
    """A trained language model: the model, its vocabulary and the checkpoint metadata.

    Recipes subclass it, naming ``model_class``, ``vocab_class`` and
    ``config_defaults`` (the recipe's config sections).
    """
    model_class: type
    vocab_class: type

    @staticmethod
    def config_defaults() -> dict:
        raise NotImplementedError

    def __init__(self, model: torch.nn.Module, vocab, meta: dict) -> None:
        self.model, self.vocab, self.meta = model.eval(), vocab, meta

    @classmethod
    def from_checkpoint(cls, state: Checkpoint, device: str = "cpu"):
        sections = cfg.from_dict(cls.config_defaults(), state.meta["config"])
        vocab = cls.vocab_class.from_json(state.meta["vocab"])
        model = cls.model_class(len(vocab), sections["model"])
        load_model_weights(model, state)
        return cls(model.to(device), vocab, state.meta)

    def generate_ids(self, prime: Tensor, length: int, temperature: float, top_k: int,
                     top_p: float, seed: Optional[int]) -> Iterator[int]:
        """``length`` sampled ids after ``prime`` (l,), one model step each, state carried."""
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        device = next(self.model.parameters()).device

        def step(tokens, state):
            return self.model(tokens.to(device), state)

        with torch.no_grad():
            yield from generate(step, prime, length, None, temperature, top_k, top_p, generator)
