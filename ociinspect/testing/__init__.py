"""Tools for tests and samples, not the inspector: a deterministic OCI image builder
(:mod:`.build`, :mod:`.build_layers`) and the bundled sample's generator (:mod:`.samples`,
``python -m ociinspect.testing.samples`` rebuilds it byte for byte)."""
