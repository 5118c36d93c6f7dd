"""The ``rnnkit`` command's entry point sets huge pages before torch is imported, unless the user chose."""

import os
import subprocess
import sys

import pytest

PROBE = """
import os, sys, types
fake = types.ModuleType("rnnkit.cli")
fake.main = lambda: print(os.environ.get("THP_MEM_ALLOC_ENABLE"), "torch" in sys.modules) or 0
sys.modules["rnnkit.cli"] = fake
from rnnkit.entry import main
sys.exit(main())
"""


@pytest.mark.parametrize("given,expected", [(None, "1"), ("0", "0")])
def test_huge_pages_are_set_before_torch_unless_the_user_chose(given, expected):
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    if given is not None:
        env["THP_MEM_ALLOC_ENABLE"] = given
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [expected, "False"]


HEAP_PROBE = """
import ctypes, sys
from rnnkit.entry import keep_heap
kept = keep_heap()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p

class Info(ctypes.Structure):  # glibc's struct mallinfo2 (size_t fields)
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

libc.mallinfo2.restype = Info
before = libc.mallinfo2().hblkhd
block = libc.malloc(ctypes.c_size_t(64 << 20))
print(kept, libc.mallinfo2().hblkhd - before)
libc.free(ctypes.c_void_p(block))
"""


@pytest.mark.parametrize("setting,kept", [(None, True), ("0", False)])
def test_large_blocks_come_from_the_kept_heap_unless_turned_off(setting, kept):
    """With the heap kept, a 64 MB block adds nothing to glibc's mmap'ed bytes (hblkhd); with
    RNNKIT_KEEP_HEAP=0 it is a separate mmap, as glibc does by default."""
    import ctypes

    if not hasattr(ctypes.CDLL(None), "mallinfo2"):
        pytest.skip("not glibc 2.33 or later: no mallinfo2 to read the heap with")
    env = {k: v for k, v in os.environ.items() if k != "RNNKIT_KEEP_HEAP"}
    if setting is not None:
        env["RNNKIT_KEEP_HEAP"] = setting
    out = subprocess.run([sys.executable, "-c", HEAP_PROBE], env=env, capture_output=True, text=True, check=True)
    was_kept, mmapped = out.stdout.split()
    assert was_kept == str(kept)
    assert int(mmapped) == (0 if kept else pytest.approx(64 << 20, rel=0.01))
