"""Image classifier (``rnnkit train cnn``): it learns the MNIST fixture, augmentation reaches training
batches only, a folder of photos trains and predicts, Grad-CAM writes its PNG, and bad input is
refused in one line."""

from pathlib import Path

import pytest
import torch
from helpers import photo_folder

from rnnkit.cli import main
from rnnkit.data.augment import Augment
from rnnkit.families.vision.inputs import to_channels
from rnnkit.objectives import images as image_objective
from rnnkit.recipes import load
from rnnkit.recipes.cnn.data import channel_stats, normalise

FIXTURES = Path(__file__).parents[1] / "fixtures"
SMALL = [
    "--dataset",
    "mnist",
    "--data-dir",
    str(FIXTURES),
    "--width",
    "8",
    "--hidden",
    "32",
    "--dropout",
    "0",
    "--batch-size",
    "20",
    "--valid-size",
    "20",
    "--max-minutes",
    "0",
    "--warmup-steps",
    "0",
    "--threads",
    "1",
    "--quiet",
    "--no-flip",
]


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cnn") / "run"
    code = main(["train", "cnn", *SMALL, "--max-steps", "60", "--lr", "0.05", "--run-dir", str(run)])
    assert code == 0
    return run


def test_it_learns_the_fixture(mnist_run):
    """100 training digits, 60 steps: far above chance (10%) on the 20 held-out ones."""
    result = load(mnist_run).evaluate(split="valid")
    assert result["accuracy"] >= 0.5, result["accuracy"]
    assert result["examples"] == 20


def test_eval_writes_confusion_and_the_most_confident_mistakes(mnist_run, capsys):
    assert main(["eval", str(mnist_run), "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("test: accuracy ")
    assert (mnist_run / "confusion_test.png").stat().st_size > 0
    assert (mnist_run / "mistakes_test.png").stat().st_size > 0
    mistakes = load(mnist_run).evaluate(split="test")["confident_mistakes"]
    assert [m["p"] for m in mistakes] == sorted((m["p"] for m in mistakes), reverse=True)


def test_predict_top_and_grad_cam(mnist_run, tmp_path, capsys):
    heat = tmp_path / "heat.png"
    code = main(["predict", str(mnist_run), str(FIXTURES / "cnn" / "digit.png"), "--top", "3", "--explain", str(heat)])
    assert code == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{FIXTURES / 'cnn' / 'digit.png'}: ") and line.count(", ") == 1  # best, then two
    assert heat.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_augmentation_reaches_training_batches_only(monkeypatch):
    """step() augments (with the step's seeded draw); validation scores the images as they are."""
    calls = []

    def fake_augment(images, how, generator):
        calls.append(len(images))
        return images + 100.0

    monkeypatch.setattr(image_objective, "augment", fake_augment)
    inputs = torch.randn(30, 1, 8, 8)
    labels = torch.arange(30) % 2
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    objective = image_objective.ImageObjective(
        inputs, labels, torch.arange(20), torch.arange(20, 30), Augment(crop_padding=1), 0.0, 5, 0
    )
    objective.evaluate(model)
    assert calls == []
    objective.step(model, objective.next_batch())
    assert calls == [5]


def test_normalisation_uses_training_statistics():
    images = torch.tensor([[[[0, 255]]], [[[255, 255]]]], dtype=torch.uint8)  # (2, 1, 1, 2)
    mean, std = channel_stats(images)
    assert mean == pytest.approx([0.75])
    out = normalise(images, mean, std)
    assert float(out.mean()) == pytest.approx(0.0, abs=1e-6) and float(out.std()) == pytest.approx(1.0, rel=1e-5)


def test_a_light_greyscale_picture_is_inverted_for_a_one_channel_run(capsys):
    white = torch.full((3, 4, 4), 250, dtype=torch.uint8)
    assert int(to_channels(white, 1, "x.png").max()) == 5
    assert "mostly light" in capsys.readouterr().err
    assert to_channels(white, 3, "x.png") is white


def test_a_photo_folder_trains_and_predicts(tmp_path, capsys):
    root = photo_folder(tmp_path / "photos")
    run = tmp_path / "run"
    args = ["train", "cnn", "--dataset", "folder", "--data-dir", str(root), "--side", "16", "--valid-size", "4"]
    args += ["--width", "4", "--hidden", "8", "--batch-size", "8", "--max-minutes", "0", "--max-steps", "30"]
    args += ["--warmup-steps", "0", "--threads", "1", "--quiet", "--lr", "0.05", "--run-dir", str(run)]
    assert main(args) == 0
    classifier = load(run)
    assert classifier.meta["classes"] == ["blue", "red"] and classifier.meta["channels"] == 3
    assert classifier.evaluate(split="test")["accuracy"] == 1.0
    capsys.readouterr()
    assert main(["predict", str(run), str(root / "test" / "red" / "0.png"), "--top", "1"]) == 0
    assert capsys.readouterr().out.split(": ")[1].startswith("red (p ")


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--dataset", "folder"], "--dataset folder needs --data-dir"),
        (["--dataset", "cifar10"], "data_batch_1.bin: no such file"),
        (["--dataset", "mnist", "--valid-size", "30000"], "--valid-size: expected between 1 and 119"),
        (["--dataset", "imagenet"], "--dataset: expected one of fashion-mnist, mnist, cifar10, folder"),
    ],
)
def test_bad_training_input_is_one_line(extra, message, tmp_path, capsys):
    data = [] if "folder" in extra else ["--data-dir", str(FIXTURES if "mnist" in extra else tmp_path)]
    assert main(["train", "cnn", *data, *extra, "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_a_folder_with_a_non_image_is_named_or_skipped(tmp_path, capsys):
    root = photo_folder(tmp_path / "photos", bad=True)
    args = ["train", "cnn", "--dataset", "folder", "--data-dir", str(root), "--side", "16", "--valid-size", "4"]
    args += ["--max-minutes", "0", "--max-steps", "1", "--threads", "1", "--quiet", "--width", "4", "--hidden", "8"]
    assert main([*args, "--run-dir", str(tmp_path / "r1")]) == 2
    assert "notes.txt: not an image file" in capsys.readouterr().err
    assert main([*args, "--skip-bad-files", "--run-dir", str(tmp_path / "r2")]) == 0
    assert "skipped 1 files" in capsys.readouterr().err


def test_predict_refuses_what_it_cannot_read(mnist_run, tmp_path, capsys):
    text = tmp_path / "a.png"
    text.write_text("hello")
    assert main(["predict", str(mnist_run), str(text)]) == 2
    assert str(text) in capsys.readouterr().err
    assert (
        main(["predict", str(mnist_run), str(FIXTURES / "cnn" / "digit.png"), "--explain", str(tmp_path / "h.jpg")])
        == 2
    )
    assert "expected a .png file name" in capsys.readouterr().err
