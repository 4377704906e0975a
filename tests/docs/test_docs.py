"""The docs stay true: every generated table (bench/*.json -> docs pages and the README summary, and the CLI reference
from the Typer app) is what scripts/docs_tables.py renders now, every relative link in README.md and docs/ resolves
(a #fragment to a heading of its page), and the README stays a README."""
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import docs_tables  # noqa: E402

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "shrink_edge").rglob("README.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's ids for the page's headings: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    found = set()
    for title in re.findall(r"^#+\s+(.+?)\s*$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", title.replace("`", "").lower()).replace(" ", "-")
        n, candidate = 1, slug
        while candidate in found:
            candidate, n = f"{slug}-{n}", n + 1
        found.add(candidate)
    return found


def test_every_generated_table_is_current():
    assert docs_tables.problems() == {}, "run: .venv/bin/python scripts/docs_tables.py"


def test_the_check_notices_a_stale_table(tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    start, end = docs_tables.markers("layers")
    page.write_text(f"before\n{start}\n| an old row |\n{end}\nafter\n")
    monkeypatch.setattr(docs_tables, "PAGES", {"layers": str(page)})  # absolute: ROOT / page is the page
    assert docs_tables.stale() == ["layers"]
    docs_tables.write("layers")
    assert docs_tables.stale() == [] and page.read_text().startswith("before\n") and "an old row" not in page.read_text()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    text = re.sub(r"```.*?```|`[^`\n]*`", "", page.read_text(), flags=re.S)
    broken = []
    for match in LINK.finditer(text):
        link = match.group(1) or match.group(2)
        if re.match(r"[a-z]+:", link):
            continue
        path, _, fragment = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(link)
        elif fragment and target.suffix == ".md" and fragment not in anchors(target):
            broken.append(link)
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_the_readme_is_short():
    assert (ROOT / "README.md").stat().st_size <= 12 * 1024
