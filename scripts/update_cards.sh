#!/usr/bin/env bash
# The robustness summary and the calibration block of every shipped card (issue 7): the short
# suite for every detector, the full suite for the detectors it covers (its summary wins), the
# calibration fits; then all of it written into the cards at once, so every run saw the same
# committed cards. About 45 minutes on 2 cores; `$0 ship` only writes the cards.
# Needs ../shared/data and `forenscope synth forgeries --out work/synth-forgeries`.
set -eu
cd "$(dirname "$0")/.."
F=.venv/bin/forenscope
if [ "${1:-all}" = all ]; then
  $F robustness configs/robustness-cards.toml --out docs/results/robustness-cards > /dev/null
  $F robustness configs/robustness.toml --out docs/results/robustness > /dev/null
  $F calibrate configs/calibration.toml --out docs/results/calibration
fi
.venv/bin/python scripts/ship_cards.py docs/results/robustness-cards docs/results/robustness \
    --calibration docs/results/calibration
# the models changed after those runs (configs/robustness-cards-retrained.toml and
# configs/calibration-retrained.toml): their later fits win, so `$0 ship` never writes an old
# score's fit into a new model's card
.venv/bin/python scripts/ship_cards.py docs/results/robustness-cards-retrained \
    --calibration docs/results/calibration-retrained
