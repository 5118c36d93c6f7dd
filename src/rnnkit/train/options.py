"""The training engine's options (``TrainConfig``), their checks, and the optimizer they make."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from rnnkit import bounds
from rnnkit.nn import choose

from . import final_report
from .config import bound, only_with
from .precision import PRECISIONS
from .schedule import ANNEALED, LRSchedule

OPTIMIZERS = ("adam", "adamw", "sgd", "ntasgd")
#: ranges of the engine's options: SGD language models use lr 20-40 (Merity et al., 2018: 30);
#: a billion steps, a million passes or evaluations, a year of minutes; 1024 threads
MAX_LR, MAX_RUN_STEPS, MAX_EPOCHS, MAX_MINUTES, MAX_THREADS = 1000.0, 10**9, 10**6, 525_600.0, 1024
MONITOR_MODES = ("auto", "min", "max")
#: options a resumed run cannot change: the optimizer state, the random streams and the best
#: value so far depend on them
FIXED_ON_RESUME = ("optimizer", "seed", "monitor", "monitor_mode")
#: --help texts of the engine's options (a recipe's own texts come first)
HELP = {
    "optimizer": "adam, adamw, sgd or ntasgd (SGD with NT-ASGD weight averaging)",
    "schedule": "constant, cosine, linear, plateau or step (after --warmup-steps), or onecycle (its own warm-up)",
    "monitor": "validation metric that picks the best checkpoint, the plateau schedule and "
    "early stopping (e.g. loss, accuracy)",
    "monitor_mode": "min: lower is better; max: higher is better; auto: as the recipe declares for the metric",
    "patience": "stop after this many evaluations without improvement (0 = never)",
    "max_minutes": "time budget of the training loop and its validations (0 = none); the final test "
    "report comes after it (see --final-report)",
    "final_report": final_report.HELP,
    "warmup_steps": "linear learning-rate warm-up over this many steps, cut to the first 10%% of the "
    "run when that is shorter (the run: --max-steps, or --max-minutes with "
    "--anneal-by-time; 0 = none)",
    "anneal_by_time": "cosine/linear schedules follow the time budget instead of max_steps",
    "eval_each_epoch": "also evaluate at the end of every pass over the training data",
    "device": "auto, cpu, cuda, cuda:N or mps",
    "threads": "CPU threads (0 = torch's count, fewer when other work holds CPUs: see docs/engine.md)",
    "flush_denormal": "treat floats below 1.2e-38 as zero on the CPU while training (gradients through "
    "long sequences otherwise run up to ~7x slower); --no-flush-denormal keeps IEEE arithmetic",
    "precision": "fp32; bf16 (autocast; on a CPU only with native bf16, else RNNKIT_FORCE_BF16=1); "
    "auto: bf16 on a CUDA GPU that supports it, else fp32",
}


@dataclass
class TrainConfig:
    """Options of the training engine (every recipe has them).

    ``monitor`` names the validation metric that decides the best checkpoint,
    the plateau schedule and early stopping; ``monitor_mode`` says whether
    lower (``min``, e.g. loss) or higher (``max``, e.g. accuracy) is better;
    ``auto`` takes the direction the objective declares for that metric.
    """

    optimizer: str = "adam"
    lr: float = field(default=2e-3, metadata=bound(0, MAX_LR, open_low=True))
    weight_decay: float = field(default=0.0, metadata=bound(0, 1))
    momentum: float = field(default=0.0, metadata={**bound(0, 1, open_high=True), **only_with("optimizer", "sgd")})
    grad_clip: float = field(default=1.0, metadata=bound(0, 1e6))
    schedule: str = "cosine"
    warmup_steps: int = field(default=0, metadata=bound(0, MAX_RUN_STEPS))
    final_lr_ratio: float = field(default=0.0, metadata={**bound(0, 1), **only_with("schedule", *ANNEALED)})
    plateau_factor: float = field(
        default=0.25, metadata={**bound(0, 1, open_low=True), **only_with("schedule", "plateau")}
    )
    step_decay: float = field(default=0.5, metadata={**bound(0, 1, open_low=True), **only_with("schedule", "step")})
    step_decay_epoch: int = field(default=0, metadata={**bound(0, MAX_EPOCHS), **only_with("schedule", "step")})
    nonmono: int = field(default=5, metadata={**bound(1, MAX_EPOCHS), **only_with("optimizer", "ntasgd")})
    max_steps: int = field(default=0, metadata=bound(0, MAX_RUN_STEPS))
    max_epochs: int = field(default=0, metadata=bound(0, MAX_EPOCHS))
    max_minutes: float = field(default=0.0, metadata=bound(0, MAX_MINUTES))
    anneal_by_time: bool = False
    eval_every: int = field(default=200, metadata=bound(0, MAX_RUN_STEPS))
    eval_each_epoch: bool = False
    monitor: str = "loss"
    monitor_mode: str = "auto"
    patience: int = field(default=0, metadata=bound(0, MAX_EPOCHS))
    log_every: int = field(default=50, metadata=bound(1, MAX_RUN_STEPS))
    seed: int = field(default=1, metadata=bounds.seed())
    device: str = "auto"
    threads: int = field(default=0, metadata=bound(0, MAX_THREADS))
    precision: str = "auto"
    flush_denormal: bool = True
    final_report: str = final_report.DEFAULT


def check_config(config: TrainConfig) -> None:
    """ValueError naming the option when a combination of training settings cannot work
    (and when ``RNNKIT_IMPL`` names no kernel: checked here, before any run directory)."""
    choose.forced()
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {config.optimizer!r}")
    if config.monitor_mode not in MONITOR_MODES:
        raise ValueError(f"monitor_mode: expected auto, min or max, got {config.monitor_mode!r}")
    if config.schedule in ANNEALED and not (config.max_steps or (config.anneal_by_time and config.max_minutes)):
        raise ValueError(
            f"schedule={config.schedule!r} needs max_steps (or max_minutes "
            "with anneal_by_time) to know where the run ends"
        )
    LRSchedule(config.schedule, config.lr)  # checks the name and lr > 0
    final_report.check(config.final_report)
    if config.precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}, got {config.precision!r}")
    if config.eval_every < (0 if config.eval_each_epoch else 1):
        raise ValueError(f"eval_every: expected >= 1 (or 0 with eval_each_epoch), got {config.eval_every}")
    for name in (
        "max_steps",
        "max_epochs",
        "max_minutes",
        "patience",
        "warmup_steps",
        "grad_clip",
        "weight_decay",
        "momentum",
        "step_decay_epoch",
    ):
        if getattr(config, name) < 0:
            raise ValueError(f"{name}: expected >= 0, got {getattr(config, name)}")
    if not math.isfinite(config.lr) or not math.isfinite(config.grad_clip):
        raise ValueError("lr and grad_clip: expected finite numbers")


def check_resume_changes(saved: TrainConfig, changed: dict) -> None:
    """ValueError, before anything is written, for a change a resumed run cannot apply."""
    for key in FIXED_ON_RESUME:
        if key in changed and changed[key] != getattr(saved, key):
            raise ValueError(
                f"--{key.replace('_', '-')}: the run was trained with {key} "
                f"{getattr(saved, key)!r}; a resumed run keeps it (start a new run "
                f"to use {changed[key]!r})"
            )


def optimizer_groups(model: torch.nn.Module):
    """What the optimizer updates: the groups ``model.optimizer_groups()`` declares, where it does
    (dicts of ``params`` and an ``lr_factor``: the group's rate as a multiple of the schedule's, as
    for discriminative learning rates), else all the model's parameters at the schedule's rate."""
    groups = getattr(model, "optimizer_groups", None)
    return groups() if callable(groups) else model.parameters()


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer named in ``config``, with torch's fused kernel where it has one.

    The fused update is one kernel per parameter instead of about ten: on the
    cpu-quick model it takes 1.3 ms per step instead of 11 ms (2 CPU threads).
    """
    params = list(params)
    kinds = {
        "adam": (torch.optim.Adam, {}),
        "adamw": (torch.optim.AdamW, {}),
        "sgd": (torch.optim.SGD, {"momentum": config.momentum}),
        "ntasgd": (torch.optim.SGD, {}),
    }  # plain SGD; the averaging is a callback's
    if config.optimizer not in kinds:
        raise ValueError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {config.optimizer!r}")
    kind, extra = kinds[config.optimizer]
    try:
        return kind(params, config.lr, weight_decay=config.weight_decay, fused=True, **extra)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device/dtype/torch
        return kind(params, config.lr, weight_decay=config.weight_decay, **extra)


def apply_hyperparameters(optimizer: torch.optim.Optimizer, config: TrainConfig) -> None:
    """Set the config's weight decay (and SGD momentum) on every parameter group.

    Restoring an optimizer's state brings back the settings it was saved with;
    this applies the ones a resumed run was given.
    """
    for group in optimizer.param_groups:
        group["weight_decay"] = config.weight_decay
        if config.optimizer == "sgd":
            group["momentum"] = config.momentum
