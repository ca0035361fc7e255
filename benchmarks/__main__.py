"""``python -m benchmarks``: run the benchmark harness (benchmarks/run.py)."""

from .run import main

raise SystemExit(main())
