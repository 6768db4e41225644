#!/usr/bin/env bash
# Issue 18, item 5 (docs/RESULTS.md, "Two more levers for the +0.15 target"): after H-LSTM's
# decision has been applied (shipped or not), choose each Bappy localiser's map threshold on the
# full validation split and write it into its shipped card, then read the test split once with it.
# Extra H-LSTM runs (e.g. RUNS="work/runs/hlstm-longer-seed1") get their own validation-chosen
# threshold and a test read, for the spread; they change no card.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=docs/results/localize/map-threshold
VAL=work/synth-forgeries/val.csv
TEST=work/synth-forgeries/test.csv

chosen() { $PY -c "import json,sys; print(json.load(open(sys.argv[1]))['chosen_threshold'])" "$1/results.json"; }

for d in hlstm jlstm; do
  # validation chooses (the card's own map_threshold, if any, is ignored while sweeping)
  $PY scripts/map_threshold_sweep.py "$VAL" -d "$d" --card "src/forenscope/weights/$d.json" --out "$OUT/$d-val"
  $PY scripts/map_threshold_sweep.py "$TEST" -d "$d" --threshold "$(chosen "$OUT/$d-val")" --out "$OUT/$d-test"
done
for run in ${RUNS:-}; do
  name=$(basename "$run")
  $PY scripts/map_threshold_sweep.py "$VAL" -d hlstm --run "$run" --out "$OUT/$name-val"
  $PY scripts/map_threshold_sweep.py "$TEST" -d hlstm --run "$run" --threshold "$(chosen "$OUT/$name-val")" --out "$OUT/$name-test"
done
# every table and card figure of the two, with the thresholds in their cards (test split and CVIP)
$PY scripts/eval_localize.py --model hlstm --model jlstm --only hlstm --only jlstm --update-cards
