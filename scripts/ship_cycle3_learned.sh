#!/usr/bin/env bash
# Issue 18: ship the learned-fill candidate (configs/effunet-cycle3-learned.toml, a third effunet
# cycle with the learned inpainter's fills) once its three seeds passed the rule committed before
# training (docs/results/localize/cycle3-learned/decision-3-seeds.md), then read the test splits
# once with all three seeds. First make configs/effunet.toml that recipe, its third stage (forenscope
# train --from-run refuses otherwise, naming what differs): [data] forgeries and [train] init_from as in
# configs/effunet-cycle3-learned.toml, and a header naming the three stages (effunet-crop320.toml,
# effunet-crop320-cycle2.toml, effunet.toml; seed 1). Then commit what the script writes.
# From a fresh machine: makes the forgery sets (~30 min on 2 cores; skipped when made), restores
# the three seeds' third cycles from checkpoints/ (kept there until the ship was done; removed since:
# `git checkout e79c9a3 -- checkpoints` brings them back to rerun the test reads),
# ships seed 1 with scripts/ship_effunet.sh (~90 min; skipped once it has finished), then
# evaluates the three seeds on every test split and CVIP (~30 min on 2 cores; each set skipped
# once done) and writes their table (scripts/seed_table.py -> summary.md beside the results).
#   scripts/ship_cycle3_learned.sh
set -euo pipefail
cd "$(dirname "$0")/.."
grep -q '^init_from = "work/runs/effunet-crop320-cycle2-seed{seed}' configs/effunet.toml ||
  { echo "configs/effunet.toml is not the third stage yet: see this script's header" >&2; exit 1; }
scripts/make_forgery_sets.sh
scripts/restore_kept_runs.sh effunet-cycle3-learned-seed{0,1,2}
DONE=work/logs/ship-cycle3-learned.done
if [ ! -f $DONE ]; then
  FROM_RUN=work/runs/effunet-cycle3-learned-seed1 bash scripts/ship_effunet.sh > work/logs/ship-cycle3-learned.log 2>&1
  date > $DONE
fi
OUT=docs/results/localize/cycle3-learned/test SETLIST="standard-test realistic-test learned-test realistic-learned-test cvip" \
  scripts/eval_effunet_runs.sh seed0=work/runs/effunet-cycle3-learned-seed0 seed1=work/runs/effunet-cycle3-learned-seed1 \
  seed2=work/runs/effunet-cycle3-learned-seed2
.venv/bin/python scripts/seed_table.py --results docs/results/localize/cycle3-learned/test
