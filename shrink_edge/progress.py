"""What a run shows on stderr: progress bars for long steps (so that --json output stays clean), and not the native
runtimes' own log lines."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class Steps:
    def __init__(self, enabled: bool = True):
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(),
                                  console=Console(stderr=True), disable=not enabled, transient=False)

    def __enter__(self) -> "Steps":
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def note(self, text: str) -> None:
        """Something the user should know that does not stop the run."""
        self._progress.console.print(f"note: {text}", highlight=False, soft_wrap=True, markup=False)

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        """A task on the board; yields advance(n). A step without a total completes as 1 of 1."""
        task = self._progress.add_task(description, total=total or 1)
        yield lambda n=1: self._progress.advance(task, n)
        self._progress.update(task, completed=total or 1)


@contextmanager
def native_logs_quiet() -> Iterator[None]:
    """A native runtime's own log lines while it loads (LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate for
    CPU", written on file descriptor 2 where no Python logging reaches) are dropped, unless SHRINK_EDGE_VERBOSE is
    set (`shrink-edge --verbose`). Failures still raise."""
    if os.environ.get("SHRINK_EDGE_VERBOSE"):
        yield
        return
    from .profiling.devices.runner import silenced

    with silenced():
        yield
