"""The charlm recipe end to end on a tiny fixture: train, resume, sample, eval, plot, errors."""

import json
import signal
from pathlib import Path

import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.objectives import lm as lm_task
from rnnkit.train import checkpoint as ckpt
from rnnkit.train.rundir import read_metrics

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tiny.txt"  # first 6,000 chars of Tiny Shakespeare


def tiny(run, *extra, steps=30):
    return [
        "train",
        "charlm",
        "--text",
        str(FIXTURE),
        "--run-dir",
        str(run),
        "--quiet",
        "--embedding-dim",
        "16",
        "--hidden-size",
        "32",
        "--num-layers",
        "1",
        "--dropout",
        "0.1",
        "--batch-size",
        "4",
        "--seq-length",
        "20",
        "--variable-bptt",
        "--max-steps",
        str(steps),
        "--eval-every",
        "10",
        "--log-every",
        "5",
        "--warmup-steps",
        "3",
        *extra,
    ]


def comparable(run):
    return [{k: v for k, v in r.items() if k not in ("tokens_per_s", "elapsed")} for r in read_metrics(run)]


def weights(run, name="last.safetensors"):
    return ckpt.load(Path(run) / name).section("model")


def test_train_sample_eval_plot_end_to_end(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny(run)) == 0
    assert {p.name for p in run.iterdir()} >= {
        "config.json",
        "metrics.jsonl",
        "best.safetensors",
        "last.safetensors",
        "curves.png",
    }
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "charlm" and config["model"]["hidden_size"] == 32
    val = [r for r in read_metrics(run) if r["split"] == "val"]
    assert [r["step"] for r in val] == [10, 20, 30] and val[-1]["loss"] < val[0]["loss"]
    capsys.readouterr()
    args = [
        "sample",
        str(run),
        "--prime",
        "First",
        "--length",
        "60",
        "--temperature",
        "0.8",
        "--top-k",
        "5",
        "--top-p",
        "0.9",
        "--seed",
        "1",
    ]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first and first.startswith("First") and len(first) == 5 + 60 + 1
    api = rnnkit.load(run).sample("First", length=60, temperature=0.8, top_k=5, top_p=0.9, seed=1)
    assert "First" + api + "\n" == first
    assert main(["eval", str(run / "best.safetensors"), "--text", str(FIXTURE)]) == 2
    assert f"{FIXTURE} contains 2 character(s) not in the model's vocabulary: 'P', 'q'" in capsys.readouterr().err
    assert main(["eval", str(run / "best.safetensors"), "--text", str(FIXTURE), "--json", "--skip-unknown"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["chars"] > 5000 and result["bpc"] == pytest.approx(result["loss"] / 0.693147, rel=1e-4)
    held_out = tmp_path / "val.txt"  # the last 10%: eval must reproduce the best validation loss
    held_out.write_text(FIXTURE.read_text()[int(len(FIXTURE.read_text()) * 0.9) :])
    assert main(["eval", str(run), "--text", str(held_out), "--json", "--skip-unknown"]) == 0
    best = min(r["loss"] for r in val)
    assert json.loads(capsys.readouterr().out)["loss"] == pytest.approx(best, rel=1e-6)
    assert main(["plot", str(run), "--out", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_same_seed_same_numbers_on_cpu(tmp_path):
    assert main(tiny(tmp_path / "a", steps=10)) == 0
    assert main(tiny(tmp_path / "b", steps=10)) == 0
    assert comparable(tmp_path / "a") == comparable(tmp_path / "b")


def test_interrupted_and_resumed_run_equals_uninterrupted_run(tmp_path, monkeypatch):
    assert main(tiny(tmp_path / "straight")) == 0
    original, calls = lm_task.LMObjective.step, [0]

    def step_then_ctrl_c(self, model, window, info=None):
        calls[0] += 1
        if calls[0] == 13:  # not on a log or eval boundary
            signal.raise_signal(signal.SIGINT)
        return original(self, model, window, info)

    monkeypatch.setattr(lm_task.LMObjective, "step", step_then_ctrl_c)
    assert main(tiny(tmp_path / "cut")) == 130
    assert ckpt.load(tmp_path / "cut" / "last.safetensors").meta["step"] == 13
    monkeypatch.setattr(lm_task.LMObjective, "step", original)
    assert main(["train", "charlm", "--resume", str(tmp_path / "cut"), "--quiet"]) == 0
    assert comparable(tmp_path / "cut") == comparable(tmp_path / "straight")
    a, b = weights(tmp_path / "cut"), weights(tmp_path / "straight")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_hidden_state_is_carried_and_detached():
    from rnnkit.data import CharVocab
    from rnnkit.families.lm import LMConfig, RNNLanguageModel

    text = FIXTURE.read_text()
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    torch.manual_seed(0)
    model = RNNLanguageModel(len(vocab), LMConfig(embedding_dim=8, hidden_size=16, num_layers=1))
    objective = lm_task.LMObjective(ids, ids[:200], batch_size=2, seq_length=10)
    first, second = objective.next_batch(), objective.next_batch()
    first_loss, _ = objective.step(model, first)
    first_loss.backward()  # frees the first window's graph
    carried = objective.state
    assert all(not s.requires_grad for s in carried)
    loss, count = objective.step(model, second)
    assert count == 20
    logits, _ = model(second.inputs, carried)  # the loss continues from the carried state
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, len(vocab)), second.targets.reshape(-1))
    torch.testing.assert_close(loss, expected)
    cold = torch.nn.functional.cross_entropy(
        model(second.inputs)[0].reshape(-1, len(vocab)), second.targets.reshape(-1)
    )
    assert not torch.allclose(loss, cold)
    # were the state not detached, this would try to go back through the freed first graph
    loss.backward()
    assert model.decoder.weight.grad is not None


def test_tiny_model_overfits_a_short_text(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text(FIXTURE.read_text()[:800])
    run = tmp_path / "run"
    args = [
        "train",
        "charlm",
        "--text",
        str(short),
        "--run-dir",
        str(run),
        "--quiet",
        "--val-fraction",
        "0.05",
        "--embedding-dim",
        "16",
        "--hidden-size",
        "128",
        "--num-layers",
        "1",
        "--dropout",
        "0",
        "--batch-size",
        "4",
        "--seq-length",
        "40",
        "--lr",
        "0.01",
        "--schedule",
        "constant",
        "--warmup-steps",
        "0",
        "--max-steps",
        "300",
        "--eval-every",
        "300",
        "--log-every",
        "20",
    ]
    assert main(args) == 0
    train = [r["loss"] for r in read_metrics(run) if r["split"] == "train"]
    chance = torch.tensor(float(len(set(short.read_text()[:760])))).log().item()
    assert train[0] > 0.8 * chance and train[-1] < 0.15 * chance, (train[0], train[-1], chance)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    original, calls = lm_task.LMObjective.step, [0]

    def poisoned(self, model, window, info=None):
        calls[0] += 1
        loss, count = original(self, model, window, info)
        return (loss * float("nan") if calls[0] == 14 else loss), count

    monkeypatch.setattr(lm_task.LMObjective, "step", poisoned)
    run = tmp_path / "run"
    assert main(tiny(run)) == 1
    out = capsys.readouterr().out
    assert "loss became nan at step 14" in out and "last good checkpoint is" in out and "(step 10)" in out
    assert ckpt.load(run / "last.safetensors").meta["step"] == 10


def test_existing_run_dir_other_task_and_bad_resume_are_refused(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny(run, steps=10)) == 0
    before = (run / "best.safetensors").read_bytes()
    assert main(tiny(run, steps=10)) == 2
    assert "already exists; pass --resume" in capsys.readouterr().err
    assert main(["train", "charlm", "--resume", str(run), "--hidden-size", "64"]) == 2
    assert "cannot combine it with --hidden-size" in capsys.readouterr().err
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(dict(config, task="wordlm")))
    assert main(["train", "charlm", "--resume", str(run)]) == 2
    assert "that run is of recipe 'wordlm'" in capsys.readouterr().err
    assert (run / "best.safetensors").read_bytes() == before
    other = tmp_path / "other.safetensors"
    state = ckpt.load(run / "best.safetensors")
    ckpt.save(other, state.tensors, dict(state.meta, task="no-such-task"))
    assert main(["sample", str(other)]) == 2
    assert "checkpoint of unknown recipe 'no-such-task'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "the file is empty"),
        (b"ROMEO:\nO, she doth teach the torches \xff to burn bright!", "not valid UTF-8 at byte offset 37"),
        (b"far too short", "the training part has 11 characters; batch_size=4 x seq_length=20 needs at least 81"),
    ],
)
def test_bad_training_text_is_named(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    args = tiny(tmp_path / "run")
    args[args.index("--text") + 1] = str(bad)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and message in err


def test_bad_prime_and_corrupt_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny(run, steps=10)) == 0
    capsys.readouterr()
    assert main(["sample", str(run), "--prime", "Ωmega§", "--length", "5"]) == 2
    captured = capsys.readouterr()
    assert "'§', 'Ω'" in captured.err and "--skip-unknown" in captured.err and captured.out == ""
    assert main(["sample", str(run), "--prime", "Ωmega§", "--length", "5", "--skip-unknown"]) == 0
    assert capsys.readouterr().out.startswith("Ωmega§")
    last = run / "last.safetensors"
    last.write_bytes(last.read_bytes()[:-300])  # a partial checkpoint, e.g. a copy cut short
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert main(["train", "charlm", "--resume", str(run), "--quiet"]) == 2
    assert "last.safetensors: not a readable checkpoint" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # nothing overwritten
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes((run / "best.safetensors").read_bytes()[:200])
    before = broken.read_bytes()
    assert main(["eval", str(broken), "--text", str(FIXTURE)]) == 2
    assert "broken.safetensors: not a readable checkpoint" in capsys.readouterr().err
    assert broken.read_bytes() == before


def test_default_preset_uses_the_bundled_corpus(tmp_path):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "charlm",
                "--run-dir",
                str(run),
                "--quiet",
                "--hidden-size",
                "16",
                "--num-layers",
                "1",
                "--max-steps",
                "2",
                "--eval-every",
                "2",
                "--batch-size",
                "128",
                "--seq-length",
                "8",
            ]
        )
        == 0
    )
    config = json.loads((run / "config.json").read_text())
    assert config["preset"] == "cpu-quick" and config["data"]["text"] == ""
    assert ckpt.load(run).meta["corpus"] == "bundled Tiny Shakespeare"


@pytest.mark.parametrize(
    "extra,reason",
    [
        (["--optimizer", "sgd", "--lr", "0.5", "--momentum", "0.9", "--schedule", "plateau"], "max_steps=30"),
        (
            [
                "--optimizer",
                "adamw",
                "--weight-decay",
                "0.1",
                "--max-epochs",
                "1",
                "--max-steps",
                "0",
                "--schedule",
                "constant",
            ],
            "max_epochs=1",
        ),
        (["--lr", "1e-12", "--schedule", "constant", "--patience", "1", "--eval-every", "5"], "early stop"),
        (["--max-minutes", "0.0001", "--schedule", "constant"], "time budget of 0.0001 min used"),
        (
            [
                "--eval-each-epoch",
                "--eval-every",
                "0",
                "--max-epochs",
                "2",
                "--max-steps",
                "0",
                "--schedule",
                "constant",
            ],
            "max_epochs=2",
        ),
    ],
)
def test_engine_options_and_stop_reasons(tmp_path, capsys, extra, reason):
    run = tmp_path / "run"
    assert main(tiny(run) + extra) == 0
    out = capsys.readouterr().out
    assert reason in out
    config = json.loads((run / "config.json").read_text())["train"]
    if "--optimizer" in extra:
        assert config["optimizer"] == extra[extra.index("--optimizer") + 1]
    if reason == "max_epochs=1":  # one pass over (5,400 - 1) // 4 = 1,349 columns, windows of ~20
        assert 40 < ckpt.load(run / "last.safetensors").meta["step"] < 120
    if "--patience" in extra:
        assert ckpt.load(run / "last.safetensors").meta["step"] == 10
    if "--eval-each-epoch" in extra:  # one evaluation at the end of each pass, none between
        val = [r for r in read_metrics(run) if r["split"] == "val"]
        assert [r["epoch"] for r in val] == [1, 2] and 40 < val[0]["step"] < 120 < val[1]["step"]


def test_resume_from_checkpoint_file_and_overwrite(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny(run, steps=10)) == 0
    assert main(["train", "charlm", "--resume", str(run / "last.safetensors"), "--max-steps", "20", "--quiet"]) == 0
    assert ckpt.load(run / "last.safetensors").meta["step"] == 20
    assert main(tiny(run, "--overwrite", steps=10)) == 0
    assert ckpt.load(run / "last.safetensors").meta["step"] == 10
    capsys.readouterr()
    assert main(tiny(run, "--overwrite", "--eval-every", "0")) == 2
    assert "eval_every: expected >= 1 (or 0 with eval_each_epoch), got 0" in capsys.readouterr().err
    assert ckpt.load(run / "last.safetensors").meta["step"] == 10  # a bad option deletes nothing
    assert main(tiny(run, "--overwrite", "--cell", "foo")) == 2  # caught when the model is built
    assert "cell: expected one of" in capsys.readouterr().err
    assert ckpt.load(run / "last.safetensors").meta["step"] == 10
    assert main(tiny(tmp_path / "new", "--dropout", "1.5")) == 2
    assert not (tmp_path / "new").exists()  # no empty run directory left behind
