"""Data-parallel training: 2-process gloo jobs (torchrun) against single-process runs.

The 2-process jobs run ``python -m torch.distributed.run --nproc_per_node 2 -m rnnkit train``
on the recipes' smoke fixtures with one thread per process, dropout off (each rank draws
its own masks) and a constant schedule (so a resumed run with more steps sees the same
rates); the single-process runs go through ``rnnkit.cli.main`` in this process.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnkit.cli import main
from rnnkit.objectives.lm import LMObjective
from rnnkit.recipes import recipe
from rnnkit.recipes.embeddings.model import EmbeddingModelConfig, build_embedding_model
from rnnkit.recipes.embeddings.objective import WordVectorObjective, shard_batch
from rnnkit.train import checkpoint as ckpt
from rnnkit.train.distributed import shard_range, split_evenly
from rnnkit.train.rundir import read_metrics

FIXTURES = Path(__file__).parents[1] / "fixtures"
CHARLM = ("--dropout", "0", "--schedule", "constant")
POSTAG = ("--dropout", "0", "--word-dropout", "0")


def smoke_args(name: str, run: Path, *extra: str) -> list[str]:
    args = [a.replace("{fixtures}", str(FIXTURES)) for a in recipe(name).smoke.train]
    return ["train", name, *args, "--run-dir", str(run), "--quiet", "--log-every", "1", "--threads", "1", *extra]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def torchrun(args: list[str], processes: int = 2) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(processes),
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        "-m",
        "rnnkit",
        *args,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def rows(run: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("tokens_per_s", "elapsed")} for r in read_metrics(run)]


def assert_same_rows(got: list[dict], want: list[dict], tol: float = 1e-5) -> None:
    assert len(got) == len(want), (got, want)  # two writers would have logged every row twice
    for a, b in zip(got, want):
        assert a.keys() == b.keys() and a["split"] == b["split"] and a["step"] == b["step"], (a, b)
        for key, value in b.items():
            if isinstance(value, float):
                assert a[key] == pytest.approx(value, rel=tol, abs=tol), (key, a, b)
            else:
                assert a[key] == value, (key, a, b)


def assert_close_checkpoints(a: Path, b: Path, tol: float = 1e-5) -> None:
    first, second = ckpt.load(a), ckpt.load(b)
    assert first.tensors.keys() == second.tensors.keys()
    assert not any(k.startswith("model/module.") for k in first.tensors)  # the unwrapped model's names
    for key, value in first.tensors.items():
        if value.is_floating_point() and not key.startswith("rng/"):
            assert torch.allclose(value, second.tensors[key], rtol=tol, atol=tol), key
    assert first.meta["step"] == second.meta["step"] and first.meta["objective"] == second.meta["objective"]


@pytest.fixture(scope="module")
def charlm_single(tmp_path_factory):
    run = tmp_path_factory.mktemp("single") / "charlm"
    assert main(smoke_args("charlm", run, *CHARLM)) == 0
    return run


def test_two_processes_train_charlm_as_one_and_only_rank_0_writes(charlm_single, tmp_path):
    run = tmp_path / "two"
    done = torchrun(smoke_args("charlm", run, *CHARLM))
    assert done.stdout.count("finished:") == 1  # the other rank printed no summary
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in charlm_single.iterdir())
    assert_same_rows(rows(run), rows(charlm_single))
    for name in (ckpt.LAST, ckpt.BEST):  # weights, Adam state and the carried LSTM state of all 4 streams
        assert_close_checkpoints(run / name, charlm_single / name)


def test_a_two_process_run_resumes_on_one_process(charlm_single, tmp_path):
    run = tmp_path / "two"
    torchrun(smoke_args("charlm", run, *CHARLM, "--max-steps", "3"))
    assert main(["train", "charlm", "--resume", str(run), "--quiet", "--max-steps", "6"]) == 0
    assert_same_rows(rows(run), rows(charlm_single))
    assert_close_checkpoints(run / ckpt.LAST, charlm_single / ckpt.LAST)


def test_two_processes_train_an_example_based_recipe_as_one(tmp_path):
    # postag: uneven slices (4 sentences of different lengths split 2 + 2); loss weighted by words
    assert main(smoke_args("postag", tmp_path / "one", *POSTAG)) == 0
    torchrun(smoke_args("postag", tmp_path / "two", *POSTAG))
    assert_same_rows(rows(tmp_path / "two"), rows(tmp_path / "one"))
    assert_close_checkpoints(tmp_path / "two" / ckpt.LAST, tmp_path / "one" / ckpt.LAST)
    reports = [json.loads((tmp_path / run / "report_test.json").read_text()) for run in ("two", "one")]
    for report in reports:
        report.pop("confusion_png")
    assert reports[0] == reports[1]  # the test report, written once, by rank 0


def test_shares_cover_the_batch_and_the_lm_batch_must_divide():
    for n in range(0, 9):
        for world in (1, 2, 3):
            shares = [shard_range(n, r, world) for r in range(world)]
            assert shares[0][0] == 0 and shares[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(shares, shares[1:]))
            assert max(b - a for a, b in shares) - min(b - a for a, b in shares) <= 1
    assert split_evenly(8, 2) == 4
    ids = torch.arange(200) % 7
    objective = LMObjective(ids, ids, batch_size=5, seq_length=4)
    with pytest.raises(ValueError, match=r"^--batch-size 5 .* world size 2"):
        objective.shard(0, 2)


@pytest.mark.parametrize(
    "method,output",
    [
        ("skipgram", "negative"),
        ("skipgram", "hierarchical"),
        ("cbow", "negative"),
        ("cbow", "hierarchical"),
        ("ngram", "negative"),
    ],
)
def test_word_vector_shares_give_the_global_batch_losses(method, output):
    torch.manual_seed(0)
    stream = torch.randint(0, 30, (400,))
    counts = torch.bincount(stream, minlength=30)
    objective = WordVectorObjective(
        stream,
        stream[:50],
        counts,
        method,
        window=3,
        context=2,
        negatives=4,
        sample=0.0,
        batch_words=37,
        seed=3,
        hierarchical=output == "hierarchical",
    )
    model = build_embedding_model(30, EmbeddingModelConfig(method=method, output=output, dim=6))
    for param in model.parameters():
        torch.nn.init.normal_(param)
    batch = objective.next_batch()
    inputs = lambda b: {k: v for k, v in b.items() if k not in ("words", "examples", "global_examples")}  # noqa: E731
    whole = model(inputs(batch))
    for world in (2, 3):
        parts = [shard_batch(batch, method, r, world) for r in range(world)]
        assert sum(p["words"] for p in parts) == batch["words"]
        assert sum(p["examples"] for p in parts) == len(whole) == parts[0]["global_examples"]
        assert torch.allclose(torch.cat([model(inputs(p)) for p in parts]), whole, atol=1e-6)


@pytest.mark.parametrize(
    "name, extra",
    [
        (
            "wordlm",
            (
                "--dropout",
                "0",
                "--dropout-input",
                "0",
                "--dropout-hidden",
                "0",
                "--dropout-embedding",
                "0",
                "--weight-dropout",
                "0",
            ),
        ),
        ("seqmnist", ("--dropout", "0")),  # with the preset's random shifts, drawn per global batch
        ("translate", ("--dropout", "0")),
    ],
)
def test_more_recipes_match_one_process_on_two(name, extra, tmp_path):
    main(smoke_args(name, tmp_path / "one", *extra))
    torchrun(smoke_args(name, tmp_path / "two", *extra))
    assert_same_rows(rows(tmp_path / "two"), rows(tmp_path / "one"))
