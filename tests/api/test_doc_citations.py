"""Code and docs cite pages of docs/, never files outside the repository, and every cited
section of a reference page exists (docs/README.md, "How code cites these docs")."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"
OUTSIDE = re.compile(r"\.\./shared|shared/(spec|notes|seeds)|\bDESIGN\.md|\bspec 0[1-4]\b")
CITATION = re.compile(r"\b(datasets|training|serving)\.md §(\d+(?:\.\d+)?)")
TEXT = (".py", ".md", ".toml", ".yaml", ".yml", ".proto", ".txt")


def _tracked_text() -> dict[str, str]:
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    return {n: (ROOT / n).read_text(encoding="utf-8") for n in names
            if n.endswith(TEXT) and (ROOT / n).is_file() and "_pb2" not in n}


def _sections(page: str) -> set[str]:
    text = (REFERENCE / f"{page}.md").read_text(encoding="utf-8")
    return set(re.findall(r"^#+ (\d+(?:\.\d+)?)[. ]", text, re.M))


def test_nothing_points_outside_the_repository():
    found = [f"{name}:{n}: {line.strip()}" for name, text in _tracked_text().items()
             if not name.startswith("docs/reference/") and name != "docs/README.md"
             and name != "tests/api/test_doc_citations.py"
             for n, line in enumerate(text.splitlines(), 1) if OUTSIDE.search(line)]
    assert not found, "\n".join(found)


def test_every_cited_section_exists():
    sections = {page: _sections(page) for page in ("datasets", "training", "serving")}
    missing = sorted({f"{page}.md §{number} ({name})"
                      for name, text in _tracked_text().items()
                      for page, number in CITATION.findall(text)
                      # `§9.5` may be item 5 of section 9 (docs/README.md)
                      if number not in sections[page]
                      and number.split(".")[0] not in sections[page]})
    assert not missing, missing
