"""Progress on stderr for long work: a bar on a terminal, a line every tenth of the work in a
log or a pipe, nothing with ``--no-progress``."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Optional

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from forenscope.cli.common import stderr


@contextmanager
def progress_bar(total: int, show: Optional[bool], desc: str):
    """A progress bar with ETA on stderr, on by default for more than one input on a terminal;
    when stderr is not a terminal (a log file, a pipe) a line every tenth of the work (at most
    every 100 inputs) instead, so long runs are never silent. ``--no-progress``: neither."""
    enabled = (total > 1 and stderr.is_terminal) if show is None else show
    if show is None and not enabled and total > 1:
        yield progress_lines(total, desc)
        return
    if not enabled:
        yield lambda: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=stderr, transient=True) as prog:
        task = prog.add_task(desc, total=total)
        yield lambda: prog.advance(task)


def progress_lines(total: int, desc: str):
    every, start, done = max(1, min(100, total // 10)), time.time(), [0]

    def step() -> None:
        done[0] += 1
        if done[0] % every == 0 or done[0] == total:
            rate = done[0] / max(time.time() - start, 1e-9)
            stderr.print(f"{desc}: {done[0]}/{total} ({rate:.1f}/s, {(total - done[0]) / rate:.0f} s left)",
                         highlight=False)
    return step


def iter_progress(show: Optional[bool]):
    def wrap(iterable, total, desc):
        with progress_bar(total, show, desc) as step:
            for x in iterable:
                yield x
                step()
    return wrap

