"""Models -> pandas tables. Every function here is pure: no I/O, the same input gives the same
table. :mod:`ociinspect.api` fetches what they need and calls them.

Columns are part of the API: each function's docstring lists them with their dtypes, and the
``*_COLUMNS`` mappings hold the exact names and dtypes (empty inputs give empty tables with
exactly these). Sizes are bytes (``int64``, or ``Int64`` where a value may be missing); text is
pandas' ``string`` dtype; times are ``datetime64[ns, UTC]``. Tables are :class:`Table`\\ s, which
show sizes as ``1.5 KiB`` in notebooks while the values stay integers.

==========================  ===============================  ============================
function                    one row per                      module
==========================  ===============================  ============================
:func:`platforms_frame`     index entry (images,             :mod:`.index`
                            attestations, …)
:func:`layers_frame`        layer, with the step that        :mod:`.image`
                            made it
:func:`history_frame`       history step                     :mod:`.image`
:func:`config_frame`        (one row) config summary         :mod:`.image`
:func:`env_frame`,          Env entry / label                :mod:`.image`
:func:`labels_frame`
:func:`tags_frame`          tag                              :mod:`.image`
:func:`referrers_frame`     referring artifact               :mod:`.image`
:func:`compare_frames`      (a :class:`Comparison`)          :mod:`.compare`
:func:`files_frame`,        tar entry / merged path /        :mod:`.files`
:func:`filesystem_frame`,   superseded copy / path a layer
:func:`wasted_frame`,       changed
:func:`changes_frame`
:func:`annotations_frame`   annotation of an index, entry,   :mod:`.image`
                            manifest, config or layer
:func:`validate_frame`      blob read and checked            :mod:`.validation`
:func:`trace_frame`         HTTP exchange                    :mod:`.trace`
:func:`ratelimit_frame`     (one row) a registry's pull      :mod:`.ratelimit`
                            limit
supply-chain tables         referrer edge, statement,        :mod:`.supply` (and the
(``referrer_edges_frame``,  package, provenance, material,   referrers tree)
``sbom_frame``, ...)        signature
==========================  ===============================  ============================

Sizes: one meaning per column name, in every table, widget and repr (all bytes):

=======================  ==================================================================
column                   what it counts
=======================  ==================================================================
``manifest_size``        the manifest (or index) document itself
``config_size``          the config blob
``compressed_size``      layer blobs as stored in the registry and sent over the network
                         (compressed, unless a layer is not); for an image, its layers
                         summed: the figure Docker Hub shows as "compressed size"
``uncompressed_size``    the tar a layer unpacks to (for an image, summed over its layers)
``stored_size``          manifest + config + layers: all a registry stores for one image
                         (``Image.size``, and the image's repr)
``size``                 a file's bytes (files, filesystem, wasted); never a blob
``size_before``,         a file's bytes below and after a layer (changes)
``size_after``
``wasted_size``          file bytes a change left unreachable (changes)
``declared_size``,       what a descriptor promises / what was read (validate)
``read_size``
=======================  ==================================================================
"""

from .compare import COMPARE_CONFIG_COLUMNS, COMPARE_LAYERS_COLUMNS, Comparison, compare_frames
from .files import (
    CHANGES_COLUMNS,
    FILES_COLUMNS,
    FILESYSTEM_COLUMNS,
    WASTED_COLUMNS,
    changes_frame,
    files_frame,
    filesystem_frame,
    wasted_frame,
)
from .frame import Table, format_share, format_size
from .image import (
    ANNOTATIONS_COLUMNS,
    CONFIG_COLUMNS,
    HISTORY_COLUMNS,
    KEY_VALUE_COLUMNS,
    LAYERS_COLUMNS,
    REFERRERS_COLUMNS,
    TAGS_COLUMNS,
    annotations_frame,
    config_frame,
    env_frame,
    history_frame,
    labels_frame,
    layers_frame,
    referrers_frame,
    tags_frame,
)
from .index import PLATFORMS_COLUMNS, platforms_frame
from .ratelimit import RATELIMIT_COLUMNS, ratelimit_frame
from .trace import TRACE_COLUMNS, trace_frame
from .validation import VALIDATE_COLUMNS, validate_frame

__all__ = [
    "ANNOTATIONS_COLUMNS",
    "CHANGES_COLUMNS",
    "COMPARE_CONFIG_COLUMNS",
    "COMPARE_LAYERS_COLUMNS",
    "CONFIG_COLUMNS",
    "FILESYSTEM_COLUMNS",
    "FILES_COLUMNS",
    "HISTORY_COLUMNS",
    "KEY_VALUE_COLUMNS",
    "LAYERS_COLUMNS",
    "PLATFORMS_COLUMNS",
    "REFERRERS_COLUMNS",
    "TAGS_COLUMNS",
    "TRACE_COLUMNS",
    "VALIDATE_COLUMNS",
    "WASTED_COLUMNS",
    "Comparison",
    "Table",
    "annotations_frame",
    "changes_frame",
    "compare_frames",
    "config_frame",
    "env_frame",
    "files_frame",
    "filesystem_frame",
    "format_share",
    "format_size",
    "history_frame",
    "labels_frame",
    "layers_frame",
    "platforms_frame",
    "referrers_frame",
    "tags_frame",
    "trace_frame",
    "ratelimit_frame",
    "RATELIMIT_COLUMNS",
    "validate_frame",
    "wasted_frame",
]
