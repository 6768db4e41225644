#!/usr/bin/env bash
# Rebuild the localisers from scratch (about 90 minutes on 2 cores): synthetic forgeries, the
# EfficientNet-Lite U-Net (all forgery kinds) and IID-Net (Telea inpainting only, the paper's
# one-method protocol), then the evaluation written into docs/results/localize and the cards.
set -u
cd "$(dirname "$0")/.."
F=.venv/bin/forenscope
[ -f work/synth-forgeries/forgeries.json ] || $F synth forgeries --out work/synth-forgeries --no-progress
# one thread each (their configs say so), side by side on a 2-core machine
$F train configs/effunet.toml --ship > work/train-effunet.log 2>&1 &
$F train configs/iidnet-telea.toml --ship > work/train-iidnet.log 2>&1 &
wait
.venv/bin/python scripts/eval_localize.py --model effunet --model iidnet --update-cards
