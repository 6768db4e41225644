"""The leave-family-out benchmark's tables: per-seed means over left-out families, mean +- std
over seeds, the per-family table, results.md and the per-family plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from forenscope.benchmarks.pool_audit import audit_markdown


def summarise(runs: list[dict]) -> dict:
    """One seed: mean over left-out families (each is left out in exactly one fold)."""
    fams = [v for r in runs for v in r["families"].values()]
    faces = [r["faces_dev"] for r in runs if "faces_dev" in r]
    out = {k: float(np.mean([v[k] for v in fams])) for k in ("roc_auc", "ap", "fake_recall")}
    out["test_real_fpr"] = float(np.mean([r["test_real_fpr"] for r in runs]))
    out["families"] = len(fams)
    if faces:
        out |= {f"faces_{k}": float(np.mean([v[k] for v in faces])) for k in ("roc_auc", "fake_recall", "real_fpr")}
    return out


def headline(per_seed: dict, methods: list[dict]) -> dict:
    out = {}
    for m in methods:
        rows = [per_seed[s][m["name"]] for s in per_seed if m["name"] in per_seed[s]]
        out[m["name"]] = {k: {"mean": float(np.mean([r[k] for r in rows])), "std": float(np.std([r[k] for r in rows]))}
                          for k in rows[0] if k != "families"} | {"seeds": len(rows)}
    return out


def per_family(per_seed: dict, methods: list[dict]) -> dict:
    """Family -> method -> ROC-AUC / recall, mean over seeds."""
    out: dict = {}
    for m in methods:
        acc: dict = {}
        for s in per_seed:
            for r in per_seed[s]["_folds"].get(m["name"], []):
                for fam, v in r["families"].items():
                    acc.setdefault(fam, []).append(v)
        for fam, vs in acc.items():
            out.setdefault(fam, {})[m["name"]] = {k: float(np.mean([v[k] for v in vs])) for k in ("roc_auc", "fake_recall")} | {"n_fake": vs[0]["n_fake"]}
    return dict(sorted(out.items()))


def _pm(v: dict, digits: int = 3) -> str:
    return f"{v['mean']:.{digits}f} ± {v['std']:.{digits}f}"


def markdown(result: dict) -> str:
    p = result["protocol"]
    lines = [f"# Benchmark `{p['name']}`: {p.get('title', '')}", "", p.get("description", "").strip(), ""]
    c = result["counts"]
    lines += [f"Fakes: {sum(c['fake_by_family'].values())} images of {len(c['fake_by_family'])} families; reals: "
              f"{sum(c['real_by_source'].values())} images of {len(c['real_by_source'])} sources; "
              f"{len(p.get('seeds', []))} seeds x {p.get('folds')} folds. Leaks between training and test "
              f"(prompt or source file on both sides): {len(result['leaks'])}.", "",
              "Threshold: flags 5 % of the real VALIDATION split (per fold). Hyperparameters (probe L2): "
              "leave-one-fold-out inside the training folds. Test reals: the real TEST split, used for "
              "nothing else. faces_dev: scored by the fold model whose training had no StyleGAN2.", "",
              "| method | mean ROC-AUC | mean AP | fake recall @ thr | test-real FPR @ thr | faces_dev ROC-AUC | faces recall |",
              "|---|---|---|---|---|---|---|"]
    for name, h in result["headline"].items():
        faces = (_pm(h["faces_roc_auc"]), _pm(h["faces_fake_recall"])) if "faces_roc_auc" in h else ("–", "–")
        seeds = "" if h.get("seeds", 0) > 1 else " (1 seed)"
        lines.append(f"| {name}{seeds} | {_pm(h['roc_auc'])} | {_pm(h['ap'])} | {_pm(h['fake_recall'])} | "
                     f"{_pm(h['test_real_fpr'])} | {faces[0]} | {faces[1]} |")
    lines += ["| flag everything | 0.500 | – | 1.000 | 1.000 | 0.500 | 1.000 |",
              "| flag nothing | 0.500 | – | 0.000 | 0.000 | 0.500 | 0.000 |",
              "| chance (5 % flagged at random) | 0.500 | – | 0.050 | 0.050 | 0.500 | 0.050 |", "",
              "Mean ± std over seeds; every family is left out once per seed. AP depends on the share of "
              "fakes in each family's test set (its fakes against all test reals), so compare it across rows only.", ""]
    fams = result["per_family"]
    names = list(result["headline"])
    lines += ["## Per left-out family (ROC-AUC / fake recall, mean over seeds)", "",
              "| family | n | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for fam, row in fams.items():
        n = next(iter(row.values()))["n_fake"]
        lines.append(f"| {fam} | {n} | " + " | ".join(
            f"{row[m]['roc_auc']:.2f} / {row[m]['fake_recall']:.2f}" if m in row else "–" for m in names) + " |")
    lines += ["", "## Folds (decoder groups held out together)", "", "| seed | " + " | ".join(
        f"fold {f}" for f in range(p["folds"])) + " |", "|---|" + "---|" * p["folds"]]
    for seed, deal in result["folds"].items():
        lines.append(f"| {seed} | " + " | ".join(", ".join(sorted(g for g, f in deal.items() if f == k))
                                                 for k in range(p["folds"])) + " |")
    lines += ["", "## Shortcut audit of the pool", "", audit_markdown(result["audit"])]
    git = result["git"]
    lines += ["", f"Commit `{str(git.get('commit'))[:10]}`{' (dirty)' if git.get('dirty') else ''}; "
              f"{result['seconds'] / 60:.0f} min. Folds per seed, per-fold figures and real FPR by source in results.json.", ""]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fams = list(result["per_family"])
    names = list(result["headline"])
    fig, ax = plt.subplots(figsize=(max(7, 0.45 * len(fams) * max(1, len(names)) / 2 + 2), 4), dpi=110)
    width = 0.8 / max(1, len(names))
    for k, m in enumerate(names):
        vals = [result["per_family"][f].get(m, {}).get("roc_auc", np.nan) for f in fams]
        ax.bar(np.arange(len(fams)) + (k - (len(names) - 1) / 2) * width, vals, width, label=m)
    ax.set_xticks(np.arange(len(fams)), fams, fontsize=6, rotation=60, ha="right")
    ax.set_ylim(0.0, 1.05)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_ylabel("ROC-AUC (left-out family vs test reals)")
    ax.legend(fontsize=6, ncol=min(4, len(names)), loc="lower left", frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

