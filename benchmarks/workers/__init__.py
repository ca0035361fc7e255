"""Scripts the harness runs in child processes, one scenario each (see benchmarks/README.md)."""
