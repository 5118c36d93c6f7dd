"""The C++ build never waits forever on a lock file left by a killed process."""

import subprocess
import sys
import threading

import pytest

from rnnkit.nn import extension

pytest.importorskip("fcntl")

HOLDER = """
import fcntl, pathlib, sys, time
folder = pathlib.Path(sys.argv[1])
handle = open(folder / "rnnkit.lock", "a")
fcntl.flock(handle, fcntl.LOCK_EX)
(folder / "lock").write_text("")  # torch's baton, taken as a build starts
print("holding", flush=True)
time.sleep(60)
"""


def test_a_lock_file_left_by_a_killed_build_is_removed(tmp_path, capsys):
    (tmp_path / "lock").write_text("")
    with extension.build_lock(tmp_path):
        assert not (tmp_path / "lock").exists()
    assert "left by a build that was killed" in capsys.readouterr().err


def test_a_live_build_is_waited_for_and_its_lock_kept_until_it_dies(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        entered = threading.Event()

        def build():
            with extension.build_lock(tmp_path):
                entered.set()

        waiter = threading.Thread(target=build, daemon=True)
        waiter.start()
        assert not entered.wait(0.5)  # the live build holds the lock: wait, and leave its baton alone
        assert (tmp_path / "lock").exists()
    finally:
        holder.kill()
        holder.wait()
    assert entered.wait(10)  # killed: its flock went with it; its baton file stayed and is removed
    waiter.join(10)
    assert not (tmp_path / "lock").exists()


def test_load_builds_in_rnnkit_folder_under_the_lock(tmp_path, monkeypatch):
    monkeypatch.setattr("torch.utils.cpp_extension.get_default_build_root", lambda: str(tmp_path))
    seen = {}

    def fake_load(name, sources, extra_cflags, build_directory, verbose):
        seen.update(name=name, folder=build_directory)
        return "module"

    folder = tmp_path / f"rnnkit-py{sys.version_info[0]}{sys.version_info[1]}" / "demo"
    folder.mkdir(parents=True)
    (folder / "lock").write_text("")  # left by a killed build: it would make torch wait forever
    assert extension._load(fake_load, "demo", ["a.cpp"], ["-O3"]) == "module"
    assert seen["folder"] == str(folder) and not (folder / "lock").exists()
    assert (folder / "rnnkit.lock").exists()
