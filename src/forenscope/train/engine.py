"""The step engine every trainer shares: seeded, resumable steps (batch ``step`` draws from
``default_rng([seed, step])`` and torch is reseeded per step, so a run killed and resumed makes
the same batches as an uninterrupted one), checkpoints as safetensors (model and optimiser)
plus a JSON state (nothing pickled), and the card every trained model ships with."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from forenscope.nets.weights import weights_sha256
from forenscope.train.config import config_hash
from forenscope.train.distributed import current_world


Log = Callable[[str], None]


def save_optimizer(opt: torch.optim.Optimizer, path: Path) -> None:
    sd = opt.state_dict()
    tensors = {f"{i}.{k}": (v.cpu() if torch.is_tensor(v) else torch.tensor(v)).contiguous()
               for i, st in sd["state"].items() for k, v in st.items()}
    save_file(tensors, str(path), metadata={"param_groups": json.dumps(sd["param_groups"])})


def load_optimizer(opt: torch.optim.Optimizer, path: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        groups = json.loads(fh.metadata()["param_groups"])
        state: dict = {}
        for key in fh.keys():
            i, name = key.split(".", 1)
            state.setdefault(int(i), {})[name] = fh.get_tensor(key)
    opt.load_state_dict({"state": state, "param_groups": groups})


def _lr(cfg: dict, step: int) -> float:
    t = cfg["train"]
    if step < t["warmup"]:
        return t["lr"] * (step + 1) / t["warmup"]
    progress = (step - t["warmup"]) / max(1, t["steps"] - t["warmup"])
    return t["lr"] * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def cpu_state(net: torch.nn.Module) -> dict:
    """The weights as CPU tensors (what safetensors files hold, whatever the training device)."""
    return {k: v.detach().cpu() for k, v in net.state_dict().items()}


def _to(x, device: torch.device):
    return tuple(v.to(device) for v in x) if isinstance(x, tuple) else x.to(device)


def open_run(cfg: dict, out: Path, net, opt, log: Log, restart: bool = False) -> dict:
    """Prepare ``out`` (``restart`` discards a previous run) and return the run's state: fresh,
    or that of the run already there, whose weights and optimiser are loaded into ``net`` and
    ``opt`` (it must come from the same config)."""
    world = current_world()
    torch.set_num_threads(cfg["train"]["threads"] or max(1, (os.cpu_count() or 1) // world.size))
    out.mkdir(parents=True, exist_ok=True)
    if restart and world.main:
        for f in ("state.json", "last.safetensors", "last-optim.safetensors", "best.safetensors"):
            (out / f).unlink(missing_ok=True)
    world.barrier()
    chash = config_hash(cfg)
    state_path = out / "state.json"
    if not (state_path.is_file() and (out / "last.safetensors").is_file()):
        return {"step": 0, "best": None, "history": [], "config_hash": chash, "seconds": 0.0}
    state = json.loads(state_path.read_text())
    if state.get("config_hash") != chash:
        raise ValueError(f"{out} holds a run of a different config; use --restart or another --out")
    net.load_state_dict(load_file(out / "last.safetensors"))
    load_optimizer(opt, out / "last-optim.safetensors")
    log(f"resuming at step {state['step']}")
    return state


def run_steps(cfg: dict, out: Path, net, opt, state: dict, make_batch: Callable, loss_fn: Callable,
              checkpoint: Callable, log: Log, stop_after: int | None = None) -> dict | None:
    """The seeded step loop both trainers share: batch ``step`` comes from
    ``make_batch(default_rng([seed, step]))`` with torch reseeded per step (so a resumed run
    equals an uninterrupted one); ``checkpoint(state, step, elapsed)`` validates and saves every
    ``val_every`` steps, at the end, when the time budget runs out and at ``stop_after`` (then
    None is returned: an interruption, for tests). Returns the final state."""
    t = cfg["train"]
    world = current_world()
    model = world.wrap(net)  # under torchrun: DDP, each rank on its share of every batch
    device = next(net.parameters()).device
    amp = bool(t.get("amp", True)) and device.type == "cuda"  # float16 autocast + loss scaling on GPUs
    scaler = torch.amp.GradScaler("cuda") if amp else None
    state["hardware"] = {"device": device.type, "world_size": world.size, "amp": amp}  # recorded in the card
    t0, seen, budget = time.time(), 0, t["max_minutes"] * 60
    step = state["step"]
    while step < t["steps"]:
        rng = np.random.default_rng([t["seed"], step])
        torch.manual_seed(t["seed"] * 1_000_003 + step)
        x, y = make_batch(rng)
        if world.size > 1:
            part = world.shard(len(y))
            share = len(y[part]) * world.size / len(y)  # DDP averages over ranks: weight by share
            x, y = (tuple(v[part] for v in x) if isinstance(x, tuple) else x[part]), y[part]
        else:
            share = 1.0
        for group in opt.param_groups:
            group["lr"] = _lr(cfg, step)
        model.train()
        x, y = _to(x, device), y.to(device)
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            loss = loss_fn(model(*x) if isinstance(x, tuple) else model(x), y) * share  # tuple: several inputs
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        step += 1
        seen += len(x[0] if isinstance(x, tuple) else x) * world.size
        if step % 25 == 0 and world.main:
            rate = seen / (time.time() - t0)
            eta = (t["steps"] - step) * t["batch"] / max(rate, 1e-9)
            log(f"step {step}/{t['steps']} loss {loss.item() / share:.4f} {rate:.1f} img/s, ETA {eta / 60:.1f} min")
        out_of_time = world.any(state["seconds"] + time.time() - t0 > budget)
        if step % t["val_every"] == 0 or step == t["steps"] or out_of_time or step == stop_after:
            state = checkpoint(state, step, time.time() - t0)
            t0, seen = time.time(), 0
            if out_of_time:
                log(f"time budget of {t['max_minutes']} min reached at step {step}")
                state["stopped_early"] = True
                break
            if step == stop_after:
                return None
    if world.main:
        (out / "state.json").write_text(json.dumps(state, indent=1))
    world.barrier()
    return state


def save_checkpoint(net, opt, out: Path, state: dict, record: dict, elapsed: float, better: bool) -> None:
    """last (+ optimiser) and, when ``better``, best weights; state.json and log.jsonl."""
    state["history"].append(record)
    state["seconds"] = state.get("seconds", 0.0) + elapsed
    if better:
        state["best"] = record
    state["step"] = record["step"]
    world = current_world()
    if world.main:  # every rank holds the same weights and state; one writes them
        save_file(cpu_state(net), str(out / "last.safetensors"))
        save_optimizer(opt, out / "last-optim.safetensors")
        if better:
            shutil.copyfile(out / "last.safetensors", out / "best.safetensors")
        (out / "state.json").write_text(json.dumps(state, indent=1))
        with open(out / "log.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
    world.barrier()


def model_card(net, cfg: dict, state: dict, out: Path, *, task: str, threshold: float, threshold_note: str,
               counts: dict, data_sha256: str) -> dict:
    """Write model.safetensors; the card fields every trained detector shares."""
    save_file(cpu_state(net), str(out / "model.safetensors"))
    return {
        "name": cfg["name"], "family": cfg["family"], "task": task,
        "network": cfg["network"], "input": cfg["input"],
        "threshold": threshold, "threshold_note": threshold_note,
        **{k: cfg[k] for k in ("status", "status_note") if cfg.get(k)},  # e.g. "research reproduction"
        "parameters": sum(p.numel() for p in net.parameters()),
        "weights_sha256": weights_sha256(out / "model.safetensors"),
        "training": {"config": cfg, "config_hash": state["config_hash"], "best_step": state["best"]["step"],
                     "steps_run": state["step"], "stopped_early": state.get("stopped_early", False),
                     "train_seconds": round(state.get("seconds", 0.0)), **counts,
                     "data_manifest_sha256": data_sha256, "hardware": state.get("hardware")},
    }

