#!/usr/bin/env bash
# Protocol runs and Pelee+HPF ablations reported in docs/RESULTS.md (about 25 minutes on 2 cores),
# after scripts/train_generated.sh has built work/synth-generators.
set -u
cd "$(dirname "$0")/.."
F=.venv/bin/forenscope
$F train configs/npr-glid3.toml
$F train configs/npr-cifake.toml
for c in configs/ablations/pelee-hpf-*.toml; do $F train "$c"; done
# Reproducibility of the npr first shipped: the same config retrained into a second folder.
$F train configs/ablations/npr-blur-jpeg.toml --out work/runs/npr-repro
