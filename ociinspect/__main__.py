"""``python -m ociinspect``: the command line (:mod:`ociinspect.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
