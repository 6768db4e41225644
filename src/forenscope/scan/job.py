"""``forenscope scan DIR --out REPORT``: every image of a folder through a set of detectors, one
fused verdict each, written as it goes and resumable.

``results.jsonl`` gets one line per input (analysed, failed or duplicate), appended, flushed
and fsync'd before the next image starts; an image's pictures (thumbnail, overlay, mask, ELA,
noise) are written *before* its line, so a line always means complete. Killed at any moment
and run again, the scan drops a torn last line, skips every input that has a line and goes on;
duplicates (same bytes) get a line pointing at the first copy and are not analysed twice.
``report.html`` and ``summary.png`` are rewritten from the lines at the end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from forenscope.data.inputs import iter_image_files
from forenscope.scan.analyse import ScanConfig, _FolderError, _key, analyse_file  # noqa: F401 (ScanConfig: re-exported)

RESULTS = "results.jsonl"


def read_done(results: Path) -> list[dict]:
    """The complete lines of a previous run; a torn last line (killed mid-write) is cut off."""
    if not results.is_file():
        return []
    rows, good_bytes = [], 0
    with open(results, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            try:
                rows.append(json.loads(raw))
            except json.JSONDecodeError:
                break
            good_bytes += len(raw)
    if good_bytes != results.stat().st_size:
        with open(results, "r+b") as fh:
            fh.truncate(good_bytes)
    return rows


def append_line(fh, row: dict) -> None:
    fh.write(json.dumps(row) + "\n")
    fh.flush()
    os.fsync(fh.fileno())


def scan(folder: Path, out: Path, cfg: ScanConfig, log: Callable[[str], None] = print,
         progress: Callable[[int], Callable[[], None]] | None = None, detectors: list | None = None,
         engine: str = "local", workers: int = 2, parquet: bool = False, gpus_per_worker: float = 0.0) -> dict:
    """Scan ``folder`` into ``out``; returns counts. ``progress(total)`` gives a step callback;
    ``detectors``: already loaded ones (else loaded from ``cfg.detectors``). ``engine="ray"``
    analyses on ``workers`` Ray actors (see scan_ray); lines are written here either way.
    ``parquet``: also write results.parquet (see :func:`write_parquet`)."""
    from forenscope.detectors import load_detector

    folder, out = Path(folder), Path(out)
    files, todo, first_of = plan(folder, out, log)
    if engine == "ray":
        from itertools import chain

        from forenscope.scan.ray_engine import analysed_rows

        paths = [p for p in todo if not isinstance(p, _FolderError)]
        folder_rows = [analyse_file(p, folder, out, [], cfg, first_of) for p in todo if isinstance(p, _FolderError)]
        rows = chain(analysed_rows(paths, folder, out, cfg, workers, gpus_per_worker), folder_rows)
    elif engine == "local":
        dets = detectors or [load_detector(name) for name in cfg.detectors]
        rows = (analyse_file(path, folder, out, dets, cfg, first_of) for path in todo)
    else:
        raise ValueError(f"engine must be local or ray, got {engine!r}")
    step = progress(len(todo)) if progress else (lambda: None)
    counts = {"analysed": 0, "failed": 0, "duplicates": 0, "skipped": len(files) - len(todo)}
    with open(out / RESULTS, "a", encoding="utf-8") as fh:
        for row in rows:
            row = record(fh, row, first_of)
            counts["duplicates" if row.get("duplicate_of") else "failed" if row.get("error") else "analysed"] += 1
            if row.get("error"):
                log(f"error: {row['error']}")
            step()
    from forenscope.report.html import write_report

    write_report(out, read_done(out / RESULTS), cfg)
    if parquet:
        write_parquet(out)
    return counts


PARQUET = "results.parquet"
PARQUET_FIELDS = ("path", "sha256", "verdict", "confidence", "error", "duplicate_of", "seconds")  # flat columns


def write_parquet(out: Path) -> Path:
    """``results.parquet`` from ``results.jsonl``, for analytics at scale (pandas, DuckDB, Spark):
    one row per input with flat columns (path, sha256, verdict, confidence, error, duplicate_of,
    seconds, ``<detector>_score`` and ``<detector>_label``) and the full line as JSON in
    ``record``. Rewritten whole after each run; the JSONL stays the durable, resumable log."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("Parquet output needs pyarrow: pip install pyarrow (or 'forenscope[distributed]')") from None
    rows = read_done(Path(out) / RESULTS)
    names = list(dict.fromkeys(e["detector"] for r in rows for e in r.get("evidence") or []))
    columns: dict[str, list] = {k: [] for k in PARQUET_FIELDS}
    for name in names:
        columns[f"{name}_score"], columns[f"{name}_label"] = [], []
    columns["record"] = []
    for r in rows:
        for k in PARQUET_FIELDS:
            columns[k].append(r.get(k))
        by_name = {e["detector"]: e for e in r.get("evidence") or []}
        for name in names:
            columns[f"{name}_score"].append(by_name[name]["score"] if name in by_name else None)
            columns[f"{name}_label"].append(by_name[name]["label"] if name in by_name else None)
        columns["record"].append(json.dumps(r, sort_keys=True))
    types = {"confidence": pa.float64(), "seconds": pa.float64(),
             **{f"{n}_score": pa.float64() for n in names}}
    table = pa.table({k: pa.array(v, type=types.get(k, pa.string())) for k, v in columns.items()})
    path = Path(out) / PARQUET
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)  # never a half-written file under the real name
    return path


def plan(folder: Path, out: Path, log: Callable[[str], None]) -> tuple[list[Path], list[Path], dict]:
    """(every input, those still to do, {sha256: first path} of what is done): a torn last line
    of a killed run is cut off first."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    out.mkdir(parents=True, exist_ok=True)
    done = read_done(out / RESULTS)
    failed = [r for r in done if r.get("error")]
    if failed:  # retried: their lines go, so a file has one line, its latest outcome
        done = [r for r in done if not r.get("error")]
        _rewrite(out / RESULTS, done)
    done_paths = {r["path"] for r in done}
    first_of = {r["sha256"]: r["path"] for r in done if r.get("sha256") and not r.get("duplicate_of")}
    own = out.resolve()
    unreadable: list = []
    files = [p for p in iter_image_files(folder, unreadable) if not p.resolve().is_relative_to(own)]  # never its own report
    if not files and not unreadable:
        raise FileNotFoundError(f"no images in {folder} (searched recursively by file extension)")
    todo = [p for p in files if _key(p, folder) not in done_paths]
    if done or failed:
        log(f"resuming: {len(done_paths)} of {len(files)} inputs already done"
            + (f"; retrying {len(failed)} that failed" if failed else ""))
    # a folder that cannot be listed is a failed input of its own: reported, retried on resume
    todo += [_FolderError(path, reason) for path, reason in unreadable]
    return files, todo, first_of


def _rewrite(results: Path, rows: list[dict]) -> None:
    """Replace the results file by ``rows``, atomically (a kill leaves the old or the new)."""
    tmp = results.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(results)


def record(fh, row: dict, first_of: dict) -> dict:
    """Append a result line; a file whose bytes were analysed already (by another worker)
    becomes a duplicate line."""
    sha = row.get("sha256")
    if sha and not row.get("error") and not row.get("duplicate_of"):
        if sha in first_of and first_of[sha] != row["path"]:
            row = {"path": row["path"], "sha256": sha, "verdict": "duplicate", "error": None,
                   "duplicate_of": first_of[sha]}
        else:
            first_of[sha] = row["path"]
    append_line(fh, row)
    return row
