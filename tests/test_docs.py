"""The README and every page under docs/ link only to files that exist.

A relative link or image (``[text](path)`` / ``![alt](path.png)``, with an optional
``#anchor``) must resolve from the page that holds it; an anchor into a Markdown page must
name one of its headings (GitHub's slug: lower case, punctuation dropped, spaces to ``-``).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces -> '-'."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def links(page: Path) -> list[str]:
    text = CODE.sub("", page.read_text(encoding="utf-8"))
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


def test_the_checker_sees_links_and_slugs():
    assert slug("Sentiment: SST-2 on honest held-out sentences") == "sentiment-sst-2-on-honest-held-out-sentences"
    assert slug("Text generation (`textgen`)") == "text-generation-textgen"
    assert "docs/usage.md" in links(ROOT / "README.md")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_and_images_resolve(page: Path):
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.name}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_readme_is_the_front_door():
    """The README stays short (the long sections live in docs/) and links every task's page."""
    from rnn_apps.models import TASKS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 300
    for name in TASKS:
        assert f"(docs/{name}.md)" in readme, f"README has no link to docs/{name}.md"
