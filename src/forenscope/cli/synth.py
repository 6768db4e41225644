"""``forenscope synth generators | forgeries``: training data made from the real photos."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from forenscope.cli.common import DATA, app, fail, log
from forenscope.cli.progress import iter_progress


synth_app = typer.Typer(no_args_is_help=True, help="Make training data from real photos.")
app.add_typer(synth_app, name="synth")


def _photos_and_provenance(data: Optional[Path], extra: tuple[str, ...] = ()) -> tuple[Path, dict]:
    """The data root and what every synthesised set records: commit, environment and the
    content hash of the real photos it was made from (``extra``: folders of extra training
    photos). Exits 2 when there are no photos or an extra folder is refused."""
    from forenscope.data.datasets import manifest_hash
    from forenscope.data.splits import data_root, extra_train_photos, real_photos
    from forenscope.records import environment, git_commit

    root = data_root(data)
    try:
        photos = real_photos(root) + extra_train_photos(root, extra)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    return root, {"git": git_commit(), "environment": environment(),
                  "data_manifest_sha256": manifest_hash([p for _, p in photos], root)}


@synth_app.command("generators")
def synth_generators(
    out: Path = typer.Option(Path("work/synth-generators"), "--out", "-o", help="Output folder (resumable)."),
    data: Optional[Path] = DATA,
    generator: list[str] = typer.Option([], "--generator", "-g", help="Decoder name(s); default all."),
    steps: int = typer.Option(1200, "--steps", help="Training steps per decoder."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train decoders (nearest, bilinear, transposed-conv, pixel-shuffle, a GAN) on real photos
    and write paired real/fake crops with a manifest and each decoder's held-out PSNR."""
    from forenscope.synth.generators import SynthConfig, synthesize_generators

    root, prov = _photos_and_provenance(data)
    try:
        report = synthesize_generators(root, out, generator or None, SynthConfig(steps=steps, seed=seed),
                                       log=log, provenance=prov)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--generator") from None
    for name, g in report["generators"].items():
        flag = "" if g["passes_min_psnr"] else "  [below the 30 dB target]"
        sys.stdout.write(f"{name}: held-out PSNR {g['heldout_psnr_db']} dB{flag}\n")
    sys.stdout.write(f"{report['pairs']} real/fake pairs in {out}\n")


@synth_app.command("forgeries")
def synth_forgeries(
    kind: list[str] = typer.Option([], "--kind", "-k", help="splice | copymove | inpaint-telea | inpaint-ns | inpaint-patch (the default: all five) | inpaint-learned (only when named: the learned inpainter, configs/inpainter.toml)."),
    out: Path = typer.Option(Path("work/synth-forgeries"), "--out", "-o", help="Output folder (resumable)."),
    data: Optional[Path] = DATA,
    train_per_photo: int = typer.Option(2, "--train-per-photo", help="Forgeries per kind per train photo."),
    copymove_mask: str = typer.Option("both", "--copymove-mask", help="both (source and target) | target"),
    recipe: str = typer.Option("standard", "--recipe", help="standard (what the shipped localisers trained on) | realistic (light, colour and noise matched to the surroundings, feathered edges, noise put back into diffusion fills) | unblended (Bappy's synthetic splices: hard-edged, unmatched, lossless; --kind splice)."),
    filter_prob: float = typer.Option(0.0, "--filter-prob", min=0.0, max=1.0, help="Share of images sharpened or denoised as a whole after tampering (0: none, as the shipped localisers' data)."),
    long_side: int = typer.Option(512, "--long-side", min=128, help="Photos are shrunk to this long side before tampering."),
    extra_train_photos: list[str] = typer.Option([], "--extra-train-photos", help="A folder under the data root (e.g. real_scenes) whose photos join the TRAIN split only, as hosts and donors; repeatable. Validation and test are unchanged."),
    seed: int = typer.Option(0, "--seed"),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress"),
) -> None:
    """Make spliced, copy-moved and inpainted images with exact masks (and authentic images
    processed alike) from the real photos, split by photo; writes <split>.csv manifests that
    `forenscope eval` reads."""
    from forenscope.synth.forgeries import KINDS, ForgeryConfig, synthesize_forgeries

    try:
        cfg = ForgeryConfig(kinds=tuple(kind) or KINDS, copymove_mask=copymove_mask, seed=seed, recipe=recipe,
                            filter_prob=filter_prob, long_side=long_side, per_photo={"train": train_per_photo, "val": 1, "test": 1},
                            extra_train=tuple(extra_train_photos))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    root, prov = _photos_and_provenance(data, tuple(extra_train_photos))
    if "inpaint-learned" in cfg.kinds:  # fail before the first sample, and record which weights made the set
        from forenscope.nets.weights import weights_sha256
        from forenscope.synth.inpaint import learned_inpainter, learned_weights_path

        try:
            learned_inpainter()
        except FileNotFoundError as exc:
            fail(str(exc))
        prov["inpainter_weights_sha256"] = weights_sha256(learned_weights_path())
    report = synthesize_forgeries(root, out, cfg, log=log,
                                  provenance=prov, progress=iter_progress(progress))
    for split, counts in report["counts"].items():
        sys.stdout.write(f"{split}: " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) + "\n")
    if report["failures"]:
        log(f"{len(report['failures'])} recipe(s) could not be realised (listed in forgeries.json)")

