"""Turn command-line inputs (files, folders, globs) into a deterministic list of image paths."""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

from forenscope.imageio import IMAGE_EXTENSIONS


@dataclass(frozen=True)
class InputItem:
    path: Path
    rel: Path  # where its outputs go, relative to an output folder
    error: str | None = None  # set when the input names nothing readable


def natural_key(path: Path) -> list:
    """Sort im2 before im10."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(path))]


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def iter_image_files(folder: Path, unreadable: list | None = None) -> list[Path]:
    """Image files under ``folder`` (recursive, by extension, hidden entries skipped), sorted.
    Sub-folders that cannot be listed are appended to ``unreadable`` as (path, reason)."""
    found = []

    def note(err: OSError) -> None:
        if unreadable is not None:
            unreadable.append((Path(err.filename or folder), err.strerror or str(err)))

    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False, onerror=note):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found += [Path(dirpath) / f for f in filenames if not f.startswith(".") and is_image_name(Path(f))]
    return sorted(found, key=natural_key)


def expand_inputs(inputs: list[str]) -> list[InputItem]:
    """Files are taken as given (content decides if they are images); folders are searched
    recursively for image extensions; anything else is a glob. An input that matches nothing
    becomes an item with ``error`` set, so it is reported and the run goes on."""
    items: list[InputItem] = []
    seen: set[Path] = set()

    def add(path: Path, rel: Path) -> None:
        try:
            key = path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:  # a looping or dangling link: report it, go on
            reason = "symbolic link loop" if isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == 40 \
                else "broken symbolic link" if path.is_symlink() else str(exc)
            items.append(InputItem(path, rel, error=f"cannot read: {reason}"))
            return
        if key not in seen:
            seen.add(key)
            items.append(InputItem(path, rel))

    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            unreadable: list = []
            for f in iter_image_files(p, unreadable):
                add(f, Path(p.resolve().name or "root") / f.relative_to(p))
            for path, reason in unreadable:
                items.append(InputItem(path, Path(path.name), error=f"cannot read folder: {reason}"))
        elif p.exists() or p.is_symlink():
            add(p, Path(p.name))
        else:
            matches = sorted((Path(m) for m in glob.glob(raw, recursive=True)), key=natural_key)
            files = [m for m in matches if m.is_file()]
            if not files:
                items.append(InputItem(p, Path(p.name), error="no such file, folder or matching glob"))
            for f in files:
                add(f, Path(f.name))
    return items


def unique_output_stems(items: list[InputItem]) -> list[Path]:
    """One output stem per item (relative path without extension), made unique with -2, -3."""
    used: set[str] = set()
    stems = []
    for item in items:
        base = item.rel.with_suffix("")
        stem, k = base, 2
        while str(stem).lower() in used:
            stem = base.with_name(f"{base.name}-{k}")
            k += 1
        used.add(str(stem).lower())
        stems.append(stem)
    return stems
