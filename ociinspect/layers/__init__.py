"""Layer contents: streamed decompression, tar listings, the merged filesystem, sizes.

=================  ==========================================================================
``compression``    streamed gzip/zstd decompression; sizes from gzip/zstd headers
``contents``       the streamed tar listing of one layer (:class:`~.contents.TarEntry`)
``overlay``        layers applied in order: merged filesystem (hardlinks resolved),
                   whiteouts, per-layer changes, wasted space
``changes``        the kinds of per-layer change (added, modified, ...) and :class:`Change`
``verify``         the diff_id rule: :func:`~.verify.check_diff_id` for every whole-layer read
``sizes``          uncompressed sizes: exact after streaming, estimated by Range before
``seekable``       zran access points over gzip (libz through ctypes), marks over zstd
``layerindex``     one verified pass: every entry, where its bytes are, their sha256
``toc``            zstd:chunked tables of contents as layer indexes
``reader``         a path resolved through the layers and read by span or by stream
=================  ==========================================================================
"""
