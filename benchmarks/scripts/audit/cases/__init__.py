"""The catalogue: every case of the audit, by kind.

:func:`catalogue` builds the list from the recipe registry (so a recipe, a
train option or a use-command option added later is audited with no new
code) plus the inputs named in issue 28. Building it runs nothing and needs
no trained run: placeholders are filled in when a case runs.
"""

from __future__ import annotations

from ..core import KINDS, Case


def catalogue() -> list[Case]:
    """Every case, ids unique, in a stable order."""
    from . import checkpoints, cli, datafiles, issue, options, rundirs, serve, uses

    cases: list[Case] = []
    for module in (issue, cli, options, uses, checkpoints, rundirs, datafiles, serve):
        cases.extend(module.cases())
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise ValueError(f"duplicate case id {case.id}")
        if case.kind not in KINDS:
            raise ValueError(f"{case.id}: unknown kind {case.kind}")
        seen.add(case.id)
    return cases
