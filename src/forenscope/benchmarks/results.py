"""The files a benchmark writes: results.json, results.md and results.png (one writer, so that
every protocol's folder looks the same)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable


def write_benchmark_results(result: dict, out: Path, to_markdown: Callable[[dict], str],
                            to_plot: Callable[[dict, Path], None]) -> dict:
    """results.json, results.md and results.png of a benchmark into ``out``; returns ``result``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out / "results.md").write_text(to_markdown(result), encoding="utf-8")
    to_plot(result, out / "results.png")
    return result
