#!/usr/bin/env bash
# The leave-family-out tables (3 seeds x 5 folds) and the shipped generated-image probes, from
# scratch (about 2 hours on 2 cores, most of it the fine-tuning and NPR comparison rows):
#   1. human-made non-photo images for the real class, from Debian packages (work/real-art)
#   2. forenscope benchmark generator-holdout -> docs/results/benchmarks/generator-holdout, then
#      generator-holdout-views (which views of the image the probe sees: the shipped choice),
#      generator-holdout-lite2 (bigger trunks, the pair), generator-holdout-taps (every block tapped),
#      generator-holdout-fast (cheaper views for the pair: not shipped)
#   3. forenscope train configs/lite-probe.toml and configs/lite-probe-pair.toml --ship
#      -> weights/lite-probe{,-pair}.{safetensors,json}
# Features are cached in work/probe-features: a rerun after a change to the probe costs minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
F=.venv/bin/forenscope
[ -f work/real-art/manifest.tsv ] || .venv/bin/python scripts/fetch_real_art.py --out work/real-art
$F benchmark generator-holdout --out docs/results/benchmarks/generator-holdout
for p in views lite2 taps fast; do  # ~10 / 10 / 20 / 30 min
  $F benchmark generator-holdout-$p --out docs/results/benchmarks/generator-holdout-$p
done
$F train configs/lite-probe.toml --out work/runs/lite-probe --ship
$F train configs/lite-probe-pair.toml --out work/runs/lite-probe-pair --ship
