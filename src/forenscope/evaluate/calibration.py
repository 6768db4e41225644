"""``forenscope calibrate CONFIG``: make every detector's score a probability that means what it
says, and show how far it does.

For each detector: raw scores on a validation set (fit) and a test set (report) built exactly as
the robustness suite builds them; Platt scaling on the logit of the raw score fitted on the
validation scores; expected calibration error (ECE, equal-width bins), Brier score and a
reliability diagram before and after, on both sets; the false-positive and true-positive rates
at the card's threshold on the test set. ``--ship`` writes the fit and these figures into the
shipped cards, after which ``load_detector`` reports calibrated scores.

Generated-image detectors are fitted on the generators they were trained on (``fit_generators``)
and reported on the test generators, unseen ones included, so drift on a new generator shows.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from forenscope.detectors.calibration import calibrate, logit
from forenscope.records import write_card, write_results

Log = Callable[[str], None]
DEFAULTS = {
    "seed": 0,
    "bins": 10,
    "generated": {"detectors": [], "fit_generators": ["latent_diffusion"],
                  "generators": ["latent_diffusion", "glid3"], "limit": 120},
    "localize": {"detectors": [], "forgeries": "work/synth-forgeries", "split": "test", "limit": 60},
}


class CalibrationError(ValueError):
    pass


def load_config(path: Path) -> dict:
    from forenscope.evaluate.robustness import toml_over_defaults

    return toml_over_defaults(path, DEFAULTS, CalibrationError)


def fit_platt(y, raw, c: float = 1.0) -> dict:
    """``p = sigmoid(a * logit(raw) + b)`` by maximum likelihood (Newton's method), with the
    slope lightly L2-penalised (``0.5 a^2 / c``, as scikit-learn's C = 1) so that a validation
    set the detector separates perfectly gives a finite, not an infinite, confidence. Refuses a
    decreasing fit: that detector ranks the classes the wrong way round."""
    y = np.asarray(y, dtype=float)
    if len(set(y.tolist())) < 2:
        raise CalibrationError("calibration needs both classes in the validation scores")
    x = np.c_[logit(np.asarray(raw, dtype=np.float64).reshape(-1)), np.ones(len(y))]
    w = np.zeros(2)
    penalty = np.array([1.0 / c, 1e-9])  # the intercept is (almost) free
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -500, 500)))
        grad = x.T @ (p - y) + penalty * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    a, b = float(w[0]), float(w[1])
    if a <= 0:
        raise CalibrationError(f"the fitted slope is {a:.3g} <= 0: scores do not rise with the positive class")
    return {"method": "platt", "a": a, "b": b, "prior": round(float(y.mean()), 4), "n": int(len(y))}


def reliability(y, p, bins: int) -> list[dict]:
    """Equal-width bins of predicted probability: mean prediction, observed positive rate, count."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for k in range(bins):
        sel = which == k
        if sel.any():
            out.append({"bin": [k / bins, (k + 1) / bins], "mean_p": float(p[sel].mean()),
                        "positive_rate": float(y[sel].mean()), "n": int(sel.sum())})
    return out


def ece(y, p, bins: int) -> float:
    """Expected calibration error: the count-weighted mean |positive rate - mean prediction|."""
    n = len(y)
    return float(sum(b["n"] * abs(b["positive_rate"] - b["mean_p"]) for b in reliability(y, p, bins)) / n)


def figures(y, raw, cal: dict | None, threshold_raw: float, bins: int) -> dict:
    """Calibration figures of one set: ECE and Brier of the raw scores and, given a fit
    (``cal``), of the calibrated ones; rates at the threshold."""
    y = np.asarray(y, dtype=int)
    raw = np.asarray(raw, dtype=float)
    flagged = raw >= threshold_raw
    fig = {
        "n": int(len(y)), "positives": int(y.sum()),
        "ece_raw": round(ece(y, raw, bins), 4), "brier_raw": round(float(np.mean((raw - y) ** 2)), 4),
        "false_positive_rate": round(float(flagged[y == 0].mean()), 4) if (y == 0).any() else None,
        "true_positive_rate": round(float(flagged[y == 1].mean()), 4) if (y == 1).any() else None,
        "reliability_raw": reliability(y, raw, bins),
    }
    if cal is not None:
        p = np.array([calibrate(cal, s) for s in raw])
        fig |= {"ece": round(ece(y, p, bins), 4), "brier": round(float(np.mean((p - y) ** 2)), 4),
                "reliability": reliability(y, p, bins)}
    return fig


def _sets(cfg: dict, data: Path, split: str, log: Log) -> dict:
    """{"generated" | "localize": (images, labels)} for the detectors the config lists."""
    from forenscope.evaluate.robustness import generated_set, localize_set

    out = {}
    if cfg["generated"]["detectors"]:
        gens = cfg["generated"]["fit_generators" if split == "val" else "generators"]
        images, y = generated_set(cfg, data, split, gens)
        out["generated"] = (images, y.astype(int))
        log(f"{split} generated set ({', '.join(gens)}): {int((y == 0).sum())} real, {int(y.sum())} generated")
    if cfg["localize"]["detectors"]:
        images, masks = localize_set(cfg, split="val" if split == "val" else cfg["localize"]["split"])
        out["localize"] = (images, np.array([int(m.any()) for m in masks]))
        log(f"{split} localisation set: {len(images) - int(out['localize'][1].sum())} authentic, "
            f"{int(out['localize'][1].sum())} manipulated")
    return out


def raw_scores(det, images, progress: Callable = lambda it, **kw: it) -> np.ndarray:
    return np.array([det.analyze(img).score for img in progress(images, desc=det.name)])


def run_calibration(cfg: dict, out: Path, data: Path, log: Log = print, config_path: str = "") -> dict:
    """Fit and report every listed detector; writes results.json, results.md and one
    reliability diagram per detector (``<name>.png``) into ``out``."""
    from forenscope.detectors import load_detector
    from forenscope.records import environment, git_commit

    t0, git = time.time(), git_commit()  # the code that runs: taken before, not after
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sets = {split: _sets(cfg, data, split, log) for split in ("val", "test")}
    names = list(dict.fromkeys(cfg["generated"]["detectors"] + cfg["localize"]["detectors"]))
    result = {"config": cfg, "config_path": config_path, "detectors": {}}
    for name in names:
        det = load_detector(name, calibrated=False)
        kinds = [k for k in ("generated", "localize") if name in cfg[k]["detectors"]]
        scored = {}
        for split in ("val", "test"):
            y = np.concatenate([sets[split][k][1] for k in kinds])
            s = np.concatenate([raw_scores(det, sets[split][k][0]) for k in kinds])
            scored[split] = (y, s)
        try:
            cal = fit_platt(*scored["val"])
        except CalibrationError as exc:  # reported with the raw figures; the other detectors go on
            result["detectors"][name] = {
                "error": str(exc), "threshold_raw": det.threshold,
                **{key: figures(*scored[split], None, det.threshold, cfg["bins"])
                   for key, split in (("validation", "val"), ("test", "test"))}}
            log(f"{name}: not calibrated: {exc}")
            continue
        cal["fitted_on"] = f"{' + '.join(kinds)} validation set of {config_path or 'the config'}"
        entry = {"calibration": cal, "threshold_raw": det.threshold, "threshold": calibrate(cal, det.threshold),
                 "validation": figures(*scored["val"], cal, det.threshold, cfg["bins"]),
                 "test": figures(*scored["test"], cal, det.threshold, cfg["bins"]),
                 "figure": f"{name}.png"}
        result["detectors"][name] = entry
        plot(name, entry, out / f"{name}.png")
        log(f"{name}: ECE on test {entry['test']['ece_raw']:.3f} -> {entry['test']['ece']:.3f}, "
            f"Brier {entry['test']['brier_raw']:.3f} -> {entry['test']['brier']:.3f}; threshold "
            f"{det.threshold:.4g} -> {entry['threshold']:.3f}; test FPR {entry['test']['false_positive_rate']}")
    result |= {"seconds": round(time.time() - t0), "git": git, "environment": environment()}
    write_results(out, result, markdown)
    return result


def markdown(result: dict) -> str:
    lines = [f"# Calibration: `{result['config_path']}`", "",
             "Platt scaling fitted on the validation set; figures on the test set (ECE: 10 equal-width bins).", "",
             "| detector | ECE raw -> calibrated | Brier raw -> calibrated | threshold (calibrated) | test FPR | test TPR |",
             "|---|---|---|---|---|---|"]
    for name, e in result["detectors"].items():
        if "error" in e:
            t = e.get("test", {})
            raw = f" (raw ECE {t['ece_raw']:.3f}, Brier {t['brier_raw']:.3f})" if "ece_raw" in t else ""
            lines.append(f"| {name} | not calibrated{raw}: {e['error']} | | {e.get('threshold_raw', '')} (raw) | "
                         f"{t.get('false_positive_rate', '')} | {t.get('true_positive_rate', '')} |")
            continue
        t = e["test"]
        lines.append(f"| {name} | {t['ece_raw']:.3f} -> {t['ece']:.3f} | {t['brier_raw']:.3f} -> {t['brier']:.3f} | "
                     f"{e['threshold']:.3f} | {t['false_positive_rate']} | {t['true_positive_rate']} |")
    git = result["git"]
    lines += ["", f"Seed {result['config']['seed']}; commit `{str(git.get('commit'))[:10]}`"
              f"{' (dirty)' if git.get('dirty') else ''}; {result['seconds'] / 60:.0f} min."]
    return "\n".join(lines) + "\n"


def plot(name: str, entry: dict, path: Path) -> None:
    """Reliability diagram on the test set, raw and calibrated, with the bins' counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.6, 3.4), dpi=100)
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls=":")
    t = entry["test"]
    for key, label, style in (("reliability_raw", f"raw (ECE {t['ece_raw']:.3f})", "s--"),
                              ("reliability", f"calibrated (ECE {t['ece']:.3f})", "o-")):
        bins = t[key]
        ax.plot([b["mean_p"] for b in bins], [b["positive_rate"] for b in bins], style, ms=3, label=label)
    ax.axvline(entry["threshold"], color="C3", lw=0.8, label=f"threshold {entry['threshold']:.2f}")
    ax.set_xlabel("predicted probability", fontsize=8)
    ax.set_ylabel("observed positive rate", fontsize=8)
    ax.set_title(f"{name}: test set (n={t['n']})", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def card_block(name: str, entry: dict, source: str) -> dict:
    """What a shipped card keeps: the fit, and the figures without the per-bin tables."""
    keep = ("n", "positives", "ece_raw", "ece", "brier_raw", "brier", "false_positive_rate", "true_positive_rate")
    if "error" in entry:  # the figures of the raw scores, and why they stay raw
        return {"method": None, "not_calibrated": entry["error"], "threshold_raw": entry["threshold_raw"],
                **{split: {k: entry[split][k] for k in keep if k in entry[split]} for split in ("validation", "test")},
                "source": f"{source}/results.json"}
    return entry["calibration"] | {
        "threshold": entry["threshold"],
        "validation": {k: entry["validation"][k] for k in keep},
        "test": {k: entry["test"][k] for k in keep},
        "reliability_diagram": f"{source}/{entry['figure']}",
        "source": f"{source}/results.json",
    }


def ship(result: dict, source: str, log: Log = print, weights: Path | None = None) -> list[str]:
    """Write each detector's calibration into its shipped card (weights/<name>.json)."""
    from forenscope.detectors.base import weights_dir

    written = []
    for name, entry in result["detectors"].items():
        path = Path(weights or weights_dir()) / f"{name}.json"
        if not path.is_file() or ("error" in entry and "test" not in entry):
            log(f"{name}: {'no figures' if path.is_file() else 'no shipped card'}; not written")
            continue
        card = json.loads(path.read_text(encoding="utf-8"))
        card["calibration"] = card_block(name, entry, source)
        write_card(path, card)
        written.append(name)
    return written
