"""What every command shares: the app, stderr, one way to fail (a message and exit status 2),
detector names checked against the registry without loading weights, detectors loaded with
their errors turned into usage errors, the options several commands take, and the tcmalloc
restart that heavy commands make."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from forenscope.detectors import UnknownDetectorError, load_detector
from forenscope.detectors.base import RESEARCH, load_card
from forenscope.detectors.registry import get_detector_class, known_detector
from forenscope.imageio import DEFAULT_MAX_PIXELS

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Image forensics: generated? tampered? where?")
stderr = Console(stderr=True, soft_wrap=True)  # never hard-wrapped: a command in a message stays whole

DATA = typer.Option(None, "--data", help="Shared data folder (default $FORENSCOPE_DATA or ../shared/data).")
MAXPIX = typer.Option(DEFAULT_MAX_PIXELS, "--max-pixels", help="Refuse larger images (decompression bombs).")
PROGRESS = typer.Option(None, "--progress/--no-progress", help="Progress bar on stderr (default: on a terminal).")


def log(message: str) -> None:
    stderr.print(message, highlight=False, markup=False)


def fail(message: str, code: int = 2) -> NoReturn:
    """``error: message`` on stderr and exit ``code`` (2: bad input or set-up; 1: some inputs failed)."""
    stderr.print(f"[red]error:[/] {escape(str(message))}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def exit_on(*errors: type[BaseException], code: int = 2):
    """Turn the expected errors of a command (missing data, a bad config) into ``fail``."""
    try:
        yield
    except errors as exc:
        fail(str(exc), code)


def parse_params(params: list[str]) -> dict:
    """``--param quality=95`` -> {"quality": 95}: values parsed as JSON when they can be."""
    out = {}
    for p in params:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {p!r}", param_hint="--param")
        name = key.strip().replace("-", "_")
        try:
            out[name] = json.loads(value)
        except json.JSONDecodeError:
            out[name] = value
    return out


def check_name(name: str, hint: str = "--detector") -> None:
    """A usage error with "did you mean" for an unknown detector name, from the registry's names
    alone (no detector module, network or weights loaded)."""
    if not known_detector(name):
        try:
            get_detector_class(name)  # raises with the suggestions
        except UnknownDetectorError as exc:
            raise typer.BadParameter(str(exc), param_hint=hint) from None


def detector_task(name: str) -> str:
    """The task of a detector, from its card when it has one, else its class (no weights loaded)."""
    check_name(name)
    card = load_card(name)
    return card["task"] if card and "task" in card else get_detector_class(name).task


def load(name: str, params: dict | None = None):
    """A detector by name; an unknown name or a bad option is a usage error, missing weights exit 2."""
    check_name(name)
    try:
        det = load_detector(name, **(params or {}))
    except (TypeError, ValueError) as exc:
        raise typer.BadParameter(f"{name}: {exc}", param_hint="--param") from None
    except FileNotFoundError as exc:  # e.g. a trained detector whose weights are not shipped
        fail(str(exc))
    warn_if_research(name)
    return det


def warn_if_research(name: str) -> None:
    """A detector whose card says it is a research reproduction says so whenever it is used."""
    card = load_card(name) or {}
    if card.get("status") == RESEARCH:
        log(f"note: {name} is a research reproduction, not fit for triage: {card.get('status_note', '')}")


TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"


def launched_as_cli() -> bool:
    """Whether this process is the ``forenscope`` command (its console script or ``python -m
    forenscope``), not a program that calls the CLI in-process (pytest, a notebook)."""
    argv0 = Path(sys.argv[0])
    return argv0.is_file() and (argv0.name == "forenscope" or argv0.parts[-2:] == ("forenscope", "__main__.py"))


def reexec_with_tcmalloc() -> None:
    """glibc malloc halves eager PyTorch training speed on CPU; restart under tcmalloc when the
    library is installed (Debian libtcmalloc-minimal4). FORENSCOPE_NO_TCMALLOC=1 disables it.
    Only the command itself restarts: re-executing a host program (pytest running the CLI
    in-process) would start that program over, with its output captured away."""
    if os.environ.get("FORENSCOPE_NO_TCMALLOC") or "tcmalloc" in os.environ.get("LD_PRELOAD", ""):
        return
    if not Path(TCMALLOC).is_file() or not launched_as_cli():
        return
    env = dict(os.environ, LD_PRELOAD=TCMALLOC)
    os.execve(sys.executable, [sys.executable, sys.argv[0], *sys.argv[1:]], env)


def print_results_md(out: Path) -> None:
    sys.stdout.write((out / "results.md").read_text(encoding="utf-8"))

