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


def shard_paths(path: Path) -> list[Path]:
    """``path`` and the shards beside it that belong to it, in order."""
    path = Path(path)
    out, k = [path], 1
    while (nxt := path.with_name(f"{path.stem}-{k}{path.suffix}")).is_file():
        out.append(nxt)
        k += 1
    return out


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
    files = [path] + [path.with_name(f"{path.stem}-{k}{path.suffix}") for k in range(1, len(shards))]
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
