"""A run folder that reads an earlier run's weights with other inference settings (the card's
``input`` section), e.g. ``flip_average``: ``forenscope eval --run effunet=OUT`` then scores the
same weights read another way, beside the original run. The weights are hard-linked (copied
where links fail), never altered; the card records what it is a variant of.

    .venv/bin/python scripts/variant_run.py work/runs/effunet-crop256-seed0 work/runs/effunet-crop256-seed0-flip \\
        --set flip_average=true
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path


def parse_value(text: str):
    """true / false / numbers as JSON reads them; anything else stays a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def make_variant(run: Path, out: Path, settings: dict) -> dict:
    card = json.loads((run / "card.json").read_text(encoding="utf-8"))
    card["input"] = {**card.get("input", {}), **settings}
    card["variant_of"] = {"run": str(run), "input": settings}
    out.mkdir(parents=True, exist_ok=True)
    target = out / "model.safetensors"
    target.unlink(missing_ok=True)
    try:
        os.link(run / "model.safetensors", target)
    except OSError:
        shutil.copyfile(run / "model.safetensors", target)
    (out / "card.json").write_text(json.dumps(card, indent=1), encoding="utf-8")
    return card


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a finished run (card.json + model.safetensors)")
    ap.add_argument("out", type=Path)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an input setting (repeatable)")
    args = ap.parse_args()
    if not (args.run / "card.json").is_file():
        raise SystemExit(f"{args.run}: no card.json (not a finished run)")
    pairs = [s.split("=", 1) for s in args.set]
    if any(len(p) != 2 or not p[0] for p in pairs):
        raise SystemExit("--set takes KEY=VALUE")
    card = make_variant(args.run, args.out, {k: parse_value(v) for k, v in pairs})
    print(f"{args.out}: {args.run}'s weights with input {card['input']}")


if __name__ == "__main__":
    main()
