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
