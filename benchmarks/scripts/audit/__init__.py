"""The repeatable audit of issue 28: crafted inputs over every recipe and command.

``python benchmarks/scripts/audit/run.py`` trains each recipe's smoke run once (cached
under ``--work``), runs every case of the catalogue (:mod:`audit.cases`) as
its own process with a time limit, an address-space limit and planted
sentinel files, and classifies each outcome (:mod:`audit.core`): OK,
ERROR_OK (exit 2 and one error line), TRACEBACK, HANG, LOST (a sentinel
changed or vanished) or WRONG (the case's own check failed). The results go
to ``benchmarks/results/audit/audit.json``.

Modules: :mod:`.core` (cases, outcomes), :mod:`.launch` (the processes),
:mod:`.fixtures` (smoke runs and crafted files), :mod:`.serving` (the server
cases), :mod:`.cases` (the catalogue), :mod:`.run` (the command line).
"""
