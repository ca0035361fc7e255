"""Timing, peak memory and the line protocol shared by every worker (standard library only).

A worker prints one JSON line per phase and then waits for a line on stdin: the harness reads
the registry's logs for that phase in between, so requests are attributed to the right phase.

Peak memory is Linux's ``VmHWM`` after resetting it (``/proc/self/clear_refs`` with ``5``)
at the start of the phase, minus ``VmRSS`` at that moment (the interpreter's baseline, imports
done): what the phase itself added at its worst.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

_FIELD = re.compile(r"^(VmRSS|VmHWM):\s+(\d+) kB", re.MULTILINE)


def _status() -> dict[str, int]:
    with open("/proc/self/status") as handle:
        return {k: int(v) * 1024 for k, v in _FIELD.findall(handle.read())}


class Phase:
    """What one measured phase found: seconds, baseline RSS and peak above it (bytes)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seconds = 0.0
        self.baseline = 0
        self.peak_above = 0
        self.info: dict[str, Any] = {}
        #: Set inside the block to report a time measured there instead of the block's.
        self.override: float | None = None

    def report(self) -> None:
        line = {
            "phase": self.name,
            "seconds": self.seconds,
            "baseline_mib": self.baseline / 2**20,
            "peak_above_mib": self.peak_above / 2**20,
            "info": self.info,
        }
        print(json.dumps(line), flush=True)
        sys.stdin.readline()  # the harness has read the logs of this phase


@contextlib.contextmanager
def phase(name: str) -> Iterator[Phase]:
    """Measure the block, then report it and wait for the harness."""
    found = Phase(name)
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # Linux: VmHWM starts again from the current RSS
    found.baseline = _status().get("VmRSS", 0)
    start = time.perf_counter()
    yield found
    found.seconds = time.perf_counter() - start if found.override is None else found.override
    found.peak_above = max(0, _status().get("VmHWM", 0) - found.baseline)
    found.report()
