"""``python -m rnnkit ...``: the same as the ``rnnkit`` command."""

import sys

from rnnkit.entry import main

sys.exit(main())
