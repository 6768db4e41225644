"""Where a number came from: git commit, versions, time. Written into every result file."""

from __future__ import annotations

import datetime as _dt
import json
import platform
import subprocess
import sys
from pathlib import Path


OUTPUT_FOLDERS = ("docs/results", "bench/results")


def git_commit(where: Path | None = None) -> dict:
    """The commit of the forenscope checkout and whether it had uncommitted changes. Result
    folders (docs/results, bench/results) are outputs, not inputs: a job that writes several
    of them in a row still records a clean tree."""
    where = where or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no", "--",
                                ":/", *(f":(exclude,top){p}" for p in OUTPUT_FOLDERS)],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    if commit.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def environment() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import numpy
    import PIL

    try:  # from the installed metadata: importing the package root would load the detectors
        ours = version("forenscope")
    except PackageNotFoundError:
        ours = "unknown (not installed)"
    return {
        "forenscope": ours,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
        "platform": platform.platform(),
        "argv": sys.argv,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def finite(o):
    """``o`` as strict JSON values, arrays in full (analysis.jsonable without the size limit)."""
    from forenscope.analysis import jsonable

    return jsonable(o, max_array=None)


def write_json(path: Path, obj) -> Path:
    """The one way result files and cards are written: indented, valid JSON, a final newline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(finite(obj), indent=2) + "\n", encoding="utf-8")
    return path


def write_card(path: Path, card: dict) -> Path:
    """A model card (a run's card.json or a shipped weights/<name>.json)."""
    return write_json(path, card)


def write_results(out: Path, result: dict, to_markdown) -> dict[str, Path]:
    """results.json and results.md (``to_markdown(result)``) of a job into ``out``."""
    out = Path(out)
    paths = {"json": write_json(out / "results.json", result), "md": out / "results.md"}
    paths["md"].write_text(to_markdown(result), encoding="utf-8")
    return paths
