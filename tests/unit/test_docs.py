"""Code that cites the design notes cites a section that exists, in a file in the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CITE = re.compile(r"([\w/.]*DESIGN\.md) §(\d+)")


def test_every_cited_design_section_exists() -> None:
    design = (ROOT / "docs" / "DESIGN.md").read_text()
    sections = {int(n) for n in re.findall(r"^## (\d+)\.", design, flags=re.M)}
    citations = []
    for folder in ("functions", "infra", "bench", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            citations += [(path, doc, int(n)) for doc, n in CITE.findall(path.read_text())]
    assert citations, "the code cites the design notes; the regex must find them"
    wrong = [f"{p.relative_to(ROOT)}: {doc} §{n}" for p, doc, n in citations
             if doc != "docs/DESIGN.md" or n not in sections]
    assert wrong == []
