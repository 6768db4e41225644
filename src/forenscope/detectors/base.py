"""What every detector is: its card, its preprocessing, one typed `Analysis` out."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np

from forenscope.analysis import Analysis
from forenscope.detectors.calibration import calibrate, uncalibrate
from forenscope.imageio import ImageMeta, as_rgb_uint8

POSITIVE_LABEL = {"generated": "generated", "tampered": "tampered", "localize": "tampered"}  # triage: its class


class MissingWeightsError(FileNotFoundError):
    pass


def onnx_providers() -> list[str]:
    """ONNX Runtime execution providers for the trained networks: CUDA first when the installed
    onnxruntime has it (the onnxruntime-gpu package; a Ray actor given a GPU sees only its own)
    and ``FORENSCOPE_DEVICE`` is not ``cpu``, then the CPU."""
    import os

    import onnxruntime as ort

    cuda = "CUDAExecutionProvider" in ort.get_available_providers() and os.environ.get("FORENSCOPE_DEVICE") != "cpu"
    return ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]


def weights_dir() -> Path:
    """Where forenscope's shipped weights and cards live (``--ship`` writes there)."""
    return Path(str(resources.files("forenscope") / "weights"))


# a card's "status" for a method reproduced for comparison whose measured figures do not make
# it fit for triage (its "status_note" says which figures); never a default
RESEARCH = "research reproduction"


def load_card(name: str) -> dict | None:
    """The shipped card ``weights/<name>.json``, or None when forenscope ships none."""
    path = resources.files("forenscope") / "weights" / f"{name}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


class Detector:
    """Base class. Subclasses set ``name`` and ``task`` (via the registry decorator) and
    implement :meth:`_analyze` on a validated RGB uint8 array."""

    name: str = ""
    task: str = ""
    input_size: int | None = None  # None: any size, analysed at native resolution
    licence: str = "Apache-2.0"

    def __init__(self, threshold: float | None = None):
        self.card = load_card(self.name) or {}
        self.threshold = float(threshold if threshold is not None else self.card.get("threshold", 0.5))

    def _trained_weights(self, threshold: float | None, run: str | None, config: str = "") -> Path:
        """Card and threshold of a trained detector, shipped or from a ``forenscope train`` run
        folder (``run``: its card.json and model.safetensors); returns the weights' path.
        ``config``: the config that trains the shipped weights (named when they are missing)."""
        if run is not None:
            self.card = json.loads((Path(run) / "card.json").read_text(encoding="utf-8"))
            weights = Path(run) / "model.safetensors"
            self.threshold = float(threshold if threshold is not None else self.card["threshold"])
        else:
            Detector.__init__(self, threshold)
            weights = Path(str(resources.files("forenscope") / "weights" / f"{self.name}.safetensors"))
        if not self.card or not weights.is_file():
            raise MissingWeightsError(
                f"{self.name}: no trained weights at {weights}; train them with "
                f"`forenscope train {config or f'configs/{self.name}.toml'} --ship`")
        return weights

    def config(self) -> dict:
        """The parameters that change this detector's output (recorded in every result)."""
        return {"threshold": self.threshold}

    # Set by `use_calibration` (load_detector does it when the card has a calibration that
    # fits the detector's parameters): `score` is then a probability and `threshold` on its scale.
    calibration: dict | None = None

    @property
    def raw_threshold(self) -> float:
        """The threshold on the uncalibrated score that `_analyze` computes."""
        return uncalibrate(self.calibration, self.threshold) if self.calibration else self.threshold

    def use_calibration(self, cal: dict) -> None:
        """Report calibrated probabilities from now on; the threshold keeps its meaning."""
        raw = self.raw_threshold
        self.calibration = cal
        self.threshold = calibrate(cal, raw)

    def analyze(self, image: np.ndarray, meta: ImageMeta | None = None) -> Analysis:
        rgb = as_rgb_uint8(image, source=meta.source if meta else "<array>")
        result = self._analyze(rgb, meta)
        if self.calibration:  # the label was decided on this scale already (label_for)
            result.extras["raw_score"] = result.score
            result.score = calibrate(self.calibration, result.score)
        return result

    def _analyze(self, rgb: np.ndarray, meta: ImageMeta | None) -> Analysis:
        raise NotImplementedError

    def label_for(self, raw_score: float) -> str:
        """The label of a raw score (as `_analyze` computes it), decided on the reported scale,
        so a threshold equal to a reported score flags that image."""
        score = calibrate(self.calibration, raw_score) if self.calibration else raw_score
        return POSITIVE_LABEL[self.task] if score >= self.threshold else "authentic"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config().items())})"


class BlockOutlierDetector(Detector):
    """Classical detectors that measure one statistic per block and flag blocks that stand
    out from the image's own typical value (robust z-score: median and MAD over blocks).

    Heat is 0.5 at ``z_half`` robust sigmas and 1 at twice that (the mask is heat >= 0.5).
    The image score is ``z / (z + 2 z_half)`` for ``z`` the mean of the top 1 % of block
    outlier strengths: 0.5 at a ``2 z_half``-sigma outlier, never saturating, so a threshold
    can be calibrated on authentic photos (the card's ``threshold``). Not a probability.
    """

    def __init__(self, threshold: float | None = None, z_half: float = 3.0):
        super().__init__(threshold)
        self.z_half = float(z_half)

    def config(self) -> dict:
        return {**super().config(), "z_half": self.z_half}

    def _from_block_z(self, z: np.ndarray, height: int, width: int, extras: dict) -> Analysis:
        from forenscope.signals.blocks import top_mean, upsample, z_to_heat

        block_heat = z_to_heat(z, self.z_half)
        heatmap = upsample(block_heat, height, width)
        strength = max(top_mean(z), 0.0)
        score = strength / (strength + 2.0 * self.z_half)
        return Analysis(
            detector=self.name,
            task=self.task,
            score=score,
            label=self.label_for(score),
            heatmap=heatmap,
            mask=heatmap >= 0.5,
            extras={"block_grid": list(block_heat.shape), "outlier_sigmas": strength, **extras},
        )
