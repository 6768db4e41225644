#!/usr/bin/env bash
# The benchmark protocols of docs/RESULTS.md: results into docs/results/benchmarks/<protocol>,
# models into work/benchmarks/ (a rerun reuses them). Needs ../shared/data;
# case1-3 need `forenscope synth forgeries --out work/synth-forgeries`, simulated-decoder-holdout needs
# `forenscope synth generators --out work/synth-generators`. Minutes on one core, measured
# here: case1 / case2 ~10, case3 ~6 after case1 (it fine-tunes case1's model), category-holdout
# ~55, simulated-decoder-holdout ~75.
#   scripts/run_benchmarks.sh                     # all five, one after another
#   scripts/run_benchmarks.sh case3 simulated-decoder-holdout
set -eu
cd "$(dirname "$0")/.."
for name in ${@:-case1 case2 case3 category-holdout simulated-decoder-holdout}; do
  case "$name" in
    case3) model_dir=work/benchmarks/case1/model ;;    # starts from Case 1's model
    *-holdout) model_dir=work/benchmarks/$name ;;      # one model per run inside
    *) model_dir=work/benchmarks/$name/model ;;
  esac
  .venv/bin/forenscope benchmark "$name" --out "docs/results/benchmarks/$name" --model-dir "$model_dir" --update-cards
done
