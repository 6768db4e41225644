"""Checks on the written results: the tables must not overstate."""

from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _table_headers(text: str) -> list[str]:
    lines = text.splitlines()
    return [line for line, nxt in zip(lines, lines[1:]) if line.startswith("|") and nxt.startswith("|---")]


def test_every_macro_f1_table_shows_balanced_accuracy():
    """Issue 19 (13): macro-F1 drops the classes a test set lacks; balanced accuracy sits beside it."""
    files = [DOCS / "RESULTS.md", *sorted((DOCS / "results").rglob("*.md"))]
    checked = 0
    for path in files:
        for header in _table_headers(path.read_text()):
            if "macro-F1" in header:
                checked += 1
                assert "balanced acc" in header, f"{path.name}: {header}"
    assert checked >= 4
