#!/usr/bin/env bash
# Rebuild the localisers from scratch (about 2 hours on 2 cores): synthetic forgeries, then in
# two lanes of one core each the EfficientNet-Lite U-Net and J-LSTM (all forgery kinds), IID-Net
# (Telea inpainting only, the paper's one-method protocol) and H-LSTM; then the evaluation
# written into docs/results/localize and the cards.
set -u
cd "$(dirname "$0")/.."
F=.venv/bin/forenscope
[ -f work/synth-forgeries/forgeries.json ] || $F synth forgeries --out work/synth-forgeries --no-progress
# one thread each (their configs say so), side by side on a 2-core machine
( $F train configs/effunet.toml --ship > work/train-effunet.log 2>&1
  $F train configs/jlstm.toml --ship > work/train-jlstm.log 2>&1 ) &
( $F train configs/iidnet-telea.toml --ship > work/train-iidnet.log 2>&1
  $F train configs/hlstm.toml --ship > work/train-hlstm.log 2>&1 ) &
wait
.venv/bin/python scripts/eval_localize.py --model effunet --model iidnet --model hlstm --model jlstm --update-cards
