#!/usr/bin/env bash
# Issue 18, "Larger training crops" (docs/RESULTS.md): configs/effunet-crop256.toml (the shipped
# recipe on 256-px crops, same pixels per step and in all), two seeds side by side (one core
# each), then both evaluated alone and as effunet-cm on the validation splits and CVIP (results
# in docs/results/localize/crop256/seedN-<set>/), and the committed decision rule applied
# (scripts/candidate_decision.py). Test splits are not read here. Resumable: every step skips
# what is done. Needs the two forgery sets of configs/effunet.toml (made here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
F=.venv/bin/forenscope
mkdir -p work/logs
[ -f work/synth-forgeries/forgeries.json ] || OMP_NUM_THREADS=1 taskset -c 0 $F synth forgeries \
  --out work/synth-forgeries --no-progress > work/logs/synth-std.log 2>&1 &
[ -f work/synth-forgeries-realistic/forgeries.json ] || OMP_NUM_THREADS=1 taskset -c 1 $F synth forgeries \
  --recipe realistic --out work/synth-forgeries-realistic --no-progress > work/logs/synth-real.log 2>&1 &
wait
scripts/train_candidate.sh crop256 "256-px crops" "shipped recipe (128-px crops)"
