"""Layer contents: streamed decompression, tar listings, the merged filesystem, sizes.

=================  ==========================================================================
``compression``    streamed gzip/zstd decompression; sizes from gzip/zstd headers
``contents``       the streamed tar listing of one layer (:class:`~.contents.TarEntry`)
``overlay``        layers applied in order: merged filesystem, whiteouts, wasted space
``sizes``          uncompressed sizes: exact after streaming, estimated by Range before
=================  ==========================================================================
"""
