"""Evaluate the generated-image detectors under issue 3's protocol, in one command:

    .venv/bin/python scripts/eval_generated.py --out docs/results/generated --update-cards
    .venv/bin/python scripts/eval_generated.py --out docs/results/generated-runs --model none \
        --run npr-glid3=work/runs/npr-glid3 --run npr-cifake=work/runs/npr-cifake

(a) NPR protocol in miniature: every generator a model did not train on (the other real
    generator of generated_train, the simulated decoders left out), a row each and the mean of
    the unseen rows; generators it trained on are reported on their test split as "seen".
    Real class: test-split photos processed as in the wild (or a simulated fake's own source).
(b) CIFAKE held-in test split (models trained on CIFAKE only).
(c) faces_dev (StyleGAN vs FFHQ; validation only, never trained on).
(d) false-positive rate on test-split real photos at native size (no training step saw them).

Writes results.json (metrics, commit, configs, data hashes, seed) and results.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from forenscope.data.sources import CIFAKE_ZIP, ImageCache, generated_files  # noqa: E402
from forenscope.data.splits import data_root, real_photos, split_of  # noqa: E402
from forenscope.detectors import load_detector  # noqa: E402
from forenscope.evaluate.metrics import image_metrics  # noqa: E402
from forenscope.records import environment, git_commit  # noqa: E402
from forenscope.imageio import decode_image, read_image  # noqa: E402

REAL_GENERATORS = ("latent_diffusion", "glid3")
KEYS = ("acc", "real_acc", "fake_acc", "ap", "acc_at_0.5", "roc_auc")


def trained_generators(card: dict) -> set[str]:
    out = set()
    for src in card["training"]["config"]["data"]["sources"]:
        out |= set(src.get("generators") or ([] if src["source"] != "cifake" else ["cifake"]))
    return out


class TestSets:
    """Every test subset as (real images, fake images), built once and shared by all models."""

    def __init__(self, data: Path, synth: Path, seed: int):
        self.data, self.synth, self.seed = data, synth, seed
        self.cache = ImageCache(data, "test")
        self._wild: list[np.ndarray] = []

    def wild_reals(self, n: int) -> list[np.ndarray]:
        while len(self._wild) < n:
            rng = np.random.default_rng([self.seed, len(self._wild)])
            self._wild.append(self.cache.draw_photo(rng, 256, min_side=256))
        return self._wild[:n]

    def real_generator(self, gen: str, split: str | None) -> tuple[list, list]:
        fakes = [read_image(p)[0] for p, prompt in generated_files(self.data, gen)
                 if split is None or split_of(f"{gen}/{prompt}") == split]
        return self.wild_reals(len(fakes)), fakes

    def simulated(self, gen: str) -> tuple[list, list]:
        rows = [json.loads(line) for line in open(self.synth / "manifest.jsonl", encoding="utf-8")]
        rows = [r for r in rows if r["split"] == "test" and r["generator"] == gen]
        return ([read_image(self.synth / r["real"])[0] for r in rows],
                [read_image(self.synth / r["fake"])[0] for r in rows])

    def faces(self) -> tuple[list, list]:
        root = self.data / "faces_dev"
        return ([read_image(p)[0] for p in sorted((root / "0_real").iterdir())],
                [read_image(p)[0] for p in sorted((root / "1_fake").iterdir())])

    def cifake_test(self) -> tuple[list, list]:
        with zipfile.ZipFile(self.data / CIFAKE_ZIP) as z:
            names = sorted(n for n in z.namelist() if n.endswith(".jpg") and split_of(n) == "test")
            load = lambda n: decode_image(z.read(n), source=n)[0]  # noqa: E731
            return ([load(n) for n in names if n.startswith("0_real/")],
                    [load(n) for n in names if n.startswith("1_fake/")])

    def native_test_photos(self) -> list[np.ndarray]:
        return [read_image(p)[0] for key, p in real_photos(self.data) if split_of(key) == "test"]


def score_all(det, images: list[np.ndarray]) -> np.ndarray:
    return np.array([det.analyze(img).score for img in images])


def row(det, reals, fakes) -> dict:
    y = np.r_[np.zeros(len(reals)), np.ones(len(fakes))]
    s = np.r_[score_all(det, reals), score_all(det, fakes)]
    m = image_metrics(y, s, det.threshold)
    return {k: m[k] for k in ("n_real", "n_fake", *KEYS) if k in m}


def evaluate_model(name: str, det, sets: TestSets, log) -> dict:
    seen = trained_generators(det.card)
    out: dict = {"model": name, "trained_on": sorted(seen), "threshold": det.threshold, "rows": {}}
    if "cifake" in seen:
        out["rows"]["cifake (held-in test)"] = row(det, *sets.cifake_test())
        return out
    for gen in REAL_GENERATORS:
        key = f"{gen} ({'seen, test split' if gen in seen else 'unseen'})"
        out["rows"][key] = row(det, *sets.real_generator(gen, "test" if gen in seen else None))
        log(f"  {name} {key}: {out['rows'][key]}")
    simulated = json.loads((sets.synth / "generators.json").read_text())["generators"]
    for gen in simulated:
        key = f"{gen} ({'seen, test split' if gen in seen else 'unseen'})"
        out["rows"][key] = row(det, *sets.simulated(gen))
        log(f"  {name} {key}: {out['rows'][key]}")
    unseen = [r for k, r in out["rows"].items() if "unseen" in k]
    out["mean_unseen"] = {k: float(np.mean([r[k] for r in unseen])) for k in KEYS if all(k in r for r in unseen)}
    out["faces_dev"] = row(det, *sets.faces())
    native = score_all(det, sets.native_test_photos())
    out["real_photos_native_fpr"] = {"n": int(len(native)), "fpr": float(np.mean(native >= det.threshold)),
                                     "fpr_at_0.5": float(np.mean(native >= 0.5))}
    return out


def markdown(results: list[dict]) -> str:
    lines = ["| model | test set | n real / fake | acc | real acc | fake acc | AP | acc@0.5 |",
             "|---|---|---|---|---|---|---|---|"]
    fmt = lambda r: " | ".join(f"{r[k]:.3f}" for k in ("acc", "real_acc", "fake_acc", "ap", "acc_at_0.5"))  # noqa: E731
    for res in results:
        for key, r in res["rows"].items():
            lines.append(f"| {res['model']} | {key} | {r['n_real']} / {r['n_fake']} | {fmt(r)} |")
        if "mean_unseen" in res:
            lines.append(f"| {res['model']} | **mean of unseen rows** | | {fmt(res['mean_unseen'])} |")
            lines.append(f"| {res['model']} | faces_dev (StyleGAN vs FFHQ) | {res['faces_dev']['n_real']} / "
                         f"{res['faces_dev']['n_fake']} | {fmt(res['faces_dev'])} |")
            f = res["real_photos_native_fpr"]
            lines.append(f"| {res['model']} | real test photos, native size: false-positive rate | {f['n']} / 0 | "
                         f"FPR {f['fpr']:.3f} (at 0.5: {f['fpr_at_0.5']:.3f}) | | | | |")
    return "\n".join(lines) + "\n\nacc, real acc, fake acc at each model's calibrated threshold (its card).\n"


def update_cards(results: list[dict], source: Path) -> None:
    """Copy each shipped model's test numbers into its card, naming the JSON they came from."""
    weights = REPO / "src" / "forenscope" / "weights"
    for res in results:
        card_path = weights / f"{res['model']}.json"
        if not card_path.is_file() or res["config"].get("run"):
            continue
        card = json.loads(card_path.read_text())
        pick = lambda r: {k: r[k] for k in ("acc", "real_acc", "fake_acc", "ap") if k in r}  # noqa: E731
        card["metrics"] = {
            "validation": card["metrics"]["validation"],
            "unseen generators (mean)": pick(res["mean_unseen"]),
            "faces_dev": pick(res["faces_dev"]),
            "real test photos": {"false_positive_rate": res["real_photos_native_fpr"]["fpr"]},
            "source": source.resolve().relative_to(REPO).as_posix(),
        }
        card_path.write_text(json.dumps(card, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("docs/results/generated"))
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--synth", type=Path, default=Path("work/synth-generators"))
    ap.add_argument("--model", action="append", default=None, help="shipped detector(s); default npr, pelee-hpf; 'none' for runs only")
    ap.add_argument("--run", action="append", default=[], help="NAME=DIR of a `forenscope train` run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--update-cards", action="store_true", help="write the shipped models' numbers into their cards")
    args = ap.parse_args()
    data = data_root(args.data)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    models = [(n, load_detector(n, calibrated=False)) for n in (args.model or ["npr", "pelee-hpf"]) if n != "none"]  # raw outputs: acc@0.5 is the papers' convention
    models += [(spec.split("=", 1)[0], load_detector("pelee-hpf" if "pelee" in spec else "npr", run=spec.split("=", 1)[1]))
               for spec in args.run]
    sets = TestSets(data, args.synth, args.seed)
    results = []
    for name, det in models:
        t0 = time.time()
        log(f"{name} ({det.backend})")
        res = evaluate_model(name, det, sets, log)
        res["config"] = det.config()
        res["card_training"] = {k: det.card.get("training", {}).get(k) for k in ("config_hash", "data_manifest_sha256", "best_step")}
        res["seconds"] = round(time.time() - t0, 1)
        results.append(res)
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {"results": results, "seed": args.seed, "git": git_commit(), "environment": environment(),
           "synth_generators": json.loads((args.synth / "generators.json").read_text())}
    (args.out / "results.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (args.out / "results.md").write_text(markdown(results), encoding="utf-8")
    if args.update_cards:
        update_cards(results, args.out / "results.json")
    sys.stdout.write(markdown(results))


if __name__ == "__main__":
    main()
