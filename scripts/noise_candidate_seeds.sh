#!/usr/bin/env bash
# Issue 18, "Noise in training": the three-seed step of the decision rule (docs/RESULTS.md).
# Trains seeds 0 and 2 of configs/effunet-cycle3-learned-noise.toml when their runs are missing
# (one core each, side by side; ~45 min), evaluates them and the shipped third cycles of the same
# seeds on validation + CVIP and under noise sigma 5 (validation), then applies the rule to the
# three seeds' means (seed 1's rows are already in docs/results/localize/cycle3-noise).
#   bash scripts/noise_candidate_seeds.sh
set -euo pipefail
cd "$(dirname "$0")/.."
F=.venv/bin/forenscope
R=docs/results/localize/cycle3-noise
export LD_PRELOAD=${LD_PRELOAD:-/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4}
for s in 0 2; do
  run=work/runs/effunet-cycle3-learned-noise-seed$s
  [ -f "$run/card.json" ] || OMP_NUM_THREADS=1 taskset -c $((s / 2)) $F train configs/effunet-cycle3-learned-noise.toml \
    --seed $s --out "$run" > "work/logs/train-noise-seed$s.log" 2>&1 &
done
wait
OUT=$R DETECTORS=effunet-cm SETLIST="standard-val realistic-val learned-val cvip" scripts/eval_effunet_runs.sh \
  ref-seed0=work/runs/effunet-cycle3-learned-seed0 ref-seed2=work/runs/effunet-cycle3-learned-seed2 \
  noise-seed0=work/runs/effunet-cycle3-learned-noise-seed0 noise-seed2=work/runs/effunet-cycle3-learned-noise-seed2
core=0
for who in ref-seed0 ref-seed2 noise-seed0 noise-seed2; do
  seed=${who##*-seed}; kind=${who%-seed*}
  run=work/runs/effunet-cycle3-learned-seed$seed
  [ "$kind" = noise ] && run=work/runs/effunet-cycle3-learned-noise-seed$seed
  [ -f "$R/robustness-val-$who/results.json" ] || OMP_NUM_THREADS=1 taskset -c $core $F robustness \
    configs/robustness-val-noise.toml -d "effunet-cm@$run" --out "$R/robustness-val-$who" > "work/logs/rob-$who.log" 2>&1 &
  core=$((1 - core))
  [ $core = 0 ] && wait
done
wait
.venv/bin/python scripts/noise_candidate_decision.py --results $R --reference ref,ref-seed0,ref-seed2 \
  --candidate noise,noise-seed0,noise-seed2 --out-name decision-3-seeds
