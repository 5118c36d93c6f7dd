"""Language models in the engine: the stateful-BPTT objective, evaluation, a trained-LM base."""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Iterator, Optional

import torch
from torch import Tensor, nn

from rnnkit.data import BPTTStream, Window, eval_windows
from rnnkit.decode import generate
from rnnkit.decode.limits import MAX_GENERATED
from rnnkit.nn.state import detach_state, map_state, state_from_tensors, state_tensors
from rnnkit.objectives.supervised import evaluating
from rnnkit.train import distributed
from rnnkit.train.callbacks import LRScale
from rnnkit.train.meta import VOCAB
from rnnkit.train.params import Param
from rnnkit.train.ranges import sampling_params
from rnnkit.train.recipe import Command, Serving, TrainedModel


def window_loss(model: nn.Module, window: Window, state, reduction: str = "mean"):
    """Cross-entropy of one window (``model.loss``); returns (loss, final state detached)."""
    weight = next(model.parameters())
    device = weight.device
    if window.reset:
        state = None
    else:  # the parameters' device and dtype: autocast may hand back a bf16 state
        state = map_state(lambda s: s.to(device=device, dtype=weight.dtype), state)
    loss, state = model.loss(window.inputs.to(device), window.targets.to(device), state, reduction)
    return loss, detach_state(state)


@torch.no_grad()
def evaluate_lm(model: nn.Module, ids: Tensor, batch_size: int, seq_length: int) -> dict[str, float]:
    """Mean loss (nats/token) over ``ids`` (T,) read as continuous streams.

    Returns ``loss`` (nats per token), ``bits`` (bits per token), ``ppl`` and
    ``tokens`` (how many targets were scored).
    """
    if ids.numel() < 2:
        raise ValueError(f"need at least 2 tokens to evaluate, got {ids.numel()}")
    total, count, state = 0.0, 0, None
    with evaluating(model):
        for window in eval_windows(ids, batch_size, seq_length):
            loss, state = window_loss(model, window, state, reduction="sum")
            total += float(loss)
            count += window.targets.numel()
    mean = total / count
    return {"loss": mean, "bits": mean / math.log(2), "ppl": math.exp(min(mean, 700)), "tokens": count}


class LMObjective:
    """Truncated BPTT over a :class:`BPTTStream`, carrying the detached state.

    ``step`` continues from the state the previous window ended in (reset to
    zeros at the start of each pass); the state is detached, so gradients
    stop at the window boundary.

    On ``world`` processes (:meth:`shard`) rank r trains streams
    ``[r * N / world, (r + 1) * N / world)`` of the N = ``batch_size`` streams, so no
    token is seen twice in a pass; the saved state gathers every rank's carried state
    (all N streams), so a run resumes on any number of processes that divides N.
    """

    def __init__(
        self,
        train_ids: Tensor,
        val_ids: Tensor,
        batch_size: int,
        seq_length: int,
        variable_bptt: bool = False,
        seed: int = 0,
        metric_names=("loss", "bits"),
        eval_batch_size: int = 0,
        regularise: bool = False,
        unit: str = "tok",
    ) -> None:
        self.unit = unit  # what a token is (chars for a character model): the progress line's rate
        self.stream = BPTTStream(train_ids, batch_size, seq_length, variable_bptt, seed)
        self.val_ids, self.batch_size, self.seq_length = val_ids, batch_size, seq_length
        self.eval_batch_size = eval_batch_size or batch_size
        self.metrics = {name: "min" for name in metric_names}  # loss, bits, ppl: lower is better
        self.regularise = regularise
        self.state = None
        self.rows = slice(None)  # this rank's streams (all of them in a single process)
        # AWD-LSTM scales the rate by the window length under variable-length BPTT
        self.callbacks = (LRScale(),) if variable_bptt else ()

    @property
    def epoch(self) -> int:
        return self.stream.epoch

    def shard(self, rank: int, world: int) -> None:
        """Train only this rank's ``batch_size / world`` streams (the batch size is global)."""
        size = distributed.split_evenly(self.batch_size, world)
        self.rows = slice(rank * size, (rank + 1) * size)

    def next_batch(self) -> Window:
        window = self.stream.next_window()
        if self.rows == slice(None):
            return window
        return dataclasses.replace(window, inputs=window.inputs[self.rows], targets=window.targets[self.rows])

    def step(self, model: nn.Module, window: Window, info=None) -> tuple[Tensor, int]:
        loss, self.state = window_loss(model, window, self.state)
        if self.regularise:  # AR/TAR of the model's last forward (AWD-LSTM)
            loss = loss + model.regularisation()
        return loss, window.targets.numel()

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        result = evaluate_lm(model, self.val_ids, self.eval_batch_size, self.seq_length)
        return {k: result[k] for k in self.metrics}

    def state_dict(self) -> tuple[dict[str, Tensor], dict]:
        """The stream's position and the carried state of all N streams: each state tensor
        is (D*num_layers, N, H) (the torch layers' contract), gathered from every rank."""
        tensors, meta = self.stream.state_dict()
        tensors = {f"stream/{k}": v for k, v in tensors.items()}
        carried = state_tensors(self.state)
        if self.rows != slice(None):  # every rank is here: (D*layers, N/world, H) -> (D*layers, N, H)
            carried = {k: distributed.all_gather_cat(v, dim=-2) for k, v in carried.items()}
        tensors.update({f"state/{k}": v for k, v in carried.items()})
        return tensors, {"stream": meta}

    def load_state_dict(self, tensors: dict[str, Tensor], meta: dict) -> None:
        self.stream.load_state_dict({"generator": tensors["stream/generator"]}, meta["stream"])
        carried = {k[len("state/") :]: v for k, v in tensors.items() if k.startswith("state/")}
        if self.rows != slice(None):  # this rank's streams of the saved (D*layers, N, H) states
            carried = {k: v[..., self.rows, :] for k, v in carried.items()}
        self.state = state_from_tensors(carried)  # moved to the model's device in window_loss


class TrainedLM(TrainedModel):
    """A trained language model: the model, its vocabulary and the checkpoint metadata.

    Recipes subclass it, naming ``model_class``, ``vocab_class`` and
    ``config_defaults`` (the recipe's config sections).
    """

    model_class: type
    vocab_class: type
    meta_fields = {"vocab": VOCAB}

    @classmethod
    def build_model(cls, sections, meta: dict) -> torch.nn.Module:
        return cls.model_class(len(cls.vocab_class.from_json(meta["vocab"])), sections["model"])

    def __init__(self, model, sections, meta: dict, path=None) -> None:
        super().__init__(model, sections, meta, path)
        self.vocab = self.vocab_class.from_json(meta["vocab"])

    def generate_ids(
        self, prime: Tensor, length: int, temperature: float, top_k: int, top_p: float, seed: Optional[int]
    ) -> Iterator[int]:
        """``length`` sampled ids after ``prime`` (l,), one model step each, state carried."""
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        device = self.device

        def step(tokens, state):
            return self.model(tokens.to(device), state)

        with torch.no_grad():
            yield from generate(step, prime, length, None, temperature, top_k, top_p, generator)


def stream_text(pieces: Iterator[str], start: str = "") -> None:
    """Print ``start`` and the pieces as they come, then a newline.

    The first piece is drawn before anything is printed, so a bad prime fails
    with nothing on the screen.
    """
    first = next(pieces, "")
    out = sys.stdout
    out.write(start + first)
    for piece in pieces:
        out.write(piece)
        out.flush()
    out.write("\n")


def sample_command(
    help: str,
    length_flag: str,
    length: int,
    unit: str,
    prime: str,
    prime_help: str,
    skip_help: str,
    most: int,
    example: dict,
) -> Command:
    """``rnnkit sample RUN``: a trained LM's ``iter_sample`` streamed to stdout, and
    ``POST /sample`` under ``rnnkit serve`` (``{"prime", "text"}``; at most ``most`` units
    a request; ``example``: the request ``/commands`` shows).

    ``length_flag`` (e.g. ``--length``) takes how many ``unit`` to generate.
    """
    dest = length_flag.lstrip("-").replace("-", "_")
    sampling = sampling_params()
    options = tuple(p.name for p in sampling) + ("skip_unknown",)  # iter_sample's keywords

    def serve(lm, values) -> dict:
        return {"prime": values["prime"], "text": lm.sample(values["prime"], values[dest], **values.of(*options))}

    def run(lm, values) -> int:
        count = values[dest]
        if count < 0:
            raise ValueError(f"{length_flag}: expected >= 0, got {count}")
        stream_text(lm.iter_sample(values.prime, count, **values.of(*options)), start=values.prime)
        return 0

    return Command(
        "sample",
        help,
        (
            Param("prime", str, prime, prime_help, size=(None, 10_000)),
            Param(
                dest,
                int,
                length,
                f"{unit} to generate",
                low=0,
                high=MAX_GENERATED,
                http={"high": most},
                cli={"help": f"{unit} to generate (streamed; rnnkit serve: at most {most:,})"},
            ),
            *sampling,
            Param("skip_unknown", bool, False, skip_help),
        ),
        run,
        # not batched: each sample is its own seeded sequence of one-step calls
        serve=Serving(serve, example=example),
    )
