#!/usr/bin/env bash
# Shortcut audit (`forenscope audit`) of every evaluation set docs/RESULTS.md reports on that
# exists as files: can file facts alone (format, JPEG quality, EXIF, size) predict the labels?
# Needs ../shared/data and `forenscope synth forgeries --out work/synth-forgeries`.
set -eu
cd "$(dirname "$0")/.."
DATA=${FORENSCOPE_DATA:-../shared/data}
audit() { .venv/bin/forenscope audit "$2" --out "docs/results/audit/$1" > /dev/null; echo "$1: $(grep -o 'AUC: \*\*[0-9.]*' docs/results/audit/$1/results.md)"; }
audit faces_dev "$DATA/faces_dev"
audit copymove_cvip "$DATA/copymove_cvip"
audit synth-forgeries-test work/synth-forgeries/test.csv
audit synth-forgeries-val work/synth-forgeries/val.csv
