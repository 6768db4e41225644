"""Scores of every shipped trained detector on examples/, written to tests/data/example_scores.json.

The table `tests/test_example_scores.py` compares against: a refactor must leave every shipped
model's output as it was. Rerun (and commit the table) only when weights change on purpose:

    .venv/bin/python scripts/example_scores.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "tests" / "data" / "example_scores.json"
DETECTORS = ("npr", "pelee-hpf", "lite-probe", "lite-probe-pair", "cooc3", "iidnet", "hlstm", "jlstm", "effunet", "effunet-cm")


def example_images() -> list[Path]:
    return sorted(p for sub in ("original", "forged") for p in (ROOT / "examples" / sub).iterdir()
                  if p.suffix.lower() in (".png", ".jpg"))


def example_scores(names=DETECTORS) -> dict:
    """detector -> image -> score, label and (for maps) the map's mean and 99th percentile."""
    from forenscope.detectors import load_detector
    from forenscope.imageio import read_image

    images = {p.relative_to(ROOT).as_posix(): read_image(p) for p in example_images()}
    out = {}
    for name in names:
        det = load_detector(name)
        rows = {}
        for key, (rgb, meta) in images.items():
            a = det.analyze(rgb, meta)
            row = {"score": round(float(a.score), 6), "label": a.label}
            if a.heatmap is not None:
                row |= {"map_mean": round(float(np.mean(a.heatmap)), 6),
                        "map_p99": round(float(np.percentile(a.heatmap, 99)), 6)}
            rows[key] = row
        out[name] = rows
    return out


if __name__ == "__main__":
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text(json.dumps(example_scores(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {TABLE}")
