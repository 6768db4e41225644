#!/usr/bin/env bash
# Issue 18, "More host photos" (docs/RESULTS.md): the shipped effunet recipe trained on forgery
# sets grown with the real_scenes photos as extra TRAINING hosts (configs/effunet-more-hosts.toml),
# two seeds side by side (one core each, ~65 min), then both evaluated alone and as effunet-cm
# on the validation splits and CVIP (results in docs/results/localize/more-hosts/seedN-<set>/,
# table by `scripts/seed_table.py --results docs/results/localize/more-hosts`). Test splits are
# not read here. Resumable: every step skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."
F=.venv/bin/forenscope
mkdir -p work/logs
grow() {  # recipe base-folder: the shipped set (made if missing), copied and grown with real_scenes
  local recipe=$1 base=$2 core=$3
  [ -f "$base/forgeries.json" ] || OMP_NUM_THREADS=1 taskset -c "$core" $F synth forgeries --recipe "$recipe" --out "$base" --no-progress
  [ -f "$base-more-hosts/forgeries.json" ] && grep -q real_scenes "$base-more-hosts/forgeries.json" && return 0
  [ -d "$base-more-hosts" ] || cp -r "$base" "$base-more-hosts"
  OMP_NUM_THREADS=1 taskset -c "$core" $F synth forgeries --recipe "$recipe" --out "$base-more-hosts" \
    --extra-train-photos real_scenes --no-progress
}
grow standard work/synth-forgeries 0 > work/logs/synth-more-hosts-standard.log 2>&1 &
grow realistic work/synth-forgeries-realistic 1 > work/logs/synth-more-hosts-realistic.log 2>&1 &
wait
scripts/train_candidate.sh more-hosts "more hosts (810)"
