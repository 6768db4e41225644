"""The command line: ``forenscope detect | localize | scan | eval | models | train | ...``, one
module per group of commands, all sharing ``cli/common.py``."""

from __future__ import annotations

import sys

# imported in the order their commands appear in --help; each registers its commands on `app`
from forenscope.cli import images, service, evaluation, training, synth  # noqa: F401, I001
from forenscope.cli.common import app  # noqa: E402


def main() -> None:
    """On a terminal, typer's framed errors; otherwise (a log, a pipe, CI) click's plain
    "Error: ..." line, so that no message, command or path is cut at 80 columns."""
    if not sys.stderr.isatty():
        from typer import rich_utils

        if hasattr(rich_utils, "rich_format_error"):  # typer calls it for usage errors
            rich_utils.rich_format_error = lambda exc: exc.show()
    app()


__all__ = ["app", "main"]
