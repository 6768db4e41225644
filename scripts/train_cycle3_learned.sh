#!/usr/bin/env bash
# Issue 18: a third effunet cycle with the learned inpainter's fills (configs/effunet-cycle3-learned.toml)
# and its control without them (configs/effunet-cycle3.toml), seed 1 side by side (one core each),
# evaluated with seed 1's second cycle as reference (then the shipped effunet; mirror-averaged, shipped fusion rule) on the
# validation splits, the learned fills' validation split and CVIP, and the rule committed before
# training applied (scripts/learned_fill_decision.py -> docs/results/localize/cycle3-learned/decision.md).
# Test splits are not read. Resumable: every step skips what is done. ~60 min on 2 cores.
# Seed 1's second cycle was the shipped effunet when this ran; since the third cycle shipped it is
# trained again from its configs (~73 + 37 min) when work/runs lacks it. The forgery sets, learned
# fills included, are made first when missing.
#   scripts/train_cycle3_learned.sh
#   STAGE=seeds scripts/train_cycle3_learned.sh   # the rule's second step (seed 1 passed): seeds 0 and 2 of the
#       candidate, their references, and the three seeds' means against the rule (decision-3-seeds.md). From a
#       fresh machine it makes what it needs first, skipping what exists: the forgery sets (~14 min, and the
#       learned fills' sets), each reference's first cycle (~73 min) and second (~37 min), both restored from
#       checkpoints/ when kept there, the candidate's third (~35 min); then ~40 min of evaluation.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p work/logs
TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
train() {  # config seed core
  [ -f "work/runs/$1-seed$2/card.json" ] || \
    LD_PRELOAD=$([ -f $TCMALLOC ] && echo $TCMALLOC) OMP_NUM_THREADS=1 taskset -c "$3" \
      .venv/bin/forenscope train "configs/$1.toml" --seed "$2" --out "work/runs/$1-seed$2" \
      > "work/logs/train-$1-seed$2.log" 2>&1
}
R=work/runs/effunet-crop320-cycle2
SETLIST="standard-val realistic-val learned-val cvip"
reference() {  # seed core: the shipped recipe's two cycles for this seed (each restored from checkpoints/
                # when kept there), and their mirror-averaged reading
  scripts/restore_kept_runs.sh "effunet-crop320-seed$1" "effunet-crop320-cycle2-seed$1"
  [ -f "$R-seed$1/card.json" ] || train effunet-crop320 "$1" "$2"  # the first cycle only feeds the second
  train effunet-crop320-cycle2 "$1" "$2"
  [ -f "$R-seed$1-flip/card.json" ] || .venv/bin/python scripts/variant_run.py "$R-seed$1" "$R-seed$1-flip" --set flip_average=true
}
if [ "${STAGE:-}" = seeds ]; then
  scripts/make_forgery_sets.sh
  (reference 0 0 && train effunet-cycle3-learned 0 0) & (reference 2 1 && train effunet-cycle3-learned 2 1) &
  wait
  OUT=docs/results/localize/cycle3-learned SETLIST=$SETLIST scripts/eval_effunet_runs.sh \
    ref-seed0=$R-seed0-flip ref-seed2=$R-seed2-flip \
    learned-seed0=work/runs/effunet-cycle3-learned-seed0 learned-seed2=work/runs/effunet-cycle3-learned-seed2
  exec .venv/bin/python scripts/learned_fill_decision.py --results docs/results/localize/cycle3-learned \
    --reference ref,ref-seed0,ref-seed2 --candidate learned,learned-seed0,learned-seed2 --control "" \
    --out-name decision-3-seeds
fi
scripts/make_forgery_sets.sh
# seed 1's reference: its two cycles, like the other seeds' (copying the shipped weights, as the first run
# of this script did, would now give the third cycle)
reference 1 0
train effunet-cycle3-learned 1 0 & train effunet-cycle3 1 1 &
wait
OUT=docs/results/localize/cycle3-learned SETLIST=$SETLIST \
  scripts/eval_effunet_runs.sh ref=$R-seed1-flip \
  learned=work/runs/effunet-cycle3-learned-seed1 control=work/runs/effunet-cycle3-seed1
.venv/bin/python scripts/learned_fill_decision.py --results docs/results/localize/cycle3-learned
