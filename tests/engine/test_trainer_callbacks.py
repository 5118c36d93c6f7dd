"""The trainer with a fake objective: callbacks fire in order, the objective sees the step,
a higher-is-better metric picks the best checkpoint, and early stopping follows it."""

import pytest
import torch
from torch import nn

from rnnkit.train import checkpoint as ckpt
from rnnkit.train.callbacks import Callback
from rnnkit.train.options import TrainConfig
from rnnkit.train.rundir import read_metrics
from rnnkit.train.trainer import Trainer


class FakeObjective:
    """Fits w to 1; validation reports a scripted 'score' per evaluation."""

    metrics = {"loss": "min", "score": "max"}

    def __init__(self, scores):
        self.scores, self.evaluations, self.infos, self.epoch = list(scores), 0, [], 0

    def next_batch(self):
        return torch.ones(4, 1)

    def step(self, model, batch, info):
        self.infos.append(info)
        return (model(batch) - 1).pow(2).mean(), len(batch)

    def evaluate(self, model):
        score = self.scores[self.evaluations]
        self.evaluations += 1
        return {"loss": 10.0 - self.evaluations, "score": score}

    def state_dict(self):
        return {}, {"evaluations": self.evaluations}

    def load_state_dict(self, tensors, meta):
        self.evaluations = meta["evaluations"]


class Recorder(Callback):
    name = "recorder"

    def __init__(self):
        self.events = []

    def on_batch(self, trainer, batch):
        self.events.append(("batch", trainer.step))

    def on_step_end(self, trainer, loss, count):
        self.events.append(("step", trainer.step))

    def evaluating(self, trainer):
        self.events.append(("evaluating", trainer.step, trainer.model.training))
        return super().evaluating(trainer)

    def on_evaluate(self, trainer, result, improved):
        self.events.append(("evaluate", trainer.step, improved))

    def on_save(self, trainer, name, path):
        self.events.append(("save", trainer.step, name))


def fit(tmp_path, scores, **options):
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    objective, recorder = FakeObjective(scores), Recorder()
    config = TrainConfig(
        **{
            "optimizer": "sgd",
            "lr": 0.1,
            "schedule": "constant",
            "eval_every": 1,
            "max_steps": len(scores),
            "log_every": 1,
            **options,
        }
    )
    trainer = Trainer(model, objective, config, tmp_path, meta={"task": "fake"}, progress=False, callbacks=(recorder,))
    return trainer.fit(), objective, recorder


def test_callbacks_fire_in_order_and_the_step_sees_where_the_run_stands(tmp_path):
    result, objective, recorder = fit(tmp_path, [0.1, 0.2], monitor="score", monitor_mode="max")
    assert result.status == "finished" and result.step == 2
    assert recorder.events == [
        ("batch", 0),
        ("step", 1),
        ("evaluating", 1, False),
        ("evaluate", 1, True),
        ("save", 1, ckpt.BEST),
        ("save", 1, ckpt.LAST),
        ("batch", 1),
        ("step", 2),
        ("evaluating", 2, False),
        ("evaluate", 2, True),
        ("save", 2, ckpt.BEST),
        ("save", 2, ckpt.LAST),
    ]
    assert [(i.step, i.progress, i.epoch) for i in objective.infos] == [(0, 0.0, 0), (1, 0.5, 0)]


def test_higher_is_better_metric_picks_the_best_checkpoint_and_stops_early(tmp_path):
    scores = [0.1, 0.5, 0.3, 0.2, 0.4, 0.9, 0.9]
    result, objective, recorder = fit(tmp_path, scores, monitor="score", monitor_mode="max", patience=3)
    # best at evaluation 2; three evaluations without improvement stop the run at step 5
    assert result.step == 5 and "early stop: no improvement in 3 evaluations" in result.message
    assert result.monitor == "score" and result.best == 0.5
    best = ckpt.load(tmp_path / ckpt.BEST)
    assert best.meta["step"] == 2 and best.meta["best"] == 0.5 and best.meta["monitor"] == "score"
    assert [e[2] for e in recorder.events if e[0] == "evaluate"] == [True, True, False, False, False]
    assert [r["score"] for r in read_metrics(tmp_path) if r["split"] == "val"] == scores[:5]


def test_lower_is_better_by_default_on_the_loss(tmp_path):
    # the fake loss falls at every evaluation: every one improves, whatever the score does
    result, _, _ = fit(tmp_path, [0.9, 0.1, 0.1])
    assert result.monitor == "loss" and result.best == pytest.approx(7.0)
    assert ckpt.load(tmp_path / ckpt.BEST).meta["step"] == 3


def test_auto_mode_takes_the_direction_the_objective_declares(tmp_path):
    result, _, recorder = fit(tmp_path, [0.1, 0.5, 0.3])  # monitor_mode auto: score is "max"
    assert result.monitor == "loss"
    (tmp_path / "score").mkdir()
    result, _, recorder = fit(tmp_path / "score", [0.1, 0.5, 0.3], monitor="score")
    assert result.best == 0.5 and ckpt.load(tmp_path / "score" / ckpt.BEST).meta["step"] == 2
    assert [e[2] for e in recorder.events if e[0] == "evaluate"] == [True, True, False]


def test_a_monitor_the_evaluation_does_not_report_is_named(tmp_path):
    with pytest.raises(ValueError, match="monitor: this recipe's evaluation reports loss, score, not 'accuracy'"):
        fit(tmp_path, [0.1], monitor="accuracy")


class TwoRates(nn.Module):
    """A model that declares its optimizer groups: ``fast`` at the schedule's rate, ``slow`` at 0.1 of it."""

    def __init__(self):
        super().__init__()
        self.fast, self.slow = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
        nn.init.zeros_(self.fast.weight), nn.init.zeros_(self.slow.weight)

    def optimizer_groups(self):
        return [
            {"params": list(self.fast.parameters()), "lr_factor": 1.0},
            {"params": list(self.slow.parameters()), "lr_factor": 0.1},
        ]

    def forward(self, x):
        return self.fast(x) + self.slow(x)


def test_a_model_declaring_optimizer_groups_gets_a_rate_per_group(tmp_path):
    """One SGD step from zero: each weight moves by its group's rate times the same gradient."""
    model = TwoRates()
    config = TrainConfig(optimizer="sgd", lr=0.1, schedule="constant", eval_every=1, max_steps=1, grad_clip=0.0)
    trainer = Trainer(model, FakeObjective([0.0]), config, tmp_path, meta={"task": "fake"}, progress=False)
    trainer.fit()
    assert [g["lr"] for g in trainer.optimizer.param_groups] == pytest.approx([0.1, 0.01])
    # d/dw (w_f + w_s - 1)^2 at 0 is -2 for both: w_f = 0.2, w_s = 0.02
    assert model.fast.weight.item() == pytest.approx(0.2) and model.slow.weight.item() == pytest.approx(0.02)
