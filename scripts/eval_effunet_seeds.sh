#!/usr/bin/env bash
# Seed spread of the shipped effunet recipe (configs/effunet.toml, Lite1): seed 0 is the shipped
# run (work/runs/effunet-v3, the same weights), seeds 1 and 2 come from
#   forenscope train configs/effunet.toml --seed N --out work/runs/effunet-lite1-seedN
# Each is evaluated alone and as effunet-cm (the shipped fusion rule) on the standard and
# realistic TEST splits, CVIP, and both validation splits (the spread behind the validation
# choice). The choice of Lite1 was made on validation, seed 0, before this ran (docs/RESULTS.md,
# "Bigger encoders"); these figures choose nothing. Pixel metrics do not
# depend on the image head; image AUC here uses each run's own (trainer-fitted) head.
# Two evaluations at a time, one core each (CORES="0 1"; about 15 min per seed). Then
# .venv/bin/python scripts/seed_table.py prints mean +- std.
set -euo pipefail
cd "$(dirname "$0")/.."
F=.venv/bin/forenscope
OUT=docs/results/localize/seeds
declare -A SETS=([standard-test]=work/synth-forgeries/test.csv [realistic-test]=work/synth-forgeries-realistic/test.csv
                 [cvip]=../shared/data/copymove_cvip [standard-val]=work/synth-forgeries/val.csv
                 [realistic-val]=work/synth-forgeries-realistic/val.csv)
declare -A RUNS=([seed0]=work/runs/effunet-v3 [seed1]=work/runs/effunet-lite1-seed1 [seed2]=work/runs/effunet-lite1-seed2)
one() {  # seed set core
  local who=$1 set=$2 core=$3
  [ -f "$OUT/$who-$set/results.json" ] && return 0  # done before
  [ -f "${RUNS[$who]}/card.json" ] || { echo "skip $who: no finished run in ${RUNS[$who]}"; return 0; }
  OMP_NUM_THREADS=1 taskset -c "$core" $F eval "${SETS[$set]}" -d effunet -d effunet-cm \
    --run "effunet=${RUNS[$who]}" --run "effunet-cm=${RUNS[$who]}" \
    --out "$OUT/$who-$set" --no-progress > "work/logs/eval-$who-$set.log" 2>&1
}
mkdir -p work/logs
jobs=()
for who in ${SEEDS:-seed0 seed1 seed2}; do for set in ${SETLIST:-standard-test realistic-test cvip standard-val realistic-val}; do jobs+=("$who $set"); done; done
read -ra CORES <<< "${CORES:-0 1}"  # one evaluation per listed core at a time
for ((i = 0; i < ${#jobs[@]}; i += ${#CORES[@]})); do
  for ((c = 0; c < ${#CORES[@]} && i + c < ${#jobs[@]}; c++)); do one ${jobs[i+c]} "${CORES[c]}" & done
  wait
done
echo EVAL DONE
