#!/usr/bin/env bash
# Issue 18 item 2, "lite1 / lite2 if they pay off": the shipped effunet weights and the
# Lite1 / Lite2 encoder candidates (configs/effunet-lite1.toml, -lite2.toml, trained into
# work/runs/effunet-lite1, -lite2) evaluated alike, alone and inside effunet-cm (the shipped
# fusion rule), on both recipes' validation splits and on CVIP. Validation only: no test split.
# Two evaluations at a time, one core each (about 25 min on 2 cores). Then
# scripts/encoder_table.py prints the table and applies the decision rule in docs/RESULTS.md.
# ("shipped" meant the Lite0 weights when this ran; they are in git at commit 1b986c0.)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=docs/results/localize/encoders SETLIST="standard-val realistic-val cvip" \
  exec scripts/eval_effunet_runs.sh shipped lite1=work/runs/effunet-lite1 lite2=work/runs/effunet-lite2
