"""ociinspect: look inside container images (OCI and Docker) from Jupyter."""

__version__ = "0.1.0"
