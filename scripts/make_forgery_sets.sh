#!/usr/bin/env bash
# The four synthetic forgery sets effunet trains and is judged on, two at a time (`synth forgeries`
# skips what is made, so a rerun finishes an interrupted set): the standard and realistic recipes
# (~14 min on 2 cores), then the learned inpainter's fills of each (~16 min). Logs in work/logs/.
#   scripts/make_forgery_sets.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p work/logs
F=.venv/bin/forenscope
wait_all() {  # every background job, failing if one failed (plain `wait` returns 0)
  local pid
  for pid in $(jobs -p); do wait "$pid" || { echo "a forgery set failed: see work/logs/synth-*.log" >&2; exit 1; }; done
}
$F synth forgeries --out work/synth-forgeries --no-progress > work/logs/synth-standard.log 2>&1 &
$F synth forgeries --recipe realistic --out work/synth-forgeries-realistic --no-progress > work/logs/synth-realistic.log 2>&1 &
wait_all
$F synth forgeries --kind inpaint-learned --out work/synth-forgeries-learned --no-progress > work/logs/synth-learned.log 2>&1 &
$F synth forgeries --kind inpaint-learned --recipe realistic --out work/synth-forgeries-realistic-learned \
  --no-progress > work/logs/synth-realistic-learned.log 2>&1 &
wait_all
