"""rnnkit.files: temporaries that never follow or overwrite what is planted under their names,
and the manifest that lists what rnnkit wrote in a folder (also under concurrent writers)."""

import os
import subprocess
import sys
import threading

import pytest

from rnnkit import files
from rnnkit.files import WriteError, atomic_write, atomic_write_text, read_manifest, start_manifest

DEAD = 2**22 + 12345  # above Linux's pid_max, so never a live process


@pytest.fixture
def sentinel(tmp_path):
    """A file outside the folder written to, that a planted symlink points at."""
    outside = tmp_path / "outside"
    outside.mkdir()
    path = outside / "precious.txt"
    path.write_text("the user's data")
    return path


def test_a_symlink_planted_under_the_temporary_name_is_never_followed(tmp_path, sentinel):
    folder = tmp_path / "run"
    folder.mkdir()
    target = folder / "calibration.json"
    planted = folder / f".calibration.json.tmp-{os.getpid()}"  # the name this process tries first
    planted.symlink_to(sentinel)
    atomic_write_text(target, '{"temperature": 1.5}\n')
    assert sentinel.read_text() == "the user's data"
    assert target.read_text() == '{"temperature": 1.5}\n' and not target.is_symlink()
    assert planted.is_symlink() and os.readlink(planted) == str(sentinel)  # not ours: left alone
    assert sorted(p.name for p in folder.iterdir()) == [planted.name, "calibration.json"]


def test_stale_temporaries_go_but_a_planted_stale_link_and_its_target_stay(tmp_path, sentinel):
    folder = tmp_path / "run"
    folder.mkdir()
    link = folder / f".report_test.json.tmp-{DEAD}"
    link.symlink_to(sentinel)
    torn = folder / f".report_test.json.tmp-{DEAD + 1}-0123abcd"  # a dead writer's second name
    torn.write_text("torn")
    atomic_write_text(folder / "report_test.json", "{}\n")
    assert sentinel.read_text() == "the user's data" and link.is_symlink()
    assert not torn.exists()
    assert files.parse_temporary(torn.name) == ("report_test.json", DEAD + 1)
    assert files.parse_temporary(".paper.tmp-v2") is None


def test_a_taken_temporary_name_gets_another_and_all_taken_is_one_line(tmp_path, sentinel, monkeypatch):
    folder = tmp_path / "out"
    folder.mkdir()
    first = folder / f".x.txt.tmp-{os.getpid()}"
    first.write_text("a live write of the same file")
    old = os.umask(0o022)
    try:
        atomic_write(folder / "x.txt", b"new")
    finally:
        os.umask(old)
    assert (folder / "x.txt").read_bytes() == b"new" and first.read_text() == "a live write of the same file"
    assert (folder / "x.txt").stat().st_mode & 0o777 == 0o644  # 0o666 less the umask
    monkeypatch.setattr(files.secrets, "token_hex", lambda n: "0123abcd")
    (folder / f"{first.name}-0123abcd").symlink_to(sentinel)
    with pytest.raises(WriteError, match=r"x\.txt: cannot write: its temporary names .* are all taken") as err:
        atomic_write(folder / "x.txt", b"newer")
    assert "\n" not in str(err.value)
    assert (folder / "x.txt").read_bytes() == b"new" and sentinel.read_text() == "the user's data"


def test_reserve_temporary_makes_a_new_empty_file_and_never_follows(tmp_path, sentinel):
    (tmp_path / f".model.onnx.tmp-{os.getpid()}").symlink_to(sentinel)
    temp = files.reserve_temporary(tmp_path / "model.onnx")
    assert temp.name.startswith(f".model.onnx.tmp-{os.getpid()}-") and temp.read_bytes() == b""
    assert not temp.is_symlink() and sentinel.read_text() == "the user's data"


def test_the_manifest_lists_each_written_name_once(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "no manifest here")
    assert read_manifest(tmp_path) is None
    start_manifest(tmp_path)
    assert read_manifest(tmp_path) == frozenset()
    for name in ("config.json", "report_test.json", "config.json"):
        atomic_write_text(tmp_path / name, "{}")
    assert read_manifest(tmp_path) == {"config.json", "report_test.json"}
    lines = (tmp_path / files.MANIFEST).read_text().splitlines()
    assert lines[1:] == ['"config.json"', '"report_test.json"']  # after the header, once each
    with open(tmp_path / files.MANIFEST, "a") as handle:
        handle.write('"torn')  # a process killed mid-append
    assert read_manifest(tmp_path) == {"config.json", "report_test.json"}


def test_a_planted_manifest_link_is_refused_and_never_written_through(tmp_path, sentinel):
    (tmp_path / files.MANIFEST).symlink_to(sentinel)
    atomic_write_text(tmp_path / "a.txt", "x")
    assert sentinel.read_text() == "the user's data"
    with pytest.raises(ValueError, match=r"\.rnnkit-manifest: cannot read rnnkit's manifest"):
        read_manifest(tmp_path)


WRITER = """
import sys
from rnnkit.files import atomic_write_text
for i in range(40):
    atomic_write_text(f"{sys.argv[1]}/{sys.argv[2]}-{i}.txt", "x")
"""


def test_concurrent_writers_never_lose_each_others_names(tmp_path):
    start_manifest(tmp_path)
    threads = [
        threading.Thread(target=lambda k=k: [atomic_write_text(tmp_path / f"t{k}-{i}.txt", "x") for i in range(40)])
        for k in range(4)
    ]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), f"p{k}"]) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    written = {p.name for p in tmp_path.iterdir() if p.name.endswith(".txt")}
    assert len(written) == 6 * 40 and read_manifest(tmp_path) == written
