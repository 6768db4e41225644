"""DDP on two CPU processes (gloo), as `torchrun --nproc-per-node 2 -m forenscope train` runs
it: the same result as one process within tolerance, one writer, resuming after a stop, and
validation scores gathered in order when the set does not divide by the world size."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from forenscope.train.config import load_config
from forenscope.train.generated import train

from test_train import CONFIG as TRAIN_CONFIG, tiny_root  # noqa: F401  (fixture reused)

# test_train's tiny NPR config: 12 steps, checkpoints at 6 and 12
CONFIG = TRAIN_CONFIG.replace("STEPS", "12").replace("val_every = 10", "val_every = 6")


@pytest.fixture(scope="module")
def world(tiny_root, tmp_path_factory):
    cfg = tmp_path_factory.mktemp("ddp") / "npr-ddp.toml"
    cfg.write_text(CONFIG)
    return tiny_root, cfg


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(cfg: Path, out: Path, data: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(_port()), "-m", "forenscope", "train", str(cfg), "--out", str(out),
           "--data", str(data), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=data)


def test_two_processes_match_one_and_resume(world, tmp_path):
    root, cfg_file = world
    single = train(load_config(cfg_file), tmp_path / "one", root, root, log=lambda m: None)
    r = _torchrun(cfg_file, tmp_path / "two", root)
    assert r.returncode == 0, r.stderr[-3000:]
    two = json.loads((tmp_path / "two" / "card.json").read_text())
    assert r.stdout.count('"validation"') == 1  # rank 0 reports, once
    log_lines = (tmp_path / "two" / "log.jsonl").read_text().splitlines()
    assert len(log_lines) == 2  # checkpoints at 6 and 12, written once
    # same batches and mean gradient, but batch-norm statistics per shard of 8 (the exact
    # gradient arithmetic is checked on a network without batch norm below)
    for key in ("ap", "roc_auc"):
        assert abs(two["metrics"]["validation"][key] - single["metrics"]["validation"][key]) < 0.05

    r = _torchrun(cfg_file, tmp_path / "cut", root, "--stop-after", "6")
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((tmp_path / "cut" / "state.json").read_text())["step"] == 6
    r = _torchrun(cfg_file, tmp_path / "cut", root)
    assert r.returncode == 0, r.stderr[-3000:]
    c = load_file(tmp_path / "cut" / "last.safetensors")
    d = load_file(tmp_path / "two" / "last.safetensors")
    for k in c:
        assert torch.allclose(c[k], d[k], atol=1e-6), k


def _linear_steps(out: Path, batch: int) -> dict:
    """Five SGD steps of a linear classifier through run_steps (no batch norm: one process and
    several must agree to float precision)."""
    import torch.nn.functional as F

    from forenscope.train.engine import run_steps

    torch.manual_seed(0)
    net = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    cfg = {"train": {"seed": 1, "steps": 5, "batch": batch, "lr": 0.1, "warmup": 0, "val_every": 100,
                     "max_minutes": 10}}

    def make_batch(rng):
        x = torch.from_numpy(rng.normal(size=(batch, 4)).astype(np.float32))
        return x, (x.sum(1) > 0.3).float()

    out.mkdir(parents=True, exist_ok=True)
    run_steps(cfg, out, net, opt, {"step": 0, "seconds": 0.0}, make_batch,
              lambda logits, y: F.binary_cross_entropy_with_logits(logits[:, 0], y), lambda st, *_: st, lambda m: None)
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _steps_worker(rank: int, port: int, out: str, batch: int):
    import os

    os.environ.update(WORLD_SIZE="2", RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    from safetensors.torch import save_file

    from forenscope.train.distributed import leave_world

    weights = _linear_steps(Path(out) / f"rank{rank}", batch)
    save_file(weights, f"{out}/rank{rank}.safetensors")
    leave_world()  # spawned children skip atexit


@pytest.mark.parametrize("batch", [16, 15])
def test_two_ranks_take_the_same_steps_as_one_process(tmp_path, batch):
    """Batch 15 on two ranks: shards of 8 and 7, weighted by their share."""
    import torch.multiprocessing as mp

    one = _linear_steps(tmp_path / "one", batch)
    mp.spawn(_steps_worker, args=(_port(), str(tmp_path), batch), nprocs=2, join=True)
    for rank in (0, 1):
        got = load_file(tmp_path / f"rank{rank}.safetensors")
        for k in one:
            assert torch.allclose(got[k], one[k], atol=1e-6), (rank, k, got[k], one[k])


def _gather_worker(rank: int, init: str, n: int, out: str):
    import torch.distributed as dist

    from forenscope.train.distributed import World

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    w = World(2, rank)
    full = np.arange(n, dtype=np.float64) * 1.5
    got = w.gather(full[w.shard(n)], n)
    agreed = w.any(rank == 1)
    np.save(f"{out}.{rank}.npy", np.r_[got, float(agreed)])
    dist.destroy_process_group()


@pytest.mark.parametrize("n", [7, 8, 1])
def test_gathered_scores_keep_their_order_when_the_set_does_not_divide(tmp_path, n):
    import torch.multiprocessing as mp

    init = f"file://{tmp_path / 'rendezvous'}"
    mp.spawn(_gather_worker, args=(init, n, str(tmp_path / "g")), nprocs=2, join=True)
    for rank in (0, 1):
        got = np.load(tmp_path / f"g.{rank}.npy")
        assert np.array_equal(got[:-1], np.arange(n) * 1.5) and got[-1] == 1.0


def test_other_tasks_refuse_several_processes(monkeypatch):
    from forenscope.train import distributed
    from forenscope.train.triage import train_triage

    monkeypatch.setattr(distributed, "current_world", lambda: distributed.World(2, 1))
    with pytest.raises(ValueError, match="only task 'generated'"):
        train_triage({}, Path("x"), Path("y"))
