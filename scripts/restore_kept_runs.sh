#!/usr/bin/env bash
# Copy training runs kept in checkpoints/ (model.safetensors and card.json; see checkpoints/README.md)
# into work/runs/ where work/runs lacks them: work/ may not survive a session, checkpoints/ is committed.
# A name that checkpoints/ does not hold is left alone (the caller trains it).
# (checkpoints/ was emptied once issue 18's ship was done; `git checkout e79c9a3 -- checkpoints` restores its runs.)
#   scripts/restore_kept_runs.sh RUN_NAME ...
set -euo pipefail
cd "$(dirname "$0")/.."
for run in "$@"; do
  if [ ! -f "work/runs/$run/card.json" ] && [ -f "checkpoints/$run/card.json" ]; then
    mkdir -p "work/runs/$run" && cp "checkpoints/$run/model.safetensors" "checkpoints/$run/card.json" "work/runs/$run/"
  fi
done
