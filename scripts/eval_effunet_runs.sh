#!/usr/bin/env bash
# Evaluate effunet weight sets alone and as effunet-cm (the shipped fusion rule) with
# `forenscope eval`, one evaluation per core at a time; results in $OUT/<who>-<set>/, logs in
# work/logs/eval-<who>-<set>.log; a set already evaluated is skipped (rerun to resume).
#   OUT=DIR SETLIST="standard-val cvip ..." [CORES="0 1"] [DETECTORS="effunet effunet-cm"] scripts/eval_effunet_runs.sh WHO[=RUN] ...
# WHO alone: the shipped weights; WHO=RUN: a training run folder (skipped until it holds card.json).
# DETECTORS: which of the two to evaluate (effunet-cm alone after its map rule changed: effunet's maps do not).
# Used by scripts/eval_encoders.sh and scripts/eval_effunet_seeds.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
F=.venv/bin/forenscope
declare -A SETS=([standard-test]=work/synth-forgeries/test.csv [realistic-test]=work/synth-forgeries-realistic/test.csv
                 [cvip]=../shared/data/copymove_cvip [standard-val]=work/synth-forgeries/val.csv
                 [realistic-val]=work/synth-forgeries-realistic/val.csv
                 # the learned inpainter's fills (synth forgeries --kind inpaint-learned): in the shipped effunet's third cycle since issue 18
                 [learned-val]=work/synth-forgeries-learned/val.csv [learned-test]=work/synth-forgeries-learned/test.csv
                 [realistic-learned-test]=work/synth-forgeries-realistic-learned/test.csv)
declare -A RUNS=()
one() {  # who set core
  local who=$1 set=$2 core=$3 runs=()
  [ -f "$OUT/$who-$set/results.json" ] && return 0  # done before
  if [ -n "${RUNS[$who]}" ]; then
    [ -f "${RUNS[$who]}/card.json" ] || { echo "skip $who: no finished run in ${RUNS[$who]}"; return 0; }
    runs=(--run "effunet=${RUNS[$who]}" --run "effunet-cm=${RUNS[$who]}")
  fi
  local dets=()
  for d in ${DETECTORS:-effunet effunet-cm}; do dets+=(-d "$d"); done
  OMP_NUM_THREADS=1 taskset -c "$core" $F eval "${SETS[$set]}" "${dets[@]}" "${runs[@]}" \
    --out "$OUT/$who-$set" --no-progress > "work/logs/eval-$who-$set.log" 2>&1
}
mkdir -p work/logs
jobs=()
for arg in "$@"; do
  who=${arg%%=*}; RUNS[$who]=$([ "$arg" != "$who" ] && echo "${arg#*=}" || true)
  for set in $SETLIST; do jobs+=("$who $set"); done
done
read -ra CORES <<< "${CORES:-0 1}"
for ((i = 0; i < ${#jobs[@]}; i += ${#CORES[@]})); do
  for ((c = 0; c < ${#CORES[@]} && i + c < ${#jobs[@]}; c++)); do one ${jobs[i+c]} "${CORES[c]}" & done
  wait
done
echo EVAL DONE
