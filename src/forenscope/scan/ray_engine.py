"""The scan on Ray (``forenscope scan DIR --out REPORT --engine ray``): the same per-image
analysis (:func:`forenscope.scan.analyse.analyse_file`) on a pool of Ray actors, each loading
the detectors once, fed by a streaming Ray Data pipeline (read -> decode -> detect), so memory
stays bounded however many images there are. The driver writes the result lines as they
arrive, in input order, exactly as the local scan does, so resuming, duplicates and the report
work the same. Pictures are written by the actors into the report folder: on a cluster it must
be on a shared file system. With ``RAY_ADDRESS`` set, it joins that cluster; otherwise it
starts a local Ray instance. Needs ``pip install 'forenscope[distributed]'``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Iterator


class _Analyse:
    """A Ray actor: detectors loaded once, then batches of paths -> result lines (JSON)."""

    def __init__(self, folder: str, out: str, cfg_json: str):
        from forenscope.detectors import load_detector
        from forenscope.scan.analyse import ScanConfig

        self.folder, self.out = Path(folder), Path(out)
        self.cfg = ScanConfig(**json.loads(cfg_json))
        self.detectors = [load_detector(name, threads=1) if _takes_threads(name) else load_detector(name)
                          for name in self.cfg.detectors]

    def __call__(self, batch: dict) -> dict:
        from forenscope.scan.analyse import analyse_file

        lines = [json.dumps(analyse_file(Path(p), self.folder, self.out, self.detectors, self.cfg, {}))
                 for p in batch["path"]]
        return {"line": lines}


def _takes_threads(name: str) -> bool:
    import inspect

    from forenscope.detectors.registry import get_detector_class

    return "threads" in inspect.signature(get_detector_class(name).__init__).parameters


def analysed_rows(todo: list[Path], folder: Path, out: Path, cfg, workers: int,
                  gpus_per_worker: float = 0.0) -> Iterator[dict]:
    """Result rows of ``todo``, in order, computed on ``workers`` actors of one CPU each (and
    ``gpus_per_worker`` GPUs: the networks then run on ONNX Runtime's CUDA provider, which
    needs the onnxruntime-gpu package on the workers)."""
    if not todo:
        return iter(())
    import ray
    import ray.data

    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):
            ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False)
        else:
            ray.init(num_cpus=max(workers, 1), include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # lines in input order, as the local scan writes them
    ctx.enable_progress_bars = False
    cfg_json = json.dumps({"detectors": cfg.detectors, "band": cfg.band, "max_pixels": cfg.max_pixels,
                           "views": cfg.views})
    blocks = min(len(todo), max(2 * workers, len(todo) // 4))  # enough blocks to keep every actor busy
    ds = ray.data.from_items([{"path": str(p)} for p in todo], override_num_blocks=blocks)
    ds = ds.map_batches(_Analyse, fn_constructor_args=(str(folder), str(out), cfg_json), batch_size=4,
                        compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1,
                        **({"num_gpus": gpus_per_worker} if gpus_per_worker else {}))
    return (json.loads(row["line"]) for row in ds.iter_rows())
