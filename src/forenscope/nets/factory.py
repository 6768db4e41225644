"""Build a network from its family name and the config stored in its card."""

from __future__ import annotations

from torch import nn

from forenscope.nets.npr import NPRNet
from forenscope.nets.pelee import PeleeHPF

FAMILIES = ("npr", "pelee", "iidnet", "hlstm", "jlstm", "effunet", "cooc", "lite-probe")
LOCALIZER_FAMILIES = ("iidnet", "hlstm", "jlstm", "effunet")


def build_network(family: str, config: dict) -> nn.Module:
    """``config`` holds the constructor arguments (JSON-friendly: lists become tuples)."""
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    if family == "npr":
        return NPRNet(**kw)
    if family == "pelee":
        return PeleeHPF(**kw)
    if family == "iidnet":
        from forenscope.nets.iidnet import IIDNet

        return IIDNet(**kw)
    if family == "effunet":
        from forenscope.nets.efficient_unet import EfficientUNet

        return EfficientUNet(**kw)
    if family == "lite-probe":
        from forenscope.nets.lite_probe import LiteProbe

        return LiteProbe(**kw)
    if family == "cooc":
        from forenscope.nets.cooc import CoocNet

        return CoocNet(**kw)
    if family in ("hlstm", "jlstm"):
        from forenscope.nets.lstm_localizers import HLSTM, JLSTM

        return (HLSTM if family == "hlstm" else JLSTM)(**kw)
    raise ValueError(f"unknown network family {family!r}; choose from {', '.join(FAMILIES)}")
