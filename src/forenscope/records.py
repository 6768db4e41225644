"""Where a number came from: git commit, versions, time. Written into every result file."""

from __future__ import annotations

import datetime as _dt
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
