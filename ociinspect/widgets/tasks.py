"""Run a widget's slow work off the kernel's main thread, and keep only the newest result.

Why a thread: the kernel handles widget messages (clicks, typing, tab changes) on its main
thread. Work done there (registry round trips, a layer download) would freeze every widget of
the notebook until it ends. Here the work runs in a daemon thread and only its *result* is
applied to the widgets, in one step, by the callback. ipywidgets sends a trait change from any
thread (comm messages go through the kernel's thread-safe IOPub socket), and applying happens
under one lock, so two results never interleave their updates.

Each task belongs to a *channel* (``"load"``, ``"aux"``). Submitting to a channel supersedes
the task running there: its result is dropped, so a slow old load can never overwrite a newer
one (the user clicked Load twice, or picked another platform before the first arrived).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class Runner:
    """Runs work in background threads (or inline, with ``background=False``)."""

    def __init__(self, background: bool = True, name: str = "ociinspect-widget") -> None:
        self.background = background
        self.name = name
        self.lock = threading.RLock()  # held while a result is applied
        self._generations: dict[str, int] = {}
        self._threads: set[threading.Thread] = set()
        self._inline = 0

    def supersede(self, *channels: str) -> None:
        """Drop the results of whatever runs on ``channels`` now."""
        with self.lock:
            for channel in channels:
                self._generations[channel] = self._generations.get(channel, 0) + 1

    def submit(
        self,
        channel: str,
        work: Callable[[], Any],
        done: Callable[[Any, BaseException | None], None],
    ) -> None:
        """Run ``work()``; then, unless superseded, ``done(result, None)`` or
        ``done(None, error)`` under :attr:`lock`. ``done`` must not raise."""
        self.supersede(channel)
        with self.lock:
            generation = self._generations[channel]

        def run() -> None:
            try:
                try:
                    result, error = work(), None
                except Exception as exc:  # any failure is shown in the widget, not lost
                    result, error = None, exc
                with self.lock:
                    if self._generations.get(channel) == generation:
                        done(result, error)
            finally:
                with self.lock:
                    self._threads.discard(threading.current_thread())

        if not self.background:
            self._inline += 1
            try:
                run()
            finally:
                self._inline -= 1
            return
        thread = threading.Thread(target=run, name=f"{self.name}-{channel}", daemon=True)
        with self.lock:
            self._threads.add(thread)
        thread.start()

    @property
    def busy(self) -> bool:
        """Whether any task is still running."""
        with self.lock:
            return bool(self._threads) or self._inline > 0

    def wait(self, timeout: float = 120.0) -> None:
        """Block until every task (including ones started meanwhile) has finished."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                threads = [t for t in self._threads if t is not threading.current_thread()]
            if not threads:
                return
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    raise TimeoutError(f"widget work still running after {timeout:.0f} s")


__all__ = ["Runner"]
