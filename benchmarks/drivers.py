"""Run one measured thing, from the harness: a worker process (phase by phase) or a command.

Every run starts from :meth:`Testbed.reset`, so the request counts of a phase are what that
phase sent (registry access log, token server, CDN). Workers run in their own processes:
cold means a new interpreter with no connections, no tokens and (unless said) no disk cache;
the imports are done before the clock starts, as in a notebook where the package is loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class Counted(Protocol):
    """What requests are counted on: a :class:`~benchmarks.testbed.Testbed` or one registry."""

    def counts(self) -> dict[str, Any]: ...

    def reset(self) -> None: ...


ROOT = Path(__file__).resolve().parents[1]
#: A worker or command still running after this is killed (loops here are bounded).
TIMEOUT = 300.0


@dataclass
class Sample:
    """One measured run of one phase."""

    seconds: float
    counts: dict[str, Any]
    peak_above_mib: float | None = None
    baseline_mib: float | None = None
    info: dict[str, Any] = field(default_factory=dict)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of every child: loopback never proxied, no user registry config."""
    from rig.env import child_env as rig_env  # tests/ is on sys.path (testbed)

    env = rig_env(Path(tempfile.gettempdir()) / "ociinspect-bench-home")
    env["PYTHONPATH"] = str(ROOT)
    env["OCIINSPECT_PROGRESS"] = "0"
    env.update(extra)
    return env


def run_worker(testbed: Counted, command: Sequence[str], env: dict[str, str]) -> dict[str, Sample]:
    """Start a worker, collect each phase it reports with the requests it caused."""
    testbed.reset()
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
            cwd=ROOT,
        )
        killer = threading.Timer(TIMEOUT, proc.kill)
        killer.start()
        found: dict[str, Sample] = {}
        try:
            assert proc.stdout is not None and proc.stdin is not None
            for line in proc.stdout:
                report = json.loads(line)
                found[report["phase"]] = Sample(
                    report["seconds"],
                    testbed.counts(),
                    report["peak_above_mib"],
                    report["baseline_mib"],
                    report["info"],
                )
                testbed.reset()
                proc.stdin.write("\n")
                proc.stdin.flush()
            code = proc.wait()
        finally:
            killer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if code != 0:
            errors.seek(0)
            raise RuntimeError(f"{' '.join(command[:4])} failed ({code}):\n{errors.read()[-3000:]}")
    return found


def ours(testbed: Counted, scenario: str, args: dict[str, Any], **env: str) -> dict[str, Sample]:
    command = [sys.executable, "-m", "benchmarks.workers.ours", scenario, json.dumps(args)]
    return run_worker(testbed, command, child_env(**env))


def peer(
    testbed: Counted, python: Path, tool: str, scenario: str, args: dict[str, Any]
) -> dict[str, Sample]:
    command = [str(python), "-m", "benchmarks.workers.peers", tool, scenario, json.dumps(args)]
    return run_worker(testbed, command, child_env())


#: GNU time reports its child's peak RSS. (A child forked from this big process would inherit
#: its high-water mark in ``ru_maxrss``; one forked from ``time`` inherits almost nothing.)
GNU_TIME = "/usr/bin/time"


def run_command(command: Sequence[str], env: dict[str, str]) -> tuple[float, int]:
    """Run a command to completion: (seconds, its peak RSS in bytes)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as rss,
    ):
        timed = [GNU_TIME, "-f", "%M", "-o", rss.name] if os.path.exists(GNU_TIME) else []
        start = time.perf_counter()
        proc = subprocess.Popen([*timed, *command], stdout=out, stderr=err, env=env)
        killer = threading.Timer(TIMEOUT, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            message = err.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(command[:3])} failed ({proc.returncode}): {message}")
        kib = rss.read().strip().splitlines()
    peak = int(kib[-1]) if kib and kib[-1].isdigit() else usage.ru_maxrss
    return seconds, peak * 1024


def commands(testbed: Counted, steps: Sequence[Sequence[str]]) -> Sample:
    """Run ``steps`` one after the other as one measured sample (a skopeo loop)."""
    testbed.reset()
    env = child_env()
    total, peak = 0.0, 0
    for step in steps:
        seconds, rss = run_command(step, env)
        total += seconds
        peak = max(peak, rss)
    sample = Sample(total, testbed.counts(), info={"commands": len(steps)})
    sample.info["peak_rss_mib"] = peak / 2**20
    testbed.reset()
    return sample
