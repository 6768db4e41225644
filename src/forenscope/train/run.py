"""One entry for every trainer: a loaded config goes to the trainer of its task."""

from __future__ import annotations

from pathlib import Path
from typing import Callable


def train_from_config(cfg: dict, out: Path, data: Path, log: Callable[[str], None] = print, restart: bool = False,
                      stop_after: int | None = None) -> dict | None:
    """Train (or resume) ``cfg`` into ``out``; the card, or None when stopped at ``stop_after``."""
    task = cfg.get("task")
    if task == "localize":
        from forenscope.train.localize import train_localizer

        return train_localizer(cfg, out, log=log, restart=restart, stop_after=stop_after)
    if task == "probe":
        from forenscope.train.probe import train_probe

        return train_probe(cfg, out, data, log=log)
    if task == "triage":
        from forenscope.train.triage import train_triage

        return train_triage(cfg, out, data, log=log, restart=restart, stop_after=stop_after)
    from forenscope.train.generated import train

    return train(cfg, out, data, Path.cwd(), log=log, restart=restart, stop_after=stop_after)
