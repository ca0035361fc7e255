"""Where the bundled sample image lives (package data), as a reference every function takes.

Made by :mod:`ociinspect.testing.samples` (``python -m ociinspect.testing.samples OUTDIR``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: The shipped OCI layout, found through importlib.resources (package data ``sample/**/*``).
SAMPLE_DIR = Path(str(resources.files("ociinspect").joinpath("sample")))
#: A reference to the bundled sample that every ociinspect function accepts.
SAMPLE = f"oci:{SAMPLE_DIR}:latest"

__all__ = ["SAMPLE", "SAMPLE_DIR"]
