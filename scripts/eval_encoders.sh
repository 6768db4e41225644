#!/usr/bin/env bash
# Issue 18 item 2, "lite1 / lite2 if they pay off": the shipped effunet weights and the
# Lite1 / Lite2 encoder candidates (configs/effunet-lite1.toml, -lite2.toml, trained into
# work/runs/effunet-lite1, -lite2) evaluated alike, alone and inside effunet-cm (the shipped
# fusion rule), on both recipes' validation splits and on CVIP. Validation only: no test split.
# Two evaluations at a time, one core each (about 25 min on 2 cores). Then
# scripts/encoder_table.py prints the table and applies the decision rule in docs/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
F=.venv/bin/forenscope
OUT=docs/results/localize/encoders
declare -A SETS=([standard-val]=work/synth-forgeries/val.csv [realistic-val]=work/synth-forgeries-realistic/val.csv
                 [cvip]=../shared/data/copymove_cvip)
one() {  # who set core
  local who=$1 set=$2 core=$3 runs=()
  [ "$who" != shipped ] && runs=(--run "effunet=work/runs/effunet-$who" --run "effunet-cm=work/runs/effunet-$who")
  [ -f "$OUT/$who-$set/results.json" ] && return 0  # done before
  OMP_NUM_THREADS=1 taskset -c "$core" $F eval "${SETS[$set]}" -d effunet -d effunet-cm "${runs[@]}" \
    --out "$OUT/$who-$set" --no-progress > "work/logs/eval-$who-$set.log" 2>&1
}
mkdir -p work/logs
jobs=()
for who in shipped lite1 lite2; do for set in standard-val realistic-val cvip; do jobs+=("$who $set"); done; done
for ((i = 0; i < ${#jobs[@]}; i += 2)); do
  one ${jobs[i]} 0 &
  [ $((i + 1)) -lt ${#jobs[@]} ] && one ${jobs[i+1]} 1 &
  wait
done
echo EVAL DONE
