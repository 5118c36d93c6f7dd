"""Issue 29: ``--data-dir`` is the folder holding the data set folders in every recipe; a recipe's
former form (names, names-gen and seqmnist took the folder of their files) is used as given after
a note; a data set that is not there is a one-line error naming the command that fetches it."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.data.names_split import NamesDataConfig, load_split, names_folder
from rnnkit.families.seq2seq import bitext
from rnnkit.recipes.seqmnist.data import mnist_folder
from rnnkit.recipes.translate.config import defaults as translate_defaults

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY = ["--max-steps", "2", "--max-minutes", "0", "--quiet"]


def data_root(tmp_path: Path, *folders: str) -> Path:
    """A data folder holding copies of the fixtures' ``folders`` (``names``, ``mnist``)."""
    root = tmp_path / "data"
    for folder in folders:
        shutil.copytree(FIXTURES / folder, root / folder)
    return root


def note(folder: Path, holds: str, name: str) -> str:
    return (
        f"note: --data-dir {folder} holds {holds} themselves; rnnkit now expects the folder "
        f"holding {name}/; using it as given\n"
    )


@pytest.mark.parametrize(
    "recipe, args, name",
    [
        ("wordlm", [], "ptb"),
        ("embeddings", ["--corpus", "ptb"], "ptb"),
        ("postag", [], "ud-english-ewt"),
        ("translate", [], "multi30k"),
        ("translate", ["--preset", "eng-fra"], "eng-fra"),
        ("seqmnist", [], "mnist"),
        ("timeseries", ["--preset", "sunspots"], "timeseries"),
        ("names", [], "names"),
        ("names-gen", [], "names"),
    ],
)
def test_missing_data_names_what_where_and_the_fetch_command(tmp_path, capsys, recipe, args, name):
    empty = tmp_path / "empty"
    empty.mkdir()
    run = tmp_path / "run"
    assert main(["train", recipe, *args, "--data-dir", str(empty), "--run-dir", str(run), *TINY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"error: {name} not found in {empty} (looked for {empty / name}" in err, err
    assert err.endswith(f"; get it with: rnnkit data get {name} --data-dir {empty}\n"), err
    assert not run.exists()


def test_missing_data_without_data_dir_names_the_plain_command(tmp_path, monkeypatch):
    """The data folder from $RNNKIT_DATA: ``rnnkit data get`` reads it too, so no --data-dir."""
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    with pytest.raises(ValueError, match=r"mnist not found in .*; get it with: rnnkit data get mnist$"):
        mnist_folder("")


def test_names_read_the_names_folder_of_the_data_folder(tmp_path, capsys):
    root = data_root(tmp_path, "names")
    assert names_folder(str(root)) == root / "names"
    assert names_folder("") is None  # the bundled copy
    new = load_split(NamesDataConfig(data_dir=str(root)))
    old = load_split(NamesDataConfig(data_dir=str(root / "names")))  # today's form, with a note
    assert new[0] == old[0] and new[1] == old[1]
    assert capsys.readouterr().err == note(root / "names", "the names files", "names")
    load_split(NamesDataConfig(data_dir=str(root / "names")))
    assert capsys.readouterr().err == ""  # once a process


@pytest.mark.parametrize("recipe", ["names", "names-gen"])
def test_names_recipes_train_and_evaluate_from_the_data_folder(tmp_path, capsys, recipe):
    root = data_root(tmp_path, "names")
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                recipe,
                "--data-dir",
                str(root),
                "--run-dir",
                str(run),
                "--embedding-dim",
                "8",
                "--hidden-size",
                "8",
                "--batch-size",
                "16",
                *TINY,
            ]
        )
        == 0
    )
    assert "note:" not in capsys.readouterr().err
    assert json.loads((run / "config.json").read_text())["data"]["data_dir"] == str(root)  # as given
    assert main(["eval", str(run), "--split", "valid", "--data-dir", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["split"] == "valid"
    moved = tmp_path / "langs"
    shutil.copytree(root / "names", moved)  # eval also takes a names folder itself, with the note
    assert main(["eval", str(run), "--split", "valid", "--data-dir", str(moved), "--json"]) == 0
    assert capsys.readouterr().err == note(moved, "the names files", "names")


def test_seqmnist_reads_the_mnist_folder_of_the_data_folder(tmp_path, capsys):
    root = data_root(tmp_path, "mnist")
    assert mnist_folder(str(root)) == root / "mnist"
    assert capsys.readouterr().err == ""
    assert mnist_folder(str(root / "mnist")) == root / "mnist"  # today's form (and fashion-mnist/)
    assert capsys.readouterr().err == note(root / "mnist", "the MNIST idx files", "mnist")


def test_the_seq2seq_data_section_is_the_familys_typed_config():
    """translate's data section is :class:`bitext.BitextConfig`, its fields those of the
    config.json runs wrote before the move."""
    data = translate_defaults()["data"]
    assert type(data) is bitext.BitextConfig
    assert [f.name for f in dataclasses.fields(data)] == [
        "dataset",
        "data_dir",
        "src",
        "tgt",
        "columns",
        "lowercase",
        "ascii_fold",
        "tutorial_punctuation",
        "max_length",
        "english_prefixes",
        "skip_bad_lines",
        "valid_fraction",
        "test_fraction",
        "tokenizer",
        "vocab_size",
        "min_freq",
        "batch_size",
    ]
    assert dataclasses.asdict(data) == {
        "dataset": "multi30k",
        "data_dir": "",
        "src": "de",
        "tgt": "en",
        "columns": "en,fr",
        "lowercase": False,
        "ascii_fold": False,
        "tutorial_punctuation": False,
        "max_length": 0,
        "english_prefixes": False,
        "skip_bad_lines": False,
        "valid_fraction": 0.1,
        "test_fraction": 0.1,
        "tokenizer": "regex",
        "vocab_size": 8000,
        "min_freq": 2,
        "batch_size": 64,
    }
