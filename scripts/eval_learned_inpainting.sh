#!/usr/bin/env bash
# Issue 18, item 1: the learned inpainter's fills as a forgery method no localiser trained on (until effunet's
# third cycle added them: docs/RESULTS.md "A third cycle with the learned fills"; the seeds read here are the two-cycle ones).
# Needs the shipped inpainter (forenscope train configs/inpainter.toml --ship) and the three
# seeds of the shipped effunet recipe read mirror-averaged (work/runs/effunet-crop320-cycle2-seed{0,1,2}-flip,
# see docs/RESULTS.md "Mirror averaging at inference"). Every step skips what is already done.
#   scripts/eval_learned_inpainting.sh        (~25 min on 2 cores)
# Writes docs/results/localize/realism-learned/, docs/results/localize/inpaint-learned/ (3 seeds of
# effunet / effunet-cm, summary.md) and docs/results/localize/inpaint-learned/others/ (the other
# shipped localisers). Reads test splits only to report: nothing is chosen here.
set -euo pipefail
cd "$(dirname "$0")/.."
F=.venv/bin/forenscope
$F synth forgeries --kind inpaint-learned --out work/synth-forgeries-learned --no-progress
$F synth forgeries --kind inpaint-learned --recipe realistic --out work/synth-forgeries-realistic-learned --no-progress
for recipe in "" realistic-; do
  [ -f "docs/results/localize/realism-${recipe}learned/results.json" ] ||
    .venv/bin/python scripts/audit_forgery_realism.py --forgeries "work/synth-forgeries-${recipe}learned" \
      --split val --out "docs/results/localize/realism-${recipe}learned"
done
R=work/runs/effunet-crop320-cycle2
OUT=docs/results/localize/inpaint-learned SETLIST="learned-test realistic-learned-test" \
  scripts/eval_effunet_runs.sh seed0=$R-seed0-flip seed1=$R-seed1-flip seed2=$R-seed2-flip
.venv/bin/python scripts/seed_table.py --results docs/results/localize/inpaint-learned
[ -f docs/results/localize/inpaint-learned/others/results.json ] ||
  $F eval work/synth-forgeries-learned/test.csv --kind pixel -d iidnet -d hlstm -d jlstm -d ela -d copymove-sift \
    --out docs/results/localize/inpaint-learned/others --no-progress
