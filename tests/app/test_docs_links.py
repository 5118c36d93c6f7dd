"""Every relative link of the README, benchmarks/RESULTS.md and docs/ names a file or folder of
the repository, and every #anchor a heading of the page it points into (GitHub's anchor rules)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "benchmarks" / "RESULTS.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)


def anchors(page: Path) -> set[str]:
    """The #anchors GitHub gives the page's headings: lowercased, punctuation dropped, spaces as
    hyphens, a repeated heading numbered -1, -2, ..."""
    slugs, seen = set(), {}
    for line in FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"#{1,6} (.*)", line)
        if match:
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            slugs.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
            seen[slug] = seen.get(slug, 0) + 1
    return slugs


def broken(page: Path, root: Path = ROOT) -> list[str]:
    problems = []
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        path, _, fragment = target.partition("#")
        where = (page.parent / path).resolve() if path else page
        if not where.exists():
            problems.append(f"{page.relative_to(root)}: {target}: no such file")
        elif fragment and where.suffix == ".md" and fragment not in anchors(where):
            problems.append(f"{page.relative_to(root)}: {target}: no heading #{fragment} there")
    return problems


def test_the_pages_exist():
    assert (ROOT / "docs" / "recipes").is_dir() and len(PAGES) > 3


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_names_an_existing_file_and_heading(page):
    problems = broken(page)
    assert not problems, "\n".join(problems)


def test_a_broken_link_is_caught(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n[ok](#title) [gone](nowhere.md) [bad](#nothing) [web](https://x.org)\n"
        "```\n[in code](ignored.md)\n```\n"
    )
    assert broken(page, root=tmp_path) == [
        "page.md: nowhere.md: no such file",
        "page.md: #nothing: no heading #nothing there",
    ]
