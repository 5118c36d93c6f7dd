"""An objective that takes its own step with two optimizers (a toy GAN: a critic stepped
by SGD with momentum, a generator by Adam): the engine schedules both, clips, checkpoints
each one's state and resumes exactly; bad declarations are named."""

import math
import signal

import pytest
import torch
from torch import nn

from rnnkit.train import checkpoint as ckpt
from rnnkit.train.callbacks import Callback
from rnnkit.train.options import TrainConfig
from rnnkit.train.rundir import read_metrics
from rnnkit.train.trainer import Trainer

STEPS, CUT = 12, 5


class Pair(nn.Module):
    """A generator (noise -> point) and a critic (point -> score)."""

    def __init__(self):
        super().__init__()
        self.generator = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2))
        self.critic = nn.Linear(2, 1)


class TwoPlayers:
    """WGAN-like: the critic scores real points (around (3, 3)) over generated ones, then
    the generator moves its points towards what the critic likes. Batches and noise come
    from torch's random stream, so a resumed run needs it back."""

    metrics = {"loss": "min"}

    def __init__(self, critic_lr_ratio=0.5, nan_at=None):
        self.epoch, self.batches = 0, 0
        self.critic_lr_ratio, self.nan_at = critic_lr_ratio, nan_at

    def optimizers(self, model, config):
        return {
            "generator": torch.optim.Adam(model.generator.parameters(), lr=config.lr),
            "critic": torch.optim.SGD(model.critic.parameters(), lr=config.lr * self.critic_lr_ratio, momentum=0.9),
        }

    def next_batch(self):
        self.batches += 1
        return torch.randn(8, 2) + 3

    def train_step(self, model, batch, info, control):
        fake = model.generator(torch.randn_like(batch))
        critic_loss = model.critic(fake.detach()).mean() - model.critic(batch).mean()
        control.update("critic", critic_loss)
        generator_loss = -model.critic(fake).mean()
        if info.step == self.nan_at:
            generator_loss = generator_loss * math.nan
        control.update("generator", generator_loss)
        return generator_loss, len(batch)

    def evaluate(self, model):
        points = model.generator(torch.zeros(4, 2))
        return {"loss": float((points - 3).pow(2).mean())}

    def state_dict(self):
        return {}, {"batches": self.batches}

    def load_state_dict(self, tensors, meta):
        self.batches = meta["batches"]


class CtrlC(Callback):
    """Presses Ctrl-C after step ``at``."""

    name = "ctrl_c"

    def __init__(self, at):
        self.at = at

    def on_step_end(self, trainer, loss, count):
        if trainer.step == self.at:
            signal.raise_signal(signal.SIGINT)


def trainer(run_dir, objective=None, callbacks=(), **options):
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    config = TrainConfig(
        **{
            "optimizer": "adam",
            "lr": 0.02,
            "schedule": "cosine",
            "warmup_steps": 3,
            "max_steps": STEPS,
            "eval_every": 4,
            "log_every": 1,
            "grad_clip": 0.05,
            **options,
        }
    )
    return Trainer(
        Pair(),
        objective or TwoPlayers(),
        config,
        run_dir,
        meta={"task": "toy-gan"},
        progress=False,
        callbacks=callbacks,
    )


def optimizer_tensors(run):
    return {
        f"{name}/{pid}/{key}": value
        for name, optimizer in run.own.optimizers.items()
        for pid, entries in optimizer.state_dict()["state"].items()
        for key, value in entries.items()
    }


def assert_equal_tensors(first: dict, second: dict):
    assert sorted(first) == sorted(second)
    different = [k for k in first if not torch.equal(first[k], second[k])]
    assert not different, different


def test_an_interrupted_and_resumed_run_equals_an_uninterrupted_one(tmp_path):
    straight = trainer(tmp_path / "straight")
    assert straight.fit().status == "finished"

    cut = trainer(tmp_path / "cut", callbacks=(CtrlC(CUT),))
    result = cut.fit()
    assert result.status == "interrupted" and result.step == CUT
    state = ckpt.load(tmp_path / "cut" / ckpt.LAST)
    assert state.meta["step"] == CUT

    resumed = trainer(tmp_path / "cut")  # fresh weights (another seed would do): restore replaces them
    with torch.no_grad():
        for param in resumed.model.parameters():
            param.add_(1.0)
    resumed.restore(state)
    assert resumed.fit().status == "finished"

    assert_equal_tensors(resumed.model.state_dict(), straight.model.state_dict())
    moments = optimizer_tensors(straight)
    assert {k.split("/")[-1] for k in moments} == {"step", "exp_avg", "exp_avg_sq", "momentum_buffer"}
    assert_equal_tensors(optimizer_tensors(resumed), moments)
    last, reference = ckpt.load(tmp_path / "cut" / ckpt.LAST), ckpt.load(tmp_path / "straight" / ckpt.LAST)
    assert_equal_tensors(last.tensors, reference.tensors)
    for key in ("step", "best", "window", "optimizers", "objective", "schedule"):
        assert last.meta[key] == reference.meta[key], key


def test_each_optimizer_has_its_own_checkpoint_section(tmp_path):
    run = trainer(tmp_path, max_steps=2, eval_every=2)
    run.fit()
    assert run.optimizer is None
    state = ckpt.load(tmp_path / ckpt.LAST)
    sections = {name.split("/")[0] for name in state.tensors}
    assert sections == {"model", "optim.generator", "optim.critic", "rng"}
    assert "optimizer" not in state.meta and sorted(state.meta["optimizers"]) == ["critic", "generator"]
    assert state.meta["optimizers"]["critic"]["param_groups"][0]["momentum"] == 0.9
    assert set(state.section("optim.critic")) == {"0/momentum_buffer", "1/momentum_buffer"}


def test_the_schedule_scales_every_declared_optimizer(tmp_path):
    seen = []

    class Rates(Callback):
        name = "rates"

        def on_batch(self, run, batch):
            scheduled = run.schedule(run.step, run.progress_fraction(), run.objective.epoch)
            rates = {name: o.param_groups[0]["lr"] for name, o in run.own.optimizers.items()}
            seen.append((scheduled, rates))

    trainer(tmp_path, callbacks=(Rates(),)).fit()
    assert len(seen) == STEPS and len({s for s, _ in seen}) > 5  # warm-up, then cosine decay
    for scheduled, rates in seen:
        assert rates == {"generator": scheduled, "critic": scheduled * 0.5}
    logged = [r["lr"] for r in read_metrics(tmp_path) if r["split"] == "train"]
    assert logged == [s for s, _ in seen]  # the first declared optimizer's


def test_updates_are_clipped_to_grad_clip(tmp_path, monkeypatch):
    norms = []
    original = torch.nn.utils.clip_grad_norm_

    def spy(params, clip):
        params = list(params)
        norm = original(params, clip)
        norms.append(float(torch.cat([p.grad.flatten() for p in params]).norm()))
        return norm

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    trainer(tmp_path, max_steps=1, grad_clip=1e-3).train_step()
    assert len(norms) == 2 and all(n == pytest.approx(1e-3, rel=1e-3) for n in norms)


def test_a_non_finite_loss_stops_the_run_without_the_update(tmp_path):
    kept = {}

    class Keep(Callback):
        name = "keep"

        def on_step_end(self, run, loss, count):
            kept.update({k: v.clone() for k, v in run.model.generator.state_dict().items()})

    run = trainer(tmp_path, objective=TwoPlayers(nan_at=2), callbacks=(Keep(),))
    result = run.fit()
    assert result.status == "diverged" and result.step == 2
    assert "loss became nan at step 3" in result.message
    assert_equal_tensors(run.model.generator.state_dict(), kept)  # the generator's update was skipped


def test_resuming_needs_the_same_optimizer_names(tmp_path):
    trainer(tmp_path / "run", max_steps=2, eval_every=2).fit()
    state = ckpt.load(tmp_path / "run" / ckpt.LAST)

    class Renamed(TwoPlayers):
        def optimizers(self, model, config):
            found = super().optimizers(model, config)
            return {"gen": found["generator"], "critic": found["critic"]}

    other = trainer(tmp_path / "other", objective=Renamed())
    with pytest.raises(
        ckpt.CheckpointError, match="it holds the optimizers 'generator', 'critic'; this run declares 'gen', 'critic'"
    ):
        other.restore(state)

    class Plain:
        metrics, epoch = {"loss": "min"}, 0

        def step(self, model, batch, info):
            return model.critic(batch).mean(), len(batch)

    with pytest.raises(
        ckpt.CheckpointError,
        match=r"its objective declared its own optimizers "
        r"\(generator, critic\); this run's does not",
    ):
        trainer(tmp_path / "plain", objective=Plain()).restore(state)


def test_the_resumed_runs_declaration_gives_the_hyperparameters(tmp_path):
    trainer(tmp_path / "run", max_steps=2, eval_every=2).fit()
    state = ckpt.load(tmp_path / "run" / ckpt.LAST)

    class LessMomentum(TwoPlayers):
        def optimizers(self, model, config):
            found = super().optimizers(model, config)
            found["critic"].param_groups[0]["momentum"] = 0.5
            return found

    resumed = trainer(tmp_path / "run", objective=LessMomentum())
    resumed.restore(state)
    critic = resumed.own.optimizers["critic"]
    assert critic.param_groups[0]["momentum"] == 0.5
    assert critic.param_groups[0]["lr"] == state.meta["optimizers"]["critic"]["param_groups"][0]["lr"]
    assert torch.equal(
        critic.state[resumed.model.critic.weight]["momentum_buffer"], state.tensors["optim.critic/0/momentum_buffer"]
    )


class Declaring(TwoPlayers):
    def __init__(self, declare):
        super().__init__()
        self.declare = declare

    def optimizers(self, model, config):
        return self.declare(model)


@pytest.mark.parametrize(
    "declare, message",
    [
        (lambda m: {}, r"Declaring.optimizers\(\): expected a non-empty dict"),
        (lambda m: [torch.optim.SGD(m.parameters(), 0.1)], "expected a non-empty dict"),
        (
            lambda m: {
                "all": torch.optim.SGD(m.parameters(), 0.1),
                "critic": torch.optim.SGD(m.critic.parameters(), 0.1),
            },
            "parameter 'critic.weight' is in optimizers 'all' and 'critic'; give each parameter to one",
        ),
        (
            lambda m: {"extra": torch.optim.SGD([nn.Parameter(torch.zeros(1))], 0.1)},
            "optimizer 'extra' holds a parameter that is not the model's",
        ),
        (lambda m: {"a/b": torch.optim.SGD(m.parameters(), 0.1)}, "optimizer name 'a/b': expected letters"),
        (lambda m: {"x": m.critic}, "'x' is a Linear, not a torch.optim.Optimizer"),
    ],
)
def test_a_bad_declaration_is_named(tmp_path, declare, message):
    with pytest.raises(ValueError, match=message):
        trainer(tmp_path, objective=Declaring(declare))


def test_an_own_step_needs_both_methods_and_known_names(tmp_path):
    class StepOnly:
        metrics = {"loss": "min"}

        def train_step(self, model, batch, info, control):
            raise AssertionError

    with pytest.raises(ValueError, match="StepOnly takes its own step but has no optimizers"):
        trainer(tmp_path, objective=StepOnly())

    class Misnamed(TwoPlayers):
        def train_step(self, model, batch, info, control):
            control.update("discriminator", model.critic(batch).mean())

    with pytest.raises(ValueError, match="no optimizer 'discriminator'; the objective declared 'generator', 'critic'"):
        trainer(tmp_path, objective=Misnamed()).train_step()
