"""Training on several processes with PyTorch DDP, launched by ``torchrun``:

    torchrun --nproc-per-node 4 -m forenscope train configs/npr.toml

Each step's batch is drawn exactly as in one process (``default_rng([seed, step])``) and rank
``r`` of ``W`` trains on its items ``r, r+W, ...``; DDP averages the gradients and the loss is
scaled by the shard's share, so a step sees the same examples and the same mean gradient as
one process (batch-norm statistics are per shard, the one difference). This replaces a
DistributedSampler: batches here are drawn, not iterated. Validation is sharded the same way
and the scores gathered back in order, so metrics are those of one process whatever the
world size divides. Rank 0 alone writes checkpoints, logs and the card; every rank resumes
from the same ``last.safetensors``. Without torchrun (``WORLD_SIZE`` unset or 1) nothing here
does anything but choose the device.

Device: the real-vs-generated trainer runs on CUDA when there is a GPU (rank ``r`` on
``cuda:LOCAL_RANK``, the nccl backend, mixed precision unless ``train.amp = false``), else on
the CPU with gloo; ``FORENSCOPE_DEVICE=cpu`` keeps it on the CPU. The localisation and triage
trainers stay on the CPU.
"""

from __future__ import annotations

import atexit
import os
from datetime import timedelta
from functools import lru_cache

import numpy as np
import torch

EXIT_BARRIER_SECONDS = 60  # how long a finished rank waits for the others before leaving


def _cuda_wanted() -> bool:
    """CUDA when there is one, unless ``FORENSCOPE_DEVICE=cpu`` says otherwise."""
    return torch.cuda.is_available() and os.environ.get("FORENSCOPE_DEVICE", "auto") != "cpu"


class World:
    def __init__(self, size: int = 1, rank: int = 0, device: str = "cpu"):
        self.size, self.rank = size, rank
        self.device = torch.device(device)  # where this rank trains (real-vs-generated trainer)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, n: int) -> slice:
        """This rank's items of ``n``: r, r + W, ..."""
        return slice(self.rank, n, self.size)

    def any(self, flag: bool) -> bool:
        """True on every rank when it is True on any (collective decisions: stop, time out)."""
        if self.size == 1:
            return flag
        t = torch.tensor([int(flag)], device=self.device)  # nccl reduces CUDA tensors only
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item())

    def gather(self, local: np.ndarray, n: int) -> np.ndarray:
        """The full length-``n`` array from each rank's ``local = full[r::W]``."""
        if self.size == 1:
            return local
        parts: list = [None] * self.size
        torch.distributed.all_gather_object(parts, np.asarray(local))
        full = np.empty(n, dtype=np.asarray(local).dtype)
        for r, part in enumerate(parts):
            full[r::self.size] = part
        return full

    def barrier(self) -> None:
        if self.size > 1:
            torch.distributed.barrier()

    def wrap(self, net: torch.nn.Module) -> torch.nn.Module:
        """DDP around ``net`` (parameters broadcast from rank 0 now, gradients averaged)."""
        if self.size == 1:
            return net
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(net, device_ids=ids, broadcast_buffers=True)


def leave_world() -> None:
    """Close the process group before the interpreter exits: a gloo group left open aborts its
    process at exit ("terminate called without an active exception"), which torchrun reports
    as a failed rank although training finished."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    if dist.get_backend() == "gloo":
        # Tear down together: a rank that closes its connections while a peer still uses them
        # can abort that peer at exit. Bounded, so a rank that died cannot hang the others.
        try:
            dist.monitored_barrier(timeout=timedelta(seconds=EXIT_BARRIER_SECONDS))
        except RuntimeError:
            pass
    dist.destroy_process_group()


@lru_cache(maxsize=1)
def current_world() -> World:
    """The process group torchrun describes in the environment, joined once per process."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = _cuda_wanted()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    device = f"cuda:{torch.cuda.current_device()}" if cuda else "cpu"
    if size <= 1:
        return World(device=device)
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
        atexit.register(leave_world)
    return World(dist.get_world_size(), dist.get_rank(), device)
