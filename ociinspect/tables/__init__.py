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
:func:`filesystem_frame`,   superseded copy
:func:`wasted_frame`
:func:`trace_frame`         HTTP exchange                    :mod:`.trace`
==========================  ===============================  ============================
"""

from .compare import COMPARE_CONFIG_COLUMNS, COMPARE_LAYERS_COLUMNS, Comparison, compare_frames
from .files import (
    FILES_COLUMNS,
    FILESYSTEM_COLUMNS,
    WASTED_COLUMNS,
    files_frame,
    filesystem_frame,
    wasted_frame,
)
from .frame import Table, format_share, format_size
from .image import (
    CONFIG_COLUMNS,
    HISTORY_COLUMNS,
    KEY_VALUE_COLUMNS,
    LAYERS_COLUMNS,
    REFERRERS_COLUMNS,
    TAGS_COLUMNS,
    config_frame,
    env_frame,
    history_frame,
    labels_frame,
    layers_frame,
    referrers_frame,
    tags_frame,
)
from .index import PLATFORMS_COLUMNS, platforms_frame
from .trace import TRACE_COLUMNS, trace_frame

__all__ = [
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
    "WASTED_COLUMNS",
    "Comparison",
    "Table",
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
    "wasted_frame",
]
