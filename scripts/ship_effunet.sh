set -ex
# Retrain and ship effunet from configs/effunet.toml, then redo everything that depends on its
# maps: effunet-cm's rule, the image head, calibration, the localisation tables and cards,
# the short robustness suite and the example scores (about 90 min on 2 cores with the training).
# Next ship (chosen on validation, docs/RESULTS.md "Bigger encoders"): configs/effunet.toml
# takes configs/effunet-lite1.toml's tables with name = "effunet"; the weights are checked
# against work/runs/effunet-lite1 (the validated candidate), skipped without it. A run already
# complete in work/runs/effunet-v3 (same config) is shipped without training again.
cd "$(dirname "$0")/.."
F=.venv/bin/forenscope
P=.venv/bin/python
$F train configs/effunet.toml --out work/runs/effunet-v3 --ship
$P - <<'PY'
from forenscope.nets.weights import load_weights
import torch
import os
if os.path.isfile("work/runs/effunet-lite1/model.safetensors"):
    a = load_weights("work/runs/effunet-v3/model.safetensors"); b = load_weights("work/runs/effunet-lite1/model.safetensors")
    print("identical to the candidate run:", all(torch.equal(a[k], b[k]) for k in a))
PY
rm -rf work/fusion-maps  # cached component maps (keyed by image): they are the old weights' maps
$P scripts/design_fusion.py --test
$P scripts/design_image_head.py --test --ship
$F calibrate configs/calibration-retrained.toml --out docs/results/calibration-retrained --ship
$P scripts/eval_localize.py --model effunet --model iidnet --model hlstm --model jlstm --update-cards
$F robustness configs/robustness-cards-retrained.toml --out docs/results/robustness-cards-retrained --ship
$P scripts/example_scores.py
echo CHAIN DONE
