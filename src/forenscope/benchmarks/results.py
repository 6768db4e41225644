"""The files a benchmark writes: results.json, results.md and results.png (one writer, so that
every protocol's folder looks the same)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from forenscope.records import write_results


def write_benchmark_results(result: dict, out: Path, to_markdown: Callable[[dict], str],
                            to_plot: Callable[[dict, Path], None]) -> dict:
    """results.json, results.md and results.png of a benchmark into ``out``; returns ``result``."""
    write_results(out, result, to_markdown)
    to_plot(result, out / "results.png")
    return result
