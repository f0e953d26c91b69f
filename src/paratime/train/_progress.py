"""A progress bar that uses rich when it is installed and stays silent otherwise."""

from types import TracebackType
from typing import Any


class Progress:
    """A thin wrapper over `rich.progress`, showing a few metrics next to the bar.

    Falls back to no output when rich is missing or `enabled=False`.
    """

    def __init__(self, total: int, *, start: int = 0, description: str = "", enabled: bool = True):
        self._bar: Any = None
        self._task: Any = None
        if not enabled:
            return
        try:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress as RichProgress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
        except ImportError:
            return
        self._bar = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            transient=False,
        )
        self._task = self._bar.add_task(description, total=total, completed=start, info="")

    def __enter__(self) -> "Progress":
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def update(self, completed: int, info: dict[str, Any]) -> None:
        if self._bar is None:
            return
        fields = {}
        if info:
            fields["info"] = "  ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items()
            )
        self._bar.update(self._task, completed=completed, **fields)
