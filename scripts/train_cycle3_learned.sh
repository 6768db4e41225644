#!/usr/bin/env bash
# Issue 18: a third effunet cycle with the learned inpainter's fills (configs/effunet-cycle3-learned.toml)
# and its control without them (configs/effunet-cycle3.toml), seed 1 side by side (one core each),
# evaluated with the shipped seed 1 as reference (mirror-averaged, shipped fusion rule) on the
# validation splits, the learned fills' validation split and CVIP, and the rule committed before
# training applied (scripts/learned_fill_decision.py -> docs/results/localize/cycle3-learned/decision.md).
# Test splits are not read. Resumable: every step skips what is done. ~60 min on 2 cores.
# Needs work/runs/effunet-crop320-cycle2-seed1 (configs/effunet.toml's two stages) and the learned
# sets (scripts/eval_learned_inpainting.sh).
#   scripts/train_cycle3_learned.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p work/logs
TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
core=0
for cfg in effunet-cycle3-learned effunet-cycle3; do
  [ -f "work/runs/$cfg-seed1/card.json" ] || \
    LD_PRELOAD=$([ -f $TCMALLOC ] && echo $TCMALLOC) OMP_NUM_THREADS=1 taskset -c $core \
      .venv/bin/forenscope train "configs/$cfg.toml" --seed 1 --out "work/runs/$cfg-seed1" \
      > "work/logs/train-$cfg-seed1.log" 2>&1 &
  core=$((core + 1))
done
wait
OUT=docs/results/localize/cycle3-learned SETLIST="standard-val realistic-val learned-val cvip" \
  scripts/eval_effunet_runs.sh ref=work/runs/effunet-crop320-cycle2-seed1-flip \
  learned=work/runs/effunet-cycle3-learned-seed1 control=work/runs/effunet-cycle3-seed1
.venv/bin/python scripts/learned_fill_decision.py --results docs/results/localize/cycle3-learned
