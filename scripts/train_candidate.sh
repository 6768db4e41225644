#!/usr/bin/env bash
# A candidate effunet recipe against the shipped one (issue 18): configs/effunet-NAME.toml trained
# under seeds 0 and 1 side by side (one core each; runs in work/runs/effunet-NAME-seedN), both
# evaluated alone and as effunet-cm on the validation splits and CVIP
# (docs/results/localize/NAME/seedN-<set>/), their seed table, and the decision rule committed
# before training applied (scripts/candidate_decision.py -> decision.md). Test splits are not
# read here. Resumable: every step skips what is done. The forgery sets the config names must exist.
#   [REFERENCE=docs/results/localize/crop256 REFERENCE_SEEDS=seed0,seed1 REFERENCE_CVIP=DIR NEVER_LOSE=0.894] \
#     scripts/train_candidate.sh NAME LABEL [REFERENCE_LABEL]
# (REFERENCE: the shipped recipe's seed results, default the 128-px recipe's, docs/results/localize/seeds;
#  REFERENCE_SEEDS: which of them, default all; REFERENCE_CVIP: where the reference's CVIP figures are, default
#  REFERENCE; NEVER_LOSE: copymove-sift's CVIP F1, default 0.876; see scripts/candidate_decision.py)
# Used by scripts/train_more_hosts.sh and scripts/train_crop256.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1 label=$2 reference_label=${3:-shipped recipe (426 hosts)}
mkdir -p work/logs
for seed in 0 1; do
  [ -f "work/runs/effunet-$name-seed$seed/card.json" ] || \
    taskset -c "$seed" .venv/bin/forenscope train "configs/effunet-$name.toml" --seed "$seed" \
      --out "work/runs/effunet-$name-seed$seed" > "work/logs/train-$name-seed$seed.log" 2>&1 &
done
wait
OUT="docs/results/localize/$name" SETLIST="standard-val realistic-val cvip" scripts/eval_effunet_runs.sh \
  seed0="work/runs/effunet-$name-seed0" seed1="work/runs/effunet-$name-seed1"
.venv/bin/python scripts/seed_table.py --results "docs/results/localize/$name"
.venv/bin/python scripts/candidate_decision.py --results "docs/results/localize/$name" --label "$label" \
  --reference "${REFERENCE:-docs/results/localize/seeds}" --reference-seeds "${REFERENCE_SEEDS:-}" --reference-label "$reference_label" \
  ${REFERENCE_CVIP:+--reference-cvip "$REFERENCE_CVIP"} ${NEVER_LOSE:+--never-lose "$NEVER_LOSE"}
