#!/usr/bin/env bash
# The benchmark protocols of docs/RESULTS.md ("Triage ..."): results into docs/results/benchmarks/,
# models into work/benchmarks/ (a rerun reuses them). Needs ../shared/data and
# `forenscope synth forgeries --out work/synth-forgeries`. About 10 minutes per protocol on one core.
set -eu
cd "$(dirname "$0")/.."
for p in "${@:-case1 case2}"; do
  for name in $p; do
    .venv/bin/forenscope benchmark "$name" --out "docs/results/benchmarks/$name" --model-dir "work/benchmarks/$name/model" --update-cards
  done
done
