"""Recompute every headline figure from its committed artifact and compare it with the docs.

Each claim in ``benchmarks/headline.json`` names the figure as printed (``shown``), the artifact
it comes from (a report JSON with counts, a metrics log, hypotheses; a path under ``benchmarks/``),
how to recompute it (``how``) and how it is printed (``fmt``, ``scale``). A claim holds when the
recomputed figure, printed the same way, equals ``shown``, ``shown`` stands as a whole number in the
headline row of ``benchmarks/RESULTS.md`` whose first cell is ``table``, and it stands exactly as
often as ``docs`` says in each page it names (``{"README.md": 1, "docs/recipes/charlm.md": 5}``;
README.md counts 0 times unless named), so changing any one of them by hand is caught. Every bold
figure of the headline table needs a claim, or an entry in ``unchecked`` that says why it has none.

    python benchmarks/scripts/headline.py            # one line per claim; exit 1 on any mismatch

The test suite runs :func:`check` on the repository (tests/app/test_headline.py).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _load(path: Path) -> Any:
    if path.suffix == ".csv":
        import csv

        with path.open(newline="") as f:
            return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)]
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return json.loads(path.read_text())


def _get(data: Any, key: str) -> Any:
    """``data`` at a dotted path; list items by index (``runs.0.loss``); ``|`` separates keys
    that hold dots themselves (``replies|beam 5|distinct_2``)."""
    parts = key.split("|") if "|" in key else key.split(".")
    for part in parts:
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def _records(data: list, where: dict) -> list:
    return [r for r in data if all(r.get(k) == v for k, v in where.items())]


def _confusion(claim: dict, data: Any) -> list[list[float]]:
    return _get(data, claim["key"])


def _accuracy(matrix: list[list[float]]) -> float:
    return sum(matrix[i][i] for i in range(len(matrix))) / sum(map(sum, matrix))


def _balanced(matrix: list[list[float]]) -> float:
    recalls = [row[i] / sum(row) for i, row in enumerate(matrix) if sum(row)]
    return sum(recalls) / len(recalls)


def _macro_f1(matrix: list[list[float]]) -> float:
    """Mean F1 over the classes seen as a label or as a prediction (as rnnkit.metrics.classification)."""
    scores = []
    for i, row in enumerate(matrix):
        predicted, support = sum(r[i] for r in matrix), sum(row)
        if not support and not predicted:
            continue
        p = row[i] / predicted if predicted else 0.0
        r = row[i] / support if support else 0.0
        scores.append(2 * p * r / (p + r) if p + r else 0.0)
    return sum(scores) / len(scores)


def _bleu(claim: dict, root: Path) -> float:
    """sacreBLEU of the committed hypotheses against the references (13a, as rnnkit eval)."""
    import sacrebleu

    hyps = (root / "benchmarks" / claim["artifact"]).read_text(encoding="utf-8").splitlines()
    ref_path = Path(claim["references"])
    ref_path = ref_path if ref_path.is_absolute() else root / ref_path
    refs = ref_path.read_text(encoding="utf-8").splitlines()
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
    return sacrebleu.corpus_bleu(hyps, [refs], lowercase=claim.get("lowercase", False), force=True).score


def _values(claim: dict, data: Any) -> list[float]:
    """``keys`` of one artifact, or ``key`` of each of ``artifacts`` (``data`` is then their list)."""
    if "artifacts" in claim:
        return [_get(one, claim["key"]) for one in data]
    return [_get(data, k) for k in claim["keys"]]


RECOMPUTE: dict[str, Callable[[dict, Any], float]] = {
    "value": lambda c, d: _get(d, c["key"]),
    "abs": lambda c, d: abs(_get(d, c["key"])),
    "last": lambda c, d: _get(_records(d, c.get("where", {}))[-1], c["key"]),
    "mean": lambda c, d: statistics.fmean(_values(c, d)),
    "sd": lambda c, d: statistics.stdev(_values(c, d)),
    "accuracy": lambda c, d: _accuracy(_confusion(c, d)),
    "balanced_accuracy": lambda c, d: _balanced(_confusion(c, d)),
    "macro_f1": lambda c, d: _macro_f1(_confusion(c, d)),
}


def _pooled_ratio(claim: dict, root: Path) -> float:
    """Median of ``key``'s first list over several artifacts, over the median of its second."""
    pooled: dict[str, list[float]] = {}
    for name in claim["artifacts"]:
        for side, values in _get(_load(root / "benchmarks" / name), claim["key"]).items():
            pooled.setdefault(side, []).extend(values)
    first, second = claim["sides"]
    return statistics.median(pooled[first]) / statistics.median(pooled[second])


def recompute(claim: dict, root: Path = ROOT) -> float:
    """The figure of ``claim`` recomputed from its artifact (before ``scale`` and ``fmt``)."""
    if claim["how"] == "bleu":
        return _bleu(claim, root)
    if claim["how"] == "pooled_ratio":
        return _pooled_ratio(claim, root)
    if "artifacts" in claim:
        data = [_load(root / "benchmarks" / name) for name in claim["artifacts"]]
    else:
        data = _load(root / "benchmarks" / claim["artifact"])
    return RECOMPUTE[claim["how"]](claim, data)


def printed(claim: dict, value: float) -> str:
    return claim.get("fmt", "{:.4f}").format(value * claim.get("scale", 1))


def occurrences(figure: str, text: str) -> int:
    """How often ``figure`` stands in ``text`` as a whole number (not inside 41.265 or 141.26)."""
    return len(re.findall(r"(?<![\d.])" + re.escape(figure) + r"(?![\d])", text))


def cells_of(row: str) -> list[str]:
    """A table row split at its unescaped ``|`` (a cell may hold ``\\|``)."""
    return re.split(r"(?<!\\)\|", row)


def headline_rows(results: str) -> dict[str, str]:
    """The rows of RESULTS.md's headline table by their first cell (text from ``## Headline
    figures`` to the next ``## `` heading)."""
    start = results.index("## Headline figures")
    end = results.find("\n## ", start + 1)
    rows = {}
    for line in results[start : end if end >= 0 else None].splitlines():
        cells = cells_of(line)
        if line.startswith("| ") and len(cells) > 3 and not set(cells[1].strip()) <= set("-"):
            first = cells[1].strip()
            rows[first if first not in rows else f"{first} (DUPLICATE first cell)"] = line
    return rows


def bold_figures(row: str) -> list[str]:
    """The numbers set in bold in a table row's value cell (its third cell)."""
    value = cells_of(row)[3]
    return [n for part in re.findall(r"\*\*(.+?)\*\*", value) for n in re.findall(r"-?\d[\d,]*(?:\.\d+)?x?", part)]


def pages_of(claim: dict) -> dict[str, int]:
    """How often the claim's figure stands in each page (repository-relative path); README.md is
    always counted (0 times unless the claim says otherwise)."""
    return {"README.md": 0, **claim.get("docs", {})}


def _problems(claim: dict, got: str, rows: dict[str, str], pages: dict[str, str]) -> list[str]:
    where = claim.get("artifact", claim.get("artifacts"))
    problems = [f"{where} gives {got}, the docs say {claim['shown']}"] if got != claim["shown"] else []
    row = rows.get(claim["table"])
    if row is None:
        problems.append(f"RESULTS.md's headline table has no row {claim['table']!r}")
    elif not occurrences(claim["shown"], row):
        problems.append(f"{claim['shown']} is not in RESULTS.md's headline row {claim['table']!r}")
    for page, expected in pages_of(claim).items():
        found = occurrences(claim["shown"], pages[page])
        if found != expected:
            problems.append(f"{claim['shown']} stands {found} times in {page}, {expected} expected")
    return problems


def check(root: Path = ROOT) -> list[str]:
    """One line per claim, ``ok`` or ``MISMATCH`` (or ``ERROR``) with what differs, then one per
    bold headline figure that no claim covers and no ``unchecked`` entry explains."""
    spec = json.loads((root / "benchmarks" / "headline.json").read_text())
    rows = headline_rows((root / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8"))
    pages = {
        page: (root / page).read_text(encoding="utf-8") if (root / page).is_file() else ""
        for claim in spec["claims"]
        for page in pages_of(claim)
    }
    lines = []
    for claim in spec["claims"]:
        name = f"{claim['table']}: {claim['metric']}"
        try:
            got = printed(claim, recompute(claim, root))
        except (OSError, KeyError, IndexError, ValueError, TypeError, ZeroDivisionError) as error:
            lines.append(
                f"ERROR    {name}: {claim.get('artifact', claim.get('artifacts'))}: {type(error).__name__}: {error}"
            )
            continue
        problems = _problems(claim, got, rows, pages)
        lines.append(f"MISMATCH {name}: {'; '.join(problems)}" if problems else f"ok       {name} = {got}")
    covered = {(c["table"], c["shown"]) for c in spec["claims"]} | {(u["table"], u["shown"]) for u in spec["unchecked"]}
    for first, row in rows.items():
        for figure in bold_figures(row):
            if (first, figure) not in covered:
                lines.append(f"UNCLAIMED {first}: the bold figure {figure} has no claim and no reason in 'unchecked'")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    for need in ("benchmarks/headline.json", "benchmarks/RESULTS.md", "README.md"):
        if not (args.root / need).is_file():
            parser.error(f"--root {args.root}: no {need} there (expected a checkout of rnnkit)")
    lines = check(args.root)
    print("\n".join(lines))
    bad = sum(not line.startswith("ok") for line in lines)
    print(
        f"{len(lines) - bad} of {len(lines)} checks hold (claims recomputed from their artifacts, bold headline "
        f"figures covered); {bad} do not"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
