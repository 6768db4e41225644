#!/usr/bin/env bash
# The leave-family-out table (3 seeds x 5 folds) and the shipped lite-probe, from scratch
# (about 70 minutes on 2 cores, most of it the fine-tuning and NPR comparison rows):
#   1. human-made non-photo images for the real class, from Debian packages (work/real-art)
#   2. forenscope benchmark generator-holdout -> docs/results/benchmarks/generator-holdout, and
#      generator-holdout-views (which views of the image the probe sees: the shipped choice)
#   3. forenscope train configs/lite-probe.toml --ship -> weights/lite-probe.{safetensors,json}
# Features are cached in work/probe-features: a rerun after a change to the probe costs minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
F=.venv/bin/forenscope
[ -f work/real-art/manifest.tsv ] || .venv/bin/python scripts/fetch_real_art.py --out work/real-art
$F benchmark generator-holdout --out docs/results/benchmarks/generator-holdout
$F benchmark generator-holdout-views --out docs/results/benchmarks/generator-holdout-views  # ~10 min
$F train configs/lite-probe.toml --out work/runs/lite-probe --ship
