#!/usr/bin/env bash
# Seed spread of the shipped effunet recipe (configs/effunet.toml, Lite1): seed 0 is the shipped
# run (work/runs/effunet-v3, the same weights), seeds 1 and 2 come from
#   forenscope train configs/effunet.toml --seed N --out work/runs/effunet-lite1-seedN
# Each is evaluated alone and as effunet-cm (the shipped fusion rule) on the standard and
# realistic TEST splits, CVIP, and both validation splits (the spread behind the validation
# choice). The choice of Lite1 was made on validation, seed 0, before this ran (docs/RESULTS.md,
# "Bigger encoders"); these figures choose nothing. Pixel metrics do not
# depend on the image head; image AUC here uses each run's own (trainer-fitted) head.
# Two evaluations at a time, one core each (CORES="0 1"; about 15 min per seed; SEEDS and
# SETLIST narrow the work). Then .venv/bin/python scripts/seed_table.py prints mean +- std.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A RUNS=([seed0]=work/runs/effunet-v3 [seed1]=work/runs/effunet-lite1-seed1 [seed2]=work/runs/effunet-lite1-seed2)
args=()
for who in ${SEEDS:-seed0 seed1 seed2}; do args+=("$who=${RUNS[$who]}"); done
OUT=docs/results/localize/seeds SETLIST=${SETLIST:-standard-test realistic-test cvip standard-val realistic-val} \
  exec scripts/eval_effunet_runs.sh "${args[@]}"
