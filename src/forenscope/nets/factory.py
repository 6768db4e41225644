"""Build a network from its family name and the config stored in its card."""

from __future__ import annotations

from torch import nn

from forenscope.nets.npr import NPRNet
from forenscope.nets.pelee import PeleeHPF

FAMILIES = ("npr", "pelee")


def build_network(family: str, config: dict) -> nn.Module:
    """``config`` holds the constructor arguments (JSON-friendly: lists become tuples)."""
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    if family == "npr":
        return NPRNet(**kw)
    if family == "pelee":
        return PeleeHPF(**kw)
    raise ValueError(f"unknown network family {family!r}; choose from {', '.join(FAMILIES)}")
