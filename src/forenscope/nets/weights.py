"""Weights on disk: safetensors, split into shards so that no shipped file passes ``MAX_SHARD``
bytes (a repository limit, ~20 MB). ``model.safetensors`` holds the first tensors and
``model-1.safetensors``, ``model-2.safetensors`` ... the rest, in state-dict order; a network
small enough is one file, as before. Tensors only: nothing is unpickled."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

MAX_SHARD = 16 * 1024 * 1024


def shard_path(path: Path, k: int) -> Path:
    """The ``k``-th file of the weights at ``path`` (0: ``path`` itself, k: ``<stem>-k<suffix>``)."""
    path = Path(path)
    return path if k == 0 else path.with_name(f"{path.stem}-{k}{path.suffix}")


def shard_paths(path: Path) -> list[Path]:
    """``path`` and the shards beside it that belong to it, in order."""
    out = [Path(path)]
    while (nxt := shard_path(path, len(out))).is_file():
        out.append(nxt)
    return out


def copy_weights(src: Path, dest: Path) -> list[Path]:
    """Copy the weights at ``src`` (and its shards) to ``dest`` (and shards named after it)."""
    import shutil

    files = [shard_path(dest, k) for k in range(len(shard_paths(src)))]
    for shard, file in zip(shard_paths(src), files):
        shutil.copyfile(shard, file)
    return files


def save_weights(state: dict[str, torch.Tensor], path: Path, max_bytes: int = MAX_SHARD) -> list[Path]:
    """Write ``state`` to ``path`` (and shards beside it when it is larger than ``max_bytes``);
    stale shards of an earlier, larger save are removed. Returns the files written."""
    path = Path(path)
    for old in shard_paths(path)[1:]:
        old.unlink()
    shards, size = [{}], 0
    for name, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensor.detach().cpu().contiguous()
        size += nbytes
    files = [shard_path(path, k) for k in range(len(shards))]
    for shard, file in zip(shards, files):
        save_file(shard, str(file))
    return files


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of ``path`` and its shards."""
    state: dict[str, torch.Tensor] = {}
    for file in shard_paths(path):
        state.update(load_file(str(file)))
    return state


def weights_sha256(path: Path) -> str:
    """SHA-256 of the weights' bytes: the one file's, or of every shard's in order."""
    h = hashlib.sha256()
    for file in shard_paths(path):
        h.update(Path(file).read_bytes())
    return h.hexdigest()
