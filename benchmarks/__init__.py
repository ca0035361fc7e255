"""Benchmarks of ociinspect against skopeo, oras-py and python-dxf (see README.md)."""
