"""Sequential MNIST: the idx reader on good and broken files, sequence modes, the permutation kept in
the checkpoint, augmentation, a run that learns on the fixture, and predicting from PNG and idx files."""

import gzip
import json
import math
import re
import shutil
import struct
from pathlib import Path

import pytest
import torch

from rnnkit.cli import main
from rnnkit.data import mnist
from rnnkit.recipes import load
from rnnkit.recipes.seqmnist.model import VectorClassifier, VectorClassifierConfig

FIXTURE = Path(__file__).parents[1] / "fixtures" / "mnist"
SMALL = [
    "--data-dir",
    str(FIXTURE),
    "--hidden-size",
    "32",
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
    "--no-eval-each-epoch",
]


@pytest.fixture(scope="module")
def rows_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("seqmnist") / "run"
    assert (
        main(
            [
                "train",
                "seqmnist",
                *SMALL,
                "--max-steps",
                "150",
                "--eval-every",
                "150",
                "--lr",
                "0.01",
                "--run-dir",
                str(run),
            ]
        )
        == 0
    )
    return run


def test_idx_round_trip_gzip_and_raw(tmp_path):
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    labels = torch.tensor([0, 9, 3, 3, 1], dtype=torch.uint8)
    for compress in (True, False):
        mnist.write_idx(tmp_path / "i", images, compress)
        mnist.write_idx(tmp_path / "l", labels, compress)
        assert torch.equal(mnist.read_idx(tmp_path / "i", mnist.IMAGES), images)
        assert torch.equal(mnist.read_idx(tmp_path / "l", mnist.LABELS), labels)
    raw = (tmp_path / "i").read_bytes()
    assert struct.unpack(">4i", raw[:16]) == (2051, 5, 28, 28) and len(raw) == 16 + 5 * 784


def test_the_shared_mnist_has_its_documented_counts():
    folder = Path(__file__).parents[2] / ".." / "shared" / "data" / "mnist"
    if not folder.is_dir():
        pytest.skip(f"{folder} not present (the shared data sets)")
    images, labels = mnist.load_split(folder, "test")
    assert images.shape == (10_000, 28, 28) and labels.bincount().tolist()[:2] == [980, 1135]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda data: data[:-10], r"header says 3x28x28 = 2,352 bytes of data, found 2,342 \(truncated\)"),
        (lambda data: data + b"\0", r"header says 3x28x28 = 2,352 bytes of data, found 2,353 \(extra bytes\)"),
        (lambda data: struct.pack(">i", 2049) + data[4:], r"magic number 2049, expected 2051 \(images\)"),
        (lambda data: b"\x00\x00\x08", "3 bytes, too short for an idx header"),
        (lambda data: data[:10], r"truncated idx header \(10 of 16 bytes\)"),
    ],
)
def test_broken_idx_files_are_named(tmp_path, damage, message):
    mnist.write_idx(tmp_path / "good", torch.zeros(3, 28, 28), compress=False)
    bad = tmp_path / "bad-images.idx"
    bad.write_bytes(gzip.compress(damage((tmp_path / "good").read_bytes())))
    with pytest.raises(ValueError, match=f"bad-images.idx: {message}"):
        mnist.read_idx(bad, mnist.IMAGES)


def test_a_truncated_gzip_and_mismatched_files_are_named(tmp_path):
    mnist.write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", torch.zeros(4, 28, 28))
    mnist.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", torch.zeros(3))
    with pytest.raises(ValueError, match="3 labels for 4 images"):
        mnist.load_split(tmp_path, "test")
    mnist.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", torch.tensor([1, 2, 3, 12]))
    with pytest.raises(ValueError, match="label 12, expected digits 0-9"):
        mnist.load_split(tmp_path, "test")
    cut = tmp_path / "t10k-images-idx3-ubyte.gz"
    cut.write_bytes(cut.read_bytes()[:30])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: not a readable gzip file"):
        mnist.load_split(tmp_path, "test")
    with pytest.raises(ValueError, match="no train-images-idx3-ubyte.gz"):
        mnist.load_split(tmp_path, "train")


def test_sequence_modes_and_permutation():
    images = torch.arange(784, dtype=torch.float64).reshape(1, 28, 28).remainder(256).to(torch.uint8)
    rows = mnist.as_sequence(images, "rows")
    pixels = mnist.as_sequence(images, "pixels")
    permutation = mnist.pixel_permutation(7)
    permuted = mnist.as_sequence(images, "permuted", permutation)
    assert rows.shape == (1, 28, 28) and pixels.shape == permuted.shape == (1, 784, 1)
    assert torch.equal(pixels.flatten(), rows.flatten())  # reading order: row after row
    assert torch.equal(permuted[0, :, 0], pixels[0, permutation, 0])
    assert torch.equal(permutation, mnist.pixel_permutation(7)) and not torch.equal(
        permutation, mnist.pixel_permutation(8)
    )
    assert sorted(permutation.tolist()) == list(range(784))
    with pytest.raises(ValueError, match="expected one of rows, pixels, permuted"):
        mnist.as_sequence(images, "columns")


def test_validation_split_is_seeded_and_disjoint():
    train, valid = mnist.validation_split(100, 10, seed=3)
    assert len(valid) == 10 and len(train) == 90 and not set(train.tolist()) & set(valid.tolist())
    assert torch.equal(valid, mnist.validation_split(100, 10, seed=3)[1])
    with pytest.raises(ValueError, match="--valid-size: expected between 1 and 99"):
        mnist.validation_split(100, 100, seed=3)


def test_random_shift_moves_whole_digits_and_is_seeded():
    images = torch.zeros(6, 28, 28, dtype=torch.uint8)
    images[:, 10:18, 12:16] = 200
    shifted = mnist.random_shift(images, 2, torch.Generator().manual_seed(0))
    again = mnist.random_shift(images, 2, torch.Generator().manual_seed(0))
    assert torch.equal(shifted, again) and not torch.equal(shifted, images)
    assert torch.equal(shifted.sum((1, 2), dtype=torch.long), images.sum((1, 2), dtype=torch.long))  # nothing cut
    for out in shifted:
        rows, cols = out.nonzero(as_tuple=True)
        assert abs(int(rows.min()) - 10) <= 2 and abs(int(cols.min()) - 12) <= 2
        assert int(rows.max() - rows.min()) == 7 and int(cols.max() - cols.min()) == 3  # moved, not stretched
    assert mnist.random_shift(images, 0, torch.Generator()) is images


def test_irnn_starts_from_the_identity():
    model = VectorClassifier(1, 10, VectorClassifierConfig(cell="rnn_relu", irnn=True, hidden_size=16, num_layers=2))
    for name, weight in model.rnn.named_parameters():
        if name.startswith("weight_hh"):
            assert torch.equal(weight, torch.eye(16))
        elif name.startswith("bias"):
            assert not weight.any()
    with pytest.raises(ValueError, match="needs --cell rnn_relu"):
        VectorClassifierConfig(cell="lstm", irnn=True)


def test_chrono_sets_the_gate_biases_for_its_length():
    torch.manual_seed(0)
    model = VectorClassifier(1, 10, VectorClassifierConfig(hidden_size=16, chrono=784))
    h = 16
    forget = (model.rnn.bias_ih_l0[h : 2 * h] + model.rnn.bias_hh_l0[h : 2 * h]).detach()
    inputs = (model.rnn.bias_ih_l0[:h] + model.rnn.bias_hh_l0[:h]).detach()
    assert float(forget.min()) >= 0.0 and float(forget.max()) <= math.log(783) + 1e-6
    assert float(forget.max()) > math.log(100)  # spread over the range, not torch's small init
    assert torch.allclose(inputs, -forget)


@pytest.mark.parametrize(
    "config, message",
    [
        (dict(cell="rnn_tanh", chrono=784), "--chrono sets gate biases: it needs --cell lstm or gru"),
        (dict(chrono=2), "--chrono: expected 0 (off) or at least 3 steps"),
        (dict(chrono=784, forget_bias=1.0), "give --forget-bias 0, or --chrono 0"),
    ],
)
def test_chrono_misuse_is_named(config, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        VectorClassifierConfig(**config)


def test_it_learns_the_training_digits(rows_run, capsys):
    assert main(["eval", str(rows_run), "--split", "train"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("accuracy ")[1].split("%")[0])
    assert accuracy > 90.0, out  # 100 digits, 150 steps: memorised
    report = json.loads((rows_run / "report_test.json").read_text())
    assert report["examples"] == 20 and len(report["confusion"]) == 10
    assert (rows_run / "confusion_test.png").stat().st_size > 0 and (rows_run / "errors_test.png").stat().st_size > 0


def test_predict_reads_png_in_any_size_and_shade(rows_run, tmp_path, capsys):
    from PIL import Image

    images, labels = mnist.load_split(FIXTURE, "train")
    digit = images[0].numpy()
    Image.fromarray(digit).save(tmp_path / "a.png")
    Image.fromarray(255 - digit).resize((56, 56)).convert("RGB").save(tmp_path / "b.png")
    assert main(["predict", str(rows_run), str(tmp_path / "a.png"), str(tmp_path / "b.png")]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'a.png'}: {int(labels[0])} (p ")
    assert lines[1].startswith(f"{tmp_path / 'b.png'}: {int(labels[0])} (p ")
    assert "56x56 resized to 28x28" in captured.err and "inverted" in captured.err
    assert main(["predict", str(rows_run), "--idx", str(FIXTURE / "train-images-idx3-ubyte.gz"), "--index", "0"]) == 0
    assert capsys.readouterr().out.split(": ")[1].startswith(str(int(labels[0])))


@pytest.mark.parametrize(
    "args, message",
    [
        (["{bad}"], "not an image that can be read as greyscale"),
        (["--idx", "{fixture}/t10k-images-idx3-ubyte.gz", "--index", "20"], "holds images 0 to 19"),
        (["--idx", "{fixture}/t10k-labels-idx1-ubyte.gz"], r"magic number 2049, expected 2051 \(images\)"),
        ([], "give image files"),
    ],
)
def test_bad_predict_input_is_one_line(rows_run, tmp_path, capsys, args, message):
    (tmp_path / "bad.png").write_text("not a picture")
    args = [a.replace("{bad}", str(tmp_path / "bad.png")).replace("{fixture}", str(FIXTURE)) for a in args]
    assert main(["predict", str(rows_run), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and message.split("\\")[0] in err


def test_permuted_run_keeps_its_permutation(tmp_path):
    run = tmp_path / "perm"
    assert (
        main(
            [
                "train",
                "seqmnist",
                *SMALL,
                "--mode",
                "permuted",
                "--permutation-seed",
                "5",
                "--max-steps",
                "2",
                "--eval-every",
                "2",
                "--hidden-size",
                "4",
                "--run-dir",
                str(run),
            ]
        )
        == 0
    )
    classifier = load(run)
    assert torch.equal(classifier.reader.permutation, mnist.pixel_permutation(5))
    assert classifier.reader.mode == "permuted"


def test_missing_data_and_another_recipes_run_are_refused(rows_run, tmp_path, capsys):
    assert main(["train", "seqmnist", "--data-dir", str(tmp_path), "--run-dir", str(tmp_path / "r")]) == 2
    assert f"mnist not found in {tmp_path}" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    assert (
        main(["train", "seqmnist", "--mode", "columns", "--data-dir", str(FIXTURE), "--run-dir", str(tmp_path / "r")])
        == 2
    )
    assert "--mode: expected one of rows, pixels, permuted" in capsys.readouterr().err
    assert main(["train", "chat", "--resume", str(rows_run)]) == 2
    assert "that run is of recipe 'seqmnist'" in capsys.readouterr().err


def write_tagged_mnist(folder: Path, train: int = 60, test: int = 20) -> Path:
    """Idx files whose every image is one grey level naming it: 10 + i for training image i, 200 + j
    for test image j (so a moved image still shows it at its centre); label i % 10."""
    folder.mkdir()
    for split, count, base in (("train", train, 10), ("test", test, 200)):
        values = torch.arange(count) + base
        images_file, labels_file = mnist.FILES[split]
        mnist.write_idx(folder / images_file, values.view(-1, 1, 1).expand(count, 28, 28))
        mnist.write_idx(folder / labels_file, torch.arange(count) % 10)
    return folder


def test_training_reads_only_the_training_images_and_validation_only_the_held_out_ones(tmp_path, monkeypatch):
    """Every image the network reads while it trains is tagged: no validation or test image may
    reach a training step, and validation scores exactly the held-out images."""
    from rnnkit.recipes.seqmnist.data import Reader
    from rnnkit.train.trainer import Trainer

    folder = write_tagged_mnist(tmp_path / "mnist")
    read, fitting, logits, fit = [], [False], Reader.logits, Trainer.fit

    def spy_logits(self, model, images):
        if fitting[0]:
            read.append(("train" if model.training else "eval", (images[:, 14, 14].long() - 10).tolist()))
        return logits(self, model, images)

    def spy_fit(self):
        fitting[0] = True
        try:
            return fit(self)
        finally:
            fitting[0] = False

    monkeypatch.setattr(Reader, "logits", spy_logits)
    monkeypatch.setattr(Trainer, "fit", spy_fit)
    assert (
        main(
            [
                "train",
                "seqmnist",
                "--data-dir",
                str(folder),
                "--hidden-size",
                "4",
                "--batch-size",
                "16",
                "--valid-size",
                "12",
                "--shift",
                "0",
                "--max-minutes",
                "0",
                "--max-steps",
                "9",
                "--eval-every",
                "3",
                "--no-eval-each-epoch",
                "--warmup-steps",
                "0",
                "--threads",
                "1",
                "--quiet",
                "--run-dir",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    seed = json.loads((tmp_path / "run" / "config.json").read_text())["train"]["seed"]
    train_idx, valid_idx = (set(rows.tolist()) for rows in mnist.validation_split(60, 12, seed))
    trained = [i for mode, ids in read if mode == "train" for i in ids]
    evaluated = [ids for mode, ids in read if mode == "eval"]
    leaked = sorted(set(trained) - train_idx)
    assert not leaked, f"training read images {leaked} (validation: {sorted(valid_idx)}; 190+: test)"
    overlap = sorted(set(trained) & {i for ids in evaluated for i in ids})  # whatever the split says
    assert not overlap, f"images {overlap} were trained on and validated on"
    assert len(evaluated) == 3 and all(sorted(ids) == sorted(valid_idx) for ids in evaluated), evaluated
    assert len(valid_idx) == 12 and len(trained) == 9 * 16 and set(trained) == train_idx  # 3 passes over 48


def test_an_idx_header_claiming_more_than_the_cap_is_refused_before_decompressing(tmp_path):
    """Issue 28: an 815 KB gzip idx file reached 1.9 GB. The header's claim is checked first."""
    import tracemalloc

    bomb = tmp_path / "bomb-images.gz"
    bomb.write_bytes(gzip.compress(struct.pack(">4i", 2051, 2_400_000, 28, 28) + bytes(8 * 2**20)))
    tracemalloc.start()
    with pytest.raises(
        ValueError,
        match=r"bomb-images\.gz: header says 2400000x28x28 = 1,881,600,000 bytes of "
        r"data, more than the 268,435,456 this reader allows \(MAX_IDX_BYTES\)",
    ):
        mnist.read_idx(bomb, mnist.IMAGES)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 2**20, peak  # nothing near the 8 MB of zeros, let alone the 1.9 GB claimed


def test_an_idx_file_holding_far_more_than_its_header_says_is_read_in_bounded_pieces(tmp_path):
    import tracemalloc

    padded = tmp_path / "padded-images.gz"
    padded.write_bytes(gzip.compress(struct.pack(">4i", 2051, 3, 28, 28) + bytes(40 * 2**20)))
    assert padded.stat().st_size < 100_000  # 40 MB of zeros compress to about 40 KB
    tracemalloc.start()
    with pytest.raises(
        ValueError,
        match=r"header says 3x28x28 = 2,352 bytes of data, found 41,943,040 "
        r"\(extra bytes\)",
    ):
        mnist.read_idx(padded, mnist.IMAGES)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * 2**20, peak
    with pytest.raises(ValueError, match=r"found more than 10,000 \(extra bytes\)"):
        mnist.read_idx(padded, mnist.IMAGES, limit=10_000)
    negative = tmp_path / "negative.idx"
    negative.write_bytes(struct.pack(">4i", 2051, -1, 28, 28))
    with pytest.raises(ValueError, match=r"header says -1x28x28; expected sizes >= 0"):
        mnist.read_idx(negative, mnist.IMAGES)


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` greyscale pixels (its data a few bytes)."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(bytes(1000)))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "width, height, message",
    [
        (20_000, 20_000, "400,000,000 pixels"),  # beyond Pillow's own bomb limit: its error, translated
        (5_000, 5_000, "5000x5000 pixels"),  # under Pillow's limit, over rnnkit's
    ],
)
def test_predict_refuses_an_image_that_claims_too_many_pixels(rows_run, tmp_path, capsys, width, height, message):
    """Issue 28: a 20,000 x 20,000 PNG ended in Pillow's DecompressionBombError traceback."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(width, height))
    capsys.readouterr()
    assert main(["predict", str(rows_run), str(bomb)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"rnnkit predict: error: {bomb}: {message}, more than the 16,777,216 (4096x4096) a digit image "
        "may have; make it smaller first\n"
    )


def test_predict_and_idx_name_a_directory_and_a_fifo(rows_run, tmp_path, capsys):
    import os

    fifo = tmp_path / "digit.png"
    os.mkfifo(fifo)
    for args, message in (
        ([str(tmp_path)], f"{tmp_path}: is a directory; expected an image file"),
        ([str(fifo)], f"{fifo}: not a regular file (a FIFO (named pipe)); expected an image file"),
        (["--idx", str(fifo)], "not a regular file (a FIFO (named pipe)); expected an MNIST idx file"),
        (["--idx", str(tmp_path)], "is a directory; expected an MNIST idx file"),
    ):
        assert main(["predict", str(rows_run), *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err


def test_eval_with_another_data_dir_keeps_the_runs_validation_split_or_refuses(tmp_path, capsys):
    """Issue 28: eval --data-dir re-drew the validation split from other files, silently."""
    folder = write_tagged_mnist(tmp_path / "mnist")
    run = tmp_path / "run"
    train = [
        "train",
        "seqmnist",
        "--data-dir",
        str(folder),
        "--hidden-size",
        "4",
        "--batch-size",
        "16",
        "--valid-size",
        "12",
        "--max-minutes",
        "0",
        "--max-steps",
        "2",
        "--eval-every",
        "2",
        "--no-eval-each-epoch",
        "--warmup-steps",
        "0",
        "--threads",
        "1",
        "--quiet",
        "--run-dir",
        str(run),
    ]
    assert main(train) == 0
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    capsys.readouterr()
    assert main(["eval", str(run), "--split", "valid", "--data-dir", str(copy), "--json"]) == 0  # the same files
    assert json.loads(capsys.readouterr().out)["examples"] == 12
    (tmp_path / "other").mkdir()
    other = write_tagged_mnist(tmp_path / "other" / "mnist", train=70)  # in a data folder: no note (issue 29)
    for split in ("valid", "train"):
        assert main(["eval", str(run), "--split", split, "--data-dir", str(other.parent)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{other}: its training images are not the run's (70 images" in err
    assert main(["eval", str(run), "--split", "test", "--data-dir", str(other.parent), "--json"]) == 0  # any test set
    assert json.loads(capsys.readouterr().out)["examples"] == 20
    mnist.write_idx(folder / mnist.FILES["train"][1], torch.arange(60).flip(0) % 10)  # relabelled in place
    assert main(["eval", str(run), "--split", "valid"]) == 2
    assert "its training images are not the run's (60 images" in capsys.readouterr().err
    assert main(["train", "seqmnist", "--resume", str(run), "--max-steps", "4"]) == 2
    assert "its training images are not the run's" in capsys.readouterr().err
