"""Reading what a user names (issue 28): directories, FIFOs and devices are refused in one line
(never "no such file", never a hang), and standard input is read strictly as UTF-8 by one helper
that every use command reading stdin goes through."""

import io
import os
import subprocess
import sys

import pytest
from helpers import smoke_runs

from rnnkit.cli import main
from rnnkit.data import inputs
from rnnkit.data.text import read_text


class BytesStdin(io.TextIOWrapper):
    """A stdin whose ``buffer`` holds raw bytes, as a pipe gives them."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")  # as under LC_ALL=C


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return smoke_runs(tmp_path_factory)


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.txt"
    os.mkfifo(path)
    return path


def test_open_input_names_what_is_wrong(tmp_path, fifo):
    with pytest.raises(ValueError, match=r"nowhere\.txt: no such file; expected a file$"):
        inputs.open_input(tmp_path / "nowhere.txt")
    with pytest.raises(ValueError, match=r": is a directory; expected a text file$"):
        read_text(tmp_path)
    with pytest.raises(ValueError, match=r"pipe\.txt: not a regular file \(a FIFO \(named pipe\)\)"):
        read_text(fifo)  # a FIFO with no writer: refused at once, not a hang
    with pytest.raises(ValueError, match=r"/dev/null: not a regular file \(a character device\)"):
        inputs.read_input("/dev/null")
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 100)
    with pytest.raises(ValueError, match=r"big\.bin: 100 bytes, more than the 99 this reads"):
        inputs.read_input(big, limit=99)
    assert inputs.read_input(big, limit=100) == b"x" * 100


def test_read_stdin_is_strict_and_bounded(monkeypatch):
    for data, message in (
        (b"Kat\xe9\n", "not valid UTF-8 at byte offset 3"),
        ("Kate\n".encode("utf-16"), "not valid UTF-8 at byte offset 0"),
        ("Kate\n".encode("utf-16-le"), "a NUL byte at byte offset 1"),
        (b"\x00\x01\x02", "a NUL byte at byte offset 0"),
    ):
        monkeypatch.setattr("sys.stdin", BytesStdin(data))
        with pytest.raises(ValueError, match=f"^<stdin>: {message}"):
            inputs.read_stdin()
    monkeypatch.setattr("sys.stdin", BytesStdin(b"abcdef"))
    with pytest.raises(ValueError, match="^<stdin>: more than 5 bytes; give a file instead$"):
        inputs.read_stdin(limit=5)
    monkeypatch.setattr("sys.stdin", BytesStdin("Müller\r\nKate\n".encode()))
    assert inputs.stdin_lines() == ["Müller", "Kate"]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"Kowalski\nM\xfcller\n", "<stdin>: not valid UTF-8 at byte offset 10"),  # Latin-1
        ("Kowalski\n".encode("utf-16"), "<stdin>: not valid UTF-8 at byte offset 0"),
        ("Kowalski\n".encode("utf-16-le"), "<stdin>: a NUL byte at byte offset 1"),
    ],
)
def test_names_predict_refuses_stdin_that_is_not_utf8(runs, data, message, capsys, monkeypatch):
    run = runs("names")
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", BytesStdin(data))
    assert main(["predict", str(run)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith(f"rnnkit predict: error: {message}")
    monkeypatch.setattr("sys.stdin", BytesStdin("Kateov\n".encode()))
    assert main(["predict", str(run)]) == 0
    assert capsys.readouterr().out.startswith("Kateov\n")


def test_names_predict_real_stdin_in_the_c_locale(runs):
    """Python decodes a C-locale stdin with surrogateescape: Latin-1 bytes came back mangled."""
    done = subprocess.run(
        [sys.executable, "-m", "rnnkit", "predict", str(runs("names"))],
        input=b"M\xfcller\n",
        capture_output=True,
        timeout=120,
        env={**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0"},
    )
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode() == (
        "rnnkit predict: error: <stdin>: not valid UTF-8 at byte offset 1 (bytes fc 6c 6c 65: invalid start byte)\n"
    )


def test_postag_tag_refuses_stdin_that_is_not_utf8(runs, tmp_path, capsys, monkeypatch):
    runs("postag")
    capsys.readouterr()
    for data, message in (
        (b"a d\xf6g .\n", "<stdin>: not valid UTF-8 at byte offset 3"),
        ("a dog .\n".encode("utf-16-le"), "<stdin>: a NUL byte at byte offset 1"),
    ):
        monkeypatch.setattr("sys.stdin", BytesStdin(data))
        assert main(["tag", str(runs("postag"))]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and message in captured.err
    monkeypatch.setattr("sys.stdin", BytesStdin(b"a dog .\n"))
    assert main(["tag", str(runs("postag")), "--format", "tsv"]) == 0
    assert capsys.readouterr().out.startswith("a\t")


def test_tag_input_directory_and_fifo(runs, tmp_path, fifo, capsys):
    runs("postag")
    capsys.readouterr()
    assert main(["tag", str(runs("postag")), "--input", str(tmp_path)]) == 2
    assert f"--input {tmp_path}: is a directory; expected a text file" in capsys.readouterr().err
    assert main(["tag", str(runs("postag")), "--input", str(fifo)]) == 2
    assert "not a regular file (a FIFO (named pipe))" in capsys.readouterr().err


def test_a_fifo_never_hangs_the_command_line(runs, fifo):
    """The real process, with a FIFO nobody writes to: one line, exit 2, well within a timeout."""
    done = subprocess.run(
        [sys.executable, "-m", "rnnkit", "tag", str(runs("postag")), "--input", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "not a regular file" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def _readers():
    """(name, function of a path) for the library's readers of user-named files."""
    from rnnkit.data import conllu, mnist, names, vectors
    from rnnkit.data.corpus import load_corpus
    from rnnkit.families.seq2seq.parallel import read_parallel
    from rnnkit.metrics import calibration
    from rnnkit.metrics import similarity as wordsim
    from rnnkit.recipes.chat import dialogue
    from rnnkit.recipes.embeddings import skipgram
    from rnnkit.recipes.timeseries.series import read_csv_column

    return {
        "text": read_text,
        "vectors": vectors.read_vectors,
        "pairs": wordsim.read_pairs,
        "analogies": wordsim.read_analogies,
        "conllu": conllu.read_conllu,
        "csv": lambda p: read_csv_column(p, "v"),
        "idx": mnist.read_idx,
        "prior": lambda p: calibration.read_prior(p, ["A", "B"]),
        "cornell": lambda p: dialogue.read_cornell(p, p),
        "dialogue pairs": dialogue.read_pairs,
        "parallel": lambda p: read_parallel(p, p),
        "skipgram corpus": skipgram.corpus_tokens,
        "names folder": lambda p: names.read_names(p.parent),  # a FIFO named Fifo.txt among the names files
        "wordlm corpus": lambda p: load_corpus(str(p.parent), splits=("train",)),  # a FIFO named train.txt
    }


@pytest.mark.parametrize("reader", sorted(_readers()))
def test_every_reader_names_a_directory_and_a_fifo_at_once(reader, tmp_path):
    """Issue 28: a FIFO or a folder was "no such file", and a FIFO with no writer could hang."""
    import signal

    read = _readers()[reader]
    folder = tmp_path / "folder"
    folder.mkdir()
    fifo = folder / ("train.txt" if reader == "wordlm corpus" else "Fifo.txt")
    os.mkfifo(fifo)

    def hung(*_):
        raise TimeoutError(f"{reader} hung on a FIFO")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)  # a hang fails the test instead of stopping the suite
    try:
        with pytest.raises(ValueError, match=r"not a regular file \(a FIFO \(named pipe\)\)"):
            read(fifo)
        if reader not in ("names folder", "wordlm corpus", "skipgram corpus"):  # these read folders
            with pytest.raises(ValueError, match=f"{folder}: is a directory"):
                read(folder)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
