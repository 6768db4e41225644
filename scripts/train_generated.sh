#!/usr/bin/env bash
# Rebuild the generated-image detectors from scratch, in order (about 60 minutes on 2 cores):
# simulated generators, then the shipped npr and pelee-hpf, then the protocol runs.
set -u
cd "$(dirname "$0")/.."
F=.venv/bin/forenscope
mkdir -p work
[ -f work/synth-generators/generators.json ] || $F synth generators --out work/synth-generators
$F train configs/npr.toml --ship
$F train configs/pelee-hpf.toml --ship
scripts/train_ablations.sh  # protocol runs (GLID-3 -> LDM, CIFAKE), Pelee ablations, npr reproducibility
