"""Data-parallel training over several processes (``torchrun``), on PyTorch's own engine.

Under ``torchrun --nproc_per_node N -m rnnkit train ...`` every process (rank) builds the
same model and the same data, draws the same *global* batch and keeps its own slice of it
(``objective.shard(rank, world)``); gradients are averaged by
:class:`torch.nn.parallel.DistributedDataParallel` (gloo on CPU, NCCL on CUDA). The
global batch is what ``--batch-size`` says, so a run with N processes takes the same
steps as one process, and its losses and weights agree within float tolerance.

Only rank 0 (:func:`is_writer`) writes the run directory and shows progress; validation
runs on rank 0 and its result is broadcast. A plain process (no ``WORLD_SIZE`` > 1 in
the environment) never creates a process group: every helper here is then a no-op.

Gradient of a rank's slice: ``objective.step`` returns the slice's mean loss over
``count`` targets. :class:`DataParallel` all-reduces the counts and scales rank r's loss
by ``world * weight_r / sum(weight)`` (weight: ``objective.loss_weight(batch, count)``
when the objective defines it, else ``count``), so DDP's average of the ranks' gradients
is the gradient of the global batch's mean.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import random
from typing import Any, Iterator, Optional

import torch
import torch.distributed as dist
from torch import Tensor, nn

#: how long a rank waits for the others in a collective (rank 0's validation included)
TIMEOUT = datetime.timedelta(hours=2)


# ---- where this process stands ----------------------------------------------
def launched() -> bool:
    """Whether ``torchrun`` (or any launcher setting ``WORLD_SIZE`` > 1) started this process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    """Whether this process is one of several in an initialised process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def local_rank() -> int:
    """This process's index on its machine (``LOCAL_RANK``; 0 for a plain process)."""
    return int(os.environ.get("LOCAL_RANK", "0")) if launched() else 0


def is_writer() -> bool:
    """Whether this process writes the run directory and shows progress (rank 0)."""
    return rank() == 0


def backend(device: torch.device) -> str:
    """``nccl`` for CUDA, ``gloo`` otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"


def rank_device(device: torch.device) -> torch.device:
    """Under torchrun, plain ``cuda`` means this process's GPU ``cuda:LOCAL_RANK``."""
    if launched() and device.type == "cuda" and device.index is None:
        return torch.device("cuda", local_rank())
    return device


@contextlib.contextmanager
def session(device: torch.device) -> Iterator[bool]:
    """Join the process group the launcher describes (once) and leave it at the end;
    yields whether it joined one.

    A plain process, or one whose group already exists (the caller made it), is left as
    it is.
    """
    start = launched() and not dist.is_initialized()
    if start:
        device = rank_device(device)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend(device), timeout=TIMEOUT)
    try:
        yield start
    finally:
        if start and dist.is_initialized():
            dist.destroy_process_group()


# ---- collectives (no-ops in a plain process) --------------------------------
def _comm_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(values: list[float]) -> list[float]:
    """Element-wise sums of ``values`` over the ranks (float64)."""
    if not active():
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=_comm_device())
    dist.all_reduce(tensor)
    return tensor.tolist()


def broadcast_object(value: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``value`` (anything picklable), on every rank."""
    if not active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=src, device=_comm_device() if dist.get_backend() == "nccl" else None)
    return box[0]


def barrier() -> None:
    if active():
        dist.barrier()


def all_gather_cat(tensor: Tensor, dim: int) -> Tensor:
    """The ranks' ``tensor`` concatenated along ``dim``, rank 0 first (equal shapes)."""
    if not active():
        return tensor
    local = tensor.detach().to(_comm_device()).contiguous()
    parts = [torch.empty_like(local) for _ in range(world_size())]
    dist.all_gather(parts, local)
    return torch.cat(parts, dim).to(tensor.device)


# ---- sharding -----------------------------------------------------------------
def shard_range(n: int, rank: int, world: int) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s contiguous share of ``n`` items; shares differ
    by at most one item, the first ``n % world`` ranks holding the larger ones."""
    size, extra = divmod(n, world)
    start = rank * size + min(rank, extra)
    return start, start + size + (1 if rank < extra else 0)


def split_evenly(global_batch: int, world: int, flag: str = "--batch-size") -> int:
    """The per-rank batch ``global_batch / world``; a one-line error unless it divides."""
    if global_batch % world:
        raise ValueError(
            f"{flag} {global_batch} is the global batch and must be divisible by the "
            f"world size {world} (the number of processes)"
        )
    return global_batch // world


def shard(objective: Any) -> None:
    """Give ``objective`` this rank's share of the data (``objective.shard(rank, world)``)."""
    if not active():
        return
    if not hasattr(objective, "shard"):
        raise ValueError(
            f"{type(objective).__name__} cannot train on several processes: it has no shard(rank, world) method"
        )
    objective.shard(rank(), world_size())


def reseed(seed: int, step: int) -> None:
    """Ranks above 0 draw dropout (and any other global randomness) from their own seed,
    made from (seed, rank, step); rank 0 keeps the stream a single process would have."""
    if active() and rank() > 0:
        mixed = (seed * 1_000_003 + rank() * 7_919 + step) % (2**63 - 1)
        random.seed(mixed)
        torch.manual_seed(mixed)


# ---- the step -----------------------------------------------------------------
class _Step(nn.Module):
    """``objective.step`` as a module, so :class:`DistributedDataParallel` sees the whole
    step (objectives call model methods other than ``forward``, e.g. ``model.loss``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.pending: Optional[tuple] = None  # (objective, batch, info) of the next forward

    def forward(self) -> Tensor:
        objective, batch, info = self.pending
        self.pending = None
        if batch is None:  # this rank's slice of the global batch is empty: a zero gradient
            loss = sum(p.sum() for p in self.model.parameters()) * 0.0
            return loss, 0
        return objective.step(self.model, batch, info)


class DataParallel:
    """The trainer's step on several processes.

    Wraps ``model`` (all ranks hold the same weights: DDP broadcasts rank 0's when it is
    made) in :class:`DistributedDataParallel`. ``device_ids`` stays None, so DDP never
    moves a batch: objectives move their own tensors (lengths stay on the CPU).
    ``find_unused_parameters``: some models leave parameters out of a step (a head or a
    bridge not used); their gradients stay None as in a single process.
    """

    def __init__(self, model: nn.Module) -> None:
        self.step_module = _Step(model)
        self.ddp = nn.parallel.DistributedDataParallel(self.step_module, find_unused_parameters=True)
        self.world = world_size()

    def step(self, objective: Any, batch: Any, info: Any) -> tuple[Tensor, float, int]:
        """(local loss scaled for DDP's average, global mean loss, global target count)."""
        self.step_module.pending = (objective, batch, info)
        loss, count = self.ddp()
        weight = (
            float(objective.loss_weight(batch, count))
            if batch is not None and hasattr(objective, "loss_weight")
            else float(count)
        )
        value = float(loss.detach()) if weight else 0.0
        total_count, total_weight, weighted = all_reduce_sum([count, weight, weight * value])
        scale = self.world * weight / total_weight if total_weight else 0.0
        return loss * scale, weighted / total_weight if total_weight else 0.0, int(total_count)

    def agree(self, elapsed: float, stop: bool) -> tuple[float, bool]:
        """Rank 0's elapsed time and whether any rank asked to stop (Ctrl-C), on every rank,
        so budgets, schedules and stops match."""
        first, stops = all_reduce_sum([elapsed if is_writer() else 0.0, float(stop)])
        return first, stops > 0
