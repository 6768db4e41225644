set -ex
# Ship effunet from configs/effunet.toml, then redo everything that depends on its maps:
# effunet-cm's rule, the image head, calibration, the localisation tables and cards, the short
# robustness suite and the example scores (about 90 min on 2 cores with the training).
#   bash scripts/ship_effunet.sh                 # train configs/effunet.toml, ship it
#   FROM_RUN=work/runs/X bash scripts/ship_effunet.sh
#       # ship a finished candidate run whose config equals configs/effunet.toml apart from its
#       # name (`forenscope train --from-run`: no retraining; refused if anything else differs)
cd "$(dirname "$0")/.."
F=.venv/bin/forenscope
P=.venv/bin/python
if [ -n "${FROM_RUN:-}" ]; then
  $F train configs/effunet.toml --ship --from-run "$FROM_RUN"
else
  $F train configs/effunet.toml --out work/runs/effunet-v5 --ship  # needs its earlier stages: see configs/effunet.toml
fi
# work/fusion-maps needs no clearing: its maps are keyed by each component's weights and gates
read -ra CORES <<< "${CORES:-0 1}"
for k in "${!CORES[@]}"; do  # fill the new cache on every core first (the design runs in one process)
  OMP_NUM_THREADS=1 taskset -c "${CORES[k]}" $P scripts/design_fusion.py --test --fill-cache "$k/${#CORES[@]}" &
done
wait
$P scripts/design_fusion.py --test
$P scripts/design_image_head.py --test --ship
$F calibrate configs/calibration-retrained.toml --out docs/results/calibration-retrained --ship
$P scripts/eval_localize.py --model effunet --model iidnet --model hlstm --model jlstm --update-cards
$F robustness configs/robustness-cards-retrained.toml --out docs/results/robustness-cards-retrained --ship
$P scripts/example_scores.py
echo CHAIN DONE
