"""The peers' own virtual environment, benchmarks/.venv-peers: oras-py and python-dxf from PyPI.

Created with ``python -m venv`` and filled with ``pip install`` on first use; reused while
both packages import. Kept apart so the peers' dependencies never mix with ociinspect's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

VENV = Path(__file__).resolve().parent / ".venv-peers"
PACKAGES = ("oras", "python-dxf")
#: What each package is imported as, and the version lookup for the report.
MODULES = {"oras": "oras", "python-dxf": "dxf"}


def python() -> Path:
    return VENV / "bin" / "python"


def _ready() -> bool:
    if not python().is_file():
        return False
    probe = "import " + ", ".join(MODULES.values())
    return subprocess.run([str(python()), "-c", probe], capture_output=True).returncode == 0


def ensure(log: bool = True) -> Path:
    """The venv's interpreter, after creating the venv and installing the peers if needed."""
    if _ready():
        return python()
    if log:
        print(f"creating {VENV} with {', '.join(PACKAGES)} …", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    install = [str(python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run([*install, *PACKAGES], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(PACKAGES)} failed:\n{done.stderr[-2000:]}")
    return python()


def versions() -> dict[str, str]:
    """Installed versions of the peers (``pip``'s metadata), for the report."""
    code = (
        "import importlib.metadata as m, json;"
        f"print(json.dumps({{p: m.version(p) for p in {list(PACKAGES)!r}}}))"
    )
    out = subprocess.run([str(python()), "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))
