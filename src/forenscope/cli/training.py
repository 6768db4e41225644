"""``forenscope train``, ``benchmark``, ``robustness`` and ``calibrate``: the heavy commands
that train or score models on the shared data and write results.json / results.md."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from forenscope.benchmarks.benchmark import protocol_names
from forenscope.cli.common import DATA, app, exit_on, log, print_results_md, reexec_with_tcmalloc


@app.command()
def train(
    config: Path = typer.Argument(..., help="A TOML training config (see configs/)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default work/runs/<config name>). Resumes if it holds a run."),
    data: Optional[Path] = DATA,
    restart: bool = typer.Option(False, "--restart", help="Discard a previous run in --out and start again."),
    ship: bool = typer.Option(False, "--ship", help="Copy the result into forenscope's weights/ as <name>.safetensors + <name>.json."),
    stop_after: Optional[int] = typer.Option(None, "--stop-after", help="Checkpoint and stop at this step, as a crash would (to test resuming)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Replace the config's train.seed (seed spreads; the card records it). Such a run cannot --ship."),
    from_run: Optional[Path] = typer.Option(None, "--from-run", help="With --ship: ship this finished run of a candidate config instead of training (refused unless its config equals CONFIG apart from the name)."),
) -> None:
    """Train a detector from a config: seeded, resumable, best checkpoint on validation,
    threshold calibrated for the config's target false-positive rate. Under
    `torchrun --nproc-per-node N -m forenscope train CONFIG`, N processes share each batch
    (DDP, task generated)."""
    from forenscope.data.sources import SourceError
    from forenscope.data.splits import data_root
    from forenscope.methods import get_method
    from forenscope.train.config import ConfigError, load_config
    from forenscope.train.run import train_from_config

    reexec_with_tcmalloc()
    try:
        cfg = load_config(config)
        method = None if cfg.get("task") == "inpaint" else get_method(cfg["family"])  # a synthesiser, not a detector
    except (ConfigError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="CONFIG") from None
    if seed is not None:
        if ship:  # the shipped model is the committed config, so its card can be reproduced as is
            raise typer.BadParameter("a run with --seed is not the committed config: train it without --ship",
                                     param_hint="--seed")
        cfg["train"]["seed"] = seed
    from forenscope.synth.inpaint import LEARNED_WEIGHTS

    shipped_name, shipped_by = (LEARNED_WEIGHTS, "configs/inpainter.toml") if method is None else (method.detector_name, method.config)
    if ship and cfg["name"] != shipped_name:  # a candidate must not overwrite the shipped model
        raise typer.BadParameter(f"{config} trains {cfg['name']!r}, a candidate: only {shipped_by} ships "
                                 f"{shipped_name!r}; train it without --ship", param_hint="--ship")
    if from_run is not None:
        if not ship:
            raise typer.BadParameter("--from-run ships a finished run: add --ship", param_hint="--from-run")
        from forenscope.train.run import adopt_run

        with exit_on(ValueError, FileNotFoundError):
            card = adopt_run(cfg, from_run)
        _ship(from_run / "model.safetensors", card)
        return
    out = out or Path("work/runs") / (config.stem + ("" if seed is None else f"-seed{seed}"))
    with exit_on(SourceError, ValueError, FileNotFoundError):
        card = train_from_config(cfg, out, data_root(data), log=log, restart=restart, stop_after=stop_after)
    if card is None:
        log(f"stopped at step {stop_after}; run the same command again to resume")
        return
    if os.environ.get("RANK", "0") != "0":  # torchrun: rank 0 reports and ships
        return
    sys.stdout.write(json.dumps(card["metrics"], indent=2) + "\n")
    if ship:
        _ship(out / "model.safetensors", card)


def shipped_weights_dir(task: str = "") -> Path:
    """Detectors' weights; the learned inpainter's (a synthesiser) where synth/inpaint.py reads them."""
    from importlib import resources

    if task == "inpaint":
        from forenscope.synth.inpaint import learned_weights_path

        return learned_weights_path().parent
    return Path(str(resources.files("forenscope") / "weights"))


def _ship(weights: Path, card: dict) -> None:
    """Copy a run's weights (and shards) and write its card into forenscope's weights/."""
    from forenscope.nets.weights import copy_weights
    from forenscope.records import write_card

    dest = shipped_weights_dir(card.get("task", ""))
    dest.mkdir(parents=True, exist_ok=True)
    copy_weights(weights, dest / f"{card['name']}.safetensors")
    write_card(dest / f"{card['name']}.json", card)  # the writer of the run's card.json
    log(f"shipped {card['name']} to {dest}")


@app.command()
def benchmark(
    protocol: str = typer.Argument(..., help=f"A shipped protocol ({', '.join(protocol_names())}) or a protocol YAML file."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default work/benchmarks/<protocol>). A rerun reuses its trained model."),
    data: Optional[Path] = DATA,
    forgeries: Path = typer.Option(Path("work/synth-forgeries"), "--forgeries", help="Output of `forenscope synth forgeries`."),
    model_dir: Optional[Path] = typer.Option(None, "--model-dir", help="Where the protocol's model is trained (default <out>/model); generator-holdout: its feature cache (default work/probe-features)."),
    update_cards: bool = typer.Option(False, "--update-cards", help="Write the test metrics into shipped cards whose weights are this model's."),
) -> None:
    """Run a published evaluation protocol rebuilt from the data available here: train, test
    on every set it lists, write results.json + results.md + results.png."""
    from forenscope.data.splits import data_root
    from forenscope.benchmarks.benchmark import ProtocolError, load_protocol, run_benchmark, update_matching_cards

    reexec_with_tcmalloc()
    with exit_on(ProtocolError, ValueError, FileNotFoundError):
        proto = load_protocol(protocol)
        out = out or Path("work/benchmarks") / proto["name"]
        result = run_benchmark(proto, out, data_root(data), forgeries, log=log, model_dir=model_dir)
    print_results_md(out)
    if update_cards:
        for name in update_matching_cards(result, (out / "results.json").as_posix()):
            log(f"card updated: {name}")
    log(f"wrote {out / 'results.json'}, results.md, results.png")


def config_job(config: Path, out: Optional[Path], data: Optional[Path], job: str, load, run, *errors) -> tuple[dict, Path]:
    """A job that reads a TOML config and writes results.json / results.md into ``out``
    (default work/<job>/<config name>), printed when done; its expected errors exit 2."""
    from forenscope.data.splits import data_root

    reexec_with_tcmalloc()
    with exit_on(ValueError, FileNotFoundError, *errors):
        cfg = load(config)
        out = out or Path("work") / job / config.stem
        result = run(cfg, out, data_root(data), log=log, config_path=config.as_posix())
    print_results_md(out)
    return result, out


@app.command()
def robustness(
    config: Path = typer.Argument(..., help="A robustness config (TOML), e.g. configs/robustness.toml."),
    detector: list[str] = typer.Option([], "--detector", "-d", help="Replace the config's detectors: NAME, or NAME@RUN_DIR for a training run (a candidate). Repeatable."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default work/robustness/<config name>)."),
    data: Optional[Path] = DATA,
    ship: bool = typer.Option(False, "--ship", help="Write each detector's robustness summary into its shipped card."),
) -> None:
    """Score detectors on test sets under a seeded suite of real-world processing (JPEG, WebP,
    resizing, crops, blur, noise, tone, the social-media chain): results.json, results.md,
    curves.png."""
    from forenscope.evaluate.robustness import load_config, run_robustness, ship as ship_cards, with_detectors

    result, out = config_job(config, out, data, "robustness",
                             lambda c: with_detectors(load_config(c), detector) if detector else load_config(c),
                             run_robustness)
    if ship:
        log(f"robustness summary written into the cards of {', '.join(ship_cards(result, out.as_posix(), log))}")


@app.command()
def calibrate(
    config: Path = typer.Argument(..., help="A calibration config (TOML), e.g. configs/calibration.toml."),
    ship: bool = typer.Option(False, "--ship", help="Write each fit and its figures into the shipped card: scores become calibrated probabilities."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default work/calibration/<config name>)."),
    data: Optional[Path] = DATA,
) -> None:
    """Fit Platt scaling on validation data for each detector; report ECE, Brier score and
    reliability diagrams before and after on the test set: results.json, results.md, <name>.png."""
    from forenscope.evaluate.calibration import CalibrationError, load_config, run_calibration, ship as ship_cards

    result, out = config_job(config, out, data, "calibration", load_config, run_calibration, CalibrationError)
    if ship:
        log(f"calibration written into the cards of {', '.join(ship_cards(result, out.as_posix(), log))}")
