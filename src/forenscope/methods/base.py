"""What a trained method is, in one place: how it prepares pixels for its network, builds the
network from a card, runs it over a whole image and turns the outputs into a score (and a
map), and which loss trains it. One subclass per method (``methods/<name>.py``); the trainers,
the detectors and the ONNX exporter ask the method instead of switching on its name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

# a network or the ONNX Runtime session standing in for it: tensors in, a tensor or a tuple out
Runner = Callable[..., "torch.Tensor | tuple[torch.Tensor, ...]"]


@dataclass
class Reading:
    """What a method reads off one image: the raw score (what the card's threshold applies
    to), an optional probability map at the image's size, an optional label that is not a
    threshold decision (triage: the most probable class), and extras for the report."""

    score: float
    heatmap: np.ndarray | None = None
    label: str | None = None
    extras: dict = field(default_factory=dict)


def constructor_args(network: dict) -> dict:
    """A card's ``network`` table as keyword arguments (JSON lists become tuples)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in network.items()}


class Method:
    """Base class. ``name`` is the card's ``family``; ``detector`` the registry name its
    shipped weights go by (the name itself when empty); ``task`` the detector's task;
    ``config`` the config that trains the shipped weights."""

    name: str = ""
    detector: str = ""
    task: str = ""
    config: str = ""
    network: type[nn.Module] | None = None
    # (offset, scale): the network takes (RGB - offset) / scale, C x H x W; None: ``prepare`` says
    input_scale: tuple[float, float] | None = None
    dynamic_size: bool = True     # fully convolutional: any height and width
    fixed_tile: int | None = None  # a network with a fixed input grid

    @property
    def detector_name(self) -> str:
        return self.detector or self.name

    def build(self, network: dict) -> nn.Module:
        """The network from a card's ``network`` table (its constructor arguments)."""
        return self.network(**constructor_args(network))

    def prepare(self, rgb: np.ndarray, settings: dict) -> np.ndarray:
        """RGB uint8 H x W x 3 -> the C x H x W float32 the network takes; ``settings`` is the
        card's (or config's) ``input`` table."""
        if self.input_scale is None:
            raise NotImplementedError(f"{type(self).__name__} sets neither input_scale nor prepare")
        offset, scale = self.input_scale
        return ((rgb.astype(np.float32) - offset) / scale).transpose(2, 0, 1)

    def describe(self, settings: dict) -> dict:
        """The input settings that change its output (recorded in every result)."""
        return {}

    def batch(self, crops: list[np.ndarray], settings: dict) -> tuple[torch.Tensor, ...]:
        """The network's inputs for equal-sized crops (a tuple: some networks take two)."""
        return (torch.from_numpy(np.stack([self.prepare(np.ascontiguousarray(c), settings) for c in crops])),)

    def read(self, run: Runner, rgb: np.ndarray, card: dict) -> Reading:
        """Score (and map) of a whole image of any size through ``run``."""
        raise NotImplementedError

    def loss(self, output, target: torch.Tensor, cfg: dict) -> torch.Tensor:
        """The training loss of the network's ``output`` against ``target`` (labels or masks)."""
        raise NotImplementedError
