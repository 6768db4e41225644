"""Training configs: TOML files in ``configs/``, read into plain dicts with defaults filled in
and unknown keys rejected (a typo must not silently train something else)."""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from pathlib import Path

DEFAULTS = {
    "name": None,            # registry name the weights ship under (npr, pelee-hpf, ...)
    # a method reproduced for comparison, not for triage: the card carries these (forenscope models marks it)
    "status": "",
    "status_note": "",
    "family": None,          # network family: npr | pelee
    "network": {},           # constructor arguments of the network
    "input": {"colour": "rgb", "tile": 256, "max_tiles": 16},
    "data": {"sources": [], "real_size": 256, "train_crop": 64, "val_crop": 256, "photo_long_side": 768,
             "match_candidates": 8,
             "min_side": 0},           # enlarge smaller images to this short side (CIFAKE for Pelee)
    "augment": {"blur_prob": 0.1, "blur_sigma": [0.0, 3.0], "jpeg_prob": 0.5, "jpeg_quality": [30, 100],
                "hflip": True,
                # the rest of the robustness suite (off unless set): rescale with a random kernel, noise
                "resize_prob": 0.0, "resize_scale": [0.5, 1.5], "noise_prob": 0.0, "noise_sigma": [0.0, 8.0]},
    "train": {"seed": 0, "steps": 2000, "batch": 64, "lr": 2e-4, "weight_decay": 0.0, "warmup": 100,
              "val_every": 250, "max_minutes": 60.0, "threads": 0,
              "amp": True},            # float16 mixed precision when training on CUDA (no effect on CPU)
    "calibration": {"target_fpr": 0.05},
}


# `task = "localize"`: a pixel localiser trained on `forenscope synth forgeries` output
LOCALIZE_DEFAULTS = {
    "name": None,
    # a method reproduced for comparison, not for triage: the card carries these (forenscope models marks it)
    "status": "",
    "status_note": "",
    "family": None,          # iidnet | effunet | hlstm | jlstm
    "task": "localize",
    "network": {},
    # whole images are analysed in tiles of this size (fixed for hlstm / jlstm); flip_average reads
    # every tile also mirrored left-right and averages the two maps (the network runs twice; read only at
    # inference, so not part of the training's hash: INFERENCE_ONLY)
    "input": {"tile": 256, "flip_average": False},
    "data": {"forgeries": "work/synth-forgeries", "kinds": [], "val_kinds": [], "authentic": True,
             "crop": 128, "positive_fraction": 0.7, "max_val_images": 150,
             # images smaller than the crop are padded by reflection; "reflect" mirrors the mask
             # with the pixels; "zero" (the recipe of every weight shipped so far, kept so their
             # configs retrain them) labels mirrored manipulated pixels authentic
             "mask_padding": "zero",
             "patch_fraction": 0.125},  # J-LSTM patch label: manipulated when >= this fraction is
    "train": {"seed": 0, "steps": 1000, "batch": 16, "lr": 1e-3, "weight_decay": 0.0, "warmup": 50,
              "val_every": 200, "max_minutes": 60.0, "threads": 0, "double_sigmoid": False,
              "init": "",  # "efficientnet-lite0" (or -lite1, -lite2, matching network.encoder): ImageNet weights for effunet's encoder
              # or: every weight from an earlier run of the same network (a safetensors file;
              # "{seed}" becomes the seed), to train a further schedule on top of it
              "init_from": "",
              # "published": each method's own loss weights (J-LSTM 1:5); "balanced": authentic
              # and manipulated pixels (and J-LSTM patches) carry half the loss each, per batch
              "class_weights": "published"},
    # image_head: fit a logistic image score on map statistics of the validation images
    # (train/localize.fit_image_head); false keeps the mean of the map's top 1 %
    "calibration": {"target_fpr": 0.05, "image_head": True},
    # sensor-like Gaussian noise on a share of the training crops (the robustness suite's noise;
    # off unless set, and then no random draw: earlier runs reproduce exactly)
    "augment": {"noise_prob": 0.0, "noise_sigma": [0.0, 8.0]},
}


# `task = "triage"`: one 3-class model (authentic / tampered / generated), "No one can escape"
TRIAGE_DEFAULTS = {
    "name": None,
    # a method reproduced for comparison, not for triage: the card carries these (forenscope models marks it)
    "status": "",
    "status_note": "",
    "family": None,          # cooc
    "task": "triage",
    "network": {},
    "input": {"levels": 192, "norm": "sum"},  # co-occurrence levels T; norm: sum | none (faithful) | log1p
    "data": {"forgeries": "work/synth-forgeries",        # authentic + tampered rows
             "tampered_kinds": ["splice", "copymove"],
             "generated": ["latent_diffusion"],            # ../shared/data/generated_train generators
             "generated_variants": 4,                      # processed copies per generated training image
             "authentic_variants": 0,                      # extra processed copies per real training photo
             "max_per_class": 0},                          # 0: all
    "train": {"seed": 0, "steps": 1500, "batch": 48, "lr": 5e-4, "weight_decay": 1e-4, "warmup": 50,
              "val_every": 250, "max_minutes": 30.0, "threads": 0},
}
# `task = "probe"`: a linear probe on frozen pretrained features (train/probe.py), trained on
# every generator family of the shared data against real photos and human-made art
PROBE_DEFAULTS = {
    "name": None,
    # a method reproduced for comparison, not for triage: the card carries these (forenscope models marks it)
    "status": "",
    "status_note": "",
    "family": "lite-probe",
    "task": "probe",
    "network": {"taps": [4, 10]},
    "input": {"tile": 512, "max_tiles": 4},
    "data": {"art": "work/real-art", "folds": 5, "views": 2},
    # balance_families: each generator family / real source weighs the same in the fit;
    # downscaled_reals: each training real also enters shrunk and re-saved (train.probe_features.downscaled)
    "train": {"seed": 0, "l2": [1e-3, 1e-2, 1e-1], "threads": 0, "balance_families": False, "downscaled_reals": False},
    "calibration": {"target_fpr": 0.05},
    # the benchmark figures the card quotes: generator-holdout's results.json and the method row
    "evaluation": {"results": "", "method": ""},
}
# `task = "inpaint"`: the learned inpainter that `synth forgeries --kind inpaint-learned` uses
# (train/inpainter.py), trained on the train split's photos; not a detector
INPAINT_DEFAULTS = {
    "name": None,
    "status": "",
    "status_note": "",
    "family": "inpainter",
    "task": "inpaint",
    "network": {"width": 32, "coarse": "none"},  # coarse "telea": refine Telea's fill (nets/inpainter.py)
    "input": {},
    # crops of photos shrunk to photo_long_side, then by a factor drawn from scale; the hole
    # covers a fraction drawn from area of the crop (0.4 of a 192 crop: a forgery's 12 % of a 512 photo)
    "data": {"photo_long_side": 512, "crop": 192, "scale": [0.5, 1.0], "area": [0.03, 0.4], "val_crops": 64},
    # perceptual / style: distances of frozen EfficientNet-Lite0 features and their Gram matrices
    # (train/inpainter.FeatureDistances; needs its wheel, as effunet's ImageNet initialisation does)
    "loss": {"hole_weight": 6.0, "gradient_weight": 1.0, "perceptual_weight": 0.0, "style_weight": 0.0},
    "train": {"seed": 0, "steps": 2400, "batch": 6, "lr": 1e-3, "weight_decay": 0.0, "warmup": 50,
              "val_every": 300, "max_minutes": 60.0, "threads": 0},
}
TASK_DEFAULTS = {"localize": LOCALIZE_DEFAULTS, "triage": TRIAGE_DEFAULTS, "probe": PROBE_DEFAULTS,
                 "inpaint": INPAINT_DEFAULTS}


class ConfigError(ValueError):
    pass


def _merge(defaults: dict, given: dict, where: str) -> dict:
    out = copy.deepcopy(defaults)
    for key, value in given.items():
        if key not in defaults:
            raise ConfigError(f"unknown key {where}{key!r}; known: {', '.join(defaults)}")
        if isinstance(defaults[key], dict) and defaults[key] and key != "network":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}{key} must be a table")
            out[key] = _merge(defaults[key], value, f"{where}{key}.")
        else:
            out[key] = value
    return out


def load_config(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    task = raw.get("task", "generated")
    if task in TASK_DEFAULTS:
        cfg = _merge(TASK_DEFAULTS[task], raw, "")
        for key in ("name", "family"):
            if not cfg[key]:
                raise ConfigError(f"{path}: `{key}` is required")
        if task == "triage" and cfg["train"]["batch"] % 3:
            raise ConfigError(f"{path}: train.batch must be a multiple of 3 (one third per class)")
        return cfg
    if task != "generated":
        raise ConfigError(f"{path}: task must be one of generated, {', '.join(TASK_DEFAULTS)}; got {task!r}")
    raw = {k: v for k, v in raw.items() if k != "task"}
    cfg = _merge(DEFAULTS, raw, "")
    for key in ("name", "family"):
        if not cfg[key]:
            raise ConfigError(f"{path}: `{key}` is required")
    if not cfg["data"]["sources"]:
        raise ConfigError(f"{path}: [[data.sources]] lists no training source")
    if cfg["train"]["batch"] < 2 or cfg["train"]["batch"] % 2:
        raise ConfigError(f"{path}: train.batch must be even (half real, half fake)")
    return cfg


# Keys added after runs were made, with the value that means "as before": left out of the hash
# when they hold it, so a finished run of an older config is still recognised (and resumed).
NEUTRAL = {("augment", "resize_prob"): 0.0, ("augment", "resize_scale"): [0.5, 1.5],
           ("augment", "noise_prob"): 0.0, ("augment", "noise_sigma"): [0.0, 8.0], ("train", "amp"): True,
           ("train", "class_weights"): "published", ("train", "balance_families"): False,
           ("train", "downscaled_reals"): False, ("train", "init_from"): ""}
# what describes a model without changing how it trains: never part of the hash
DOCUMENTATION = ("status", "status_note")
# how a trained network is read, not how it trains: never part of the hash either, so a run
# read another way is the same training (resumed, or adopted by train/run.py, under such a config)
INFERENCE_ONLY = (("input", "flip_average"),)


def config_hash(cfg: dict) -> str:
    """The hash a run folder records: a resumed run must have the same. Keys added later with
    their old behaviour as default (``NEUTRAL``), documentation keys and inference-only settings
    do not count."""
    cfg = {k: v for k, v in copy.deepcopy(cfg).items() if k not in DOCUMENTATION}
    emptied = set()
    for (table, key), value in NEUTRAL.items():
        if table in cfg and cfg[table].get(key, object()) == value:
            del cfg[table][key]
            emptied.add(table)
    for table in emptied:  # a table that holds only neutral keys did not exist before them
        if not cfg[table]:
            del cfg[table]
    for table, key in INFERENCE_ONLY:
        if isinstance(cfg.get(table), dict):
            cfg[table].pop(key, None)
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]
