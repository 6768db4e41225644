"""Reading the `forenscope eval` results that the effunet comparison scripts wrote
(`<results>/<who>-<set>/results.json`, by scripts/eval_effunet_runs.sh): pixel F1 averaged over
the five forgery kinds (CVIP: its one subset), the flag-everything map's figure beside it, and the
mean over the ten validation subsets that the decision rules in docs/RESULTS.md compare.
Shared by scripts/encoder_table.py, seed_table.py and candidate_decision.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

KINDS = ("splice", "copymove", "inpaint-telea", "inpaint-ns", "inpaint-patch")
VAL_SETS = ("standard-val", "realistic-val")


def subsets(set_name: str) -> list[str]:
    if set_name == "cvip":
        return ["copymove_cvip"]
    return ["inpaint-learned"] if "learned" in set_name else list(KINDS)  # the learned inpainter's sets: one kind


def read(root: Path, who: str, set_name: str) -> dict:
    return json.loads((Path(root) / f"{who}-{set_name}" / "results.json").read_text())


def kind_mean(result: dict, det: str, set_name: str, key: str = "f1_mean_per_image") -> float:
    """``key`` of detector ``det`` averaged over the set's subsets (the five kinds, or CVIP)."""
    m = result["metrics"][det]
    return float(np.mean([m[s][key] for s in subsets(set_name)]))


def flag_everything_f1(result: dict, set_name: str) -> float:
    b = result["baselines"]["flag everything"]
    return float(np.mean([b[s]["f1_mean_per_image"] for s in subsets(set_name)]))


def validation_mean_f1(root: Path, who: str, det: str) -> float:
    """Pixel F1 averaged over the ten validation subsets (five kinds, two recipes)."""
    return float(np.mean([read(root, who, n)["metrics"][det][k]["f1_mean_per_image"] for n in VAL_SETS for k in KINDS]))
