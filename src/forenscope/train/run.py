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
    if task == "inpaint":
        from forenscope.train.inpainter import train_inpainter

        return train_inpainter(cfg, out, data, log=log, restart=restart, stop_after=stop_after)
    from forenscope.train.generated import train

    return train(cfg, out, data, Path.cwd(), log=log, restart=restart, stop_after=stop_after)


def adopt_run(cfg: dict, run: Path) -> dict:
    """The card that ships a finished run of a candidate config as ``cfg``'s model, without
    training again: the run's config must equal ``cfg`` apart from ``name``, documentation keys
    and inference-only input settings (training does not depend on them; the card takes
    ``cfg``'s), and its weights must be the ones its card names.
    Raises ValueError (what differs) or FileNotFoundError (no finished run)."""
    import json

    from forenscope.nets.weights import weights_sha256
    from forenscope.train.config import DOCUMENTATION, INFERENCE_ONLY, config_hash

    run = Path(run)
    if not (run / "card.json").is_file() or not (run / "model.safetensors").is_file():
        raise FileNotFoundError(f"{run} holds no finished run (card.json and model.safetensors)")
    card = json.loads((run / "card.json").read_text(encoding="utf-8"))
    ran = card["training"]["config"]
    if config_hash({**ran, "name": cfg["name"]}) != config_hash(cfg):
        a, b = _flat(ran), _flat(cfg)
        ignored = {"name", *DOCUMENTATION, *(f"{t}.{k}" for t, k in INFERENCE_ONLY)}
        keys = sorted(k for k in {*a, *b} - ignored if a.get(k) != b.get(k))
        raise ValueError(f"{run} was trained from another config (differs in {', '.join(keys) or 'defaults'}): "
                         "train this config instead")
    if weights_sha256(run / "model.safetensors") != card["weights_sha256"]:  # shards included
        raise ValueError(f"{run}/model.safetensors is not the weights its card names")
    training = {**card["training"], "config": cfg, "config_hash": config_hash(cfg),
                "adopted_from": {"run": run.as_posix(), "name": ran["name"], "config_hash": card["training"]["config_hash"]}}
    docs = {k: cfg[k] for k in DOCUMENTATION if cfg.get(k)}
    return {**{k: v for k, v in card.items() if k not in DOCUMENTATION}, **docs, "name": cfg["name"],
            "input": {**card.get("input", {}), **cfg.get("input", {})}, "training": training}


def _flat(cfg: dict, prefix: str = "") -> dict:
    """{"table.key": value} of a config (to name what differs)."""
    out = {}
    for k, v in cfg.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out
