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
for seed in 0 1; do
  [ -f "work/runs/effunet-crop256-seed$seed/card.json" ] || \
    taskset -c "$seed" $F train configs/effunet-crop256.toml --seed "$seed" \
      --out "work/runs/effunet-crop256-seed$seed" > "work/logs/train-crop256-seed$seed.log" 2>&1 &
done
wait
OUT=docs/results/localize/crop256 SETLIST="standard-val realistic-val cvip" scripts/eval_effunet_runs.sh \
  seed0=work/runs/effunet-crop256-seed0 seed1=work/runs/effunet-crop256-seed1
.venv/bin/python scripts/candidate_decision.py --results docs/results/localize/crop256 --label "256-px crops"
