"""A tiny progress abstraction for long downloads.

:func:`make_progress` gives a ``tqdm.auto`` bar (a widget in Jupyter, text on a terminal) when
tqdm is importable and progress is enabled, else a no-op. Whether it is enabled: the ``enabled``
argument if given, else ``OCIINSPECT_PROGRESS`` (``0``, ``off``, ``false``, ``no`` silence it),
else on. :class:`ProgressCallback` adapts a :class:`Progress` to the ``progress(done, total)``
callback of :meth:`ociinspect.distribution.client.RegistryClient.download_blob`::

    with make_progress() as bar:
        client.download_blob(registry, repo, digest, path, progress=ProgressCallback(bar, label))

Labels are shown to the user: pass a repository name or digest, never a URL with credentials
(userinfo, query strings and fragments of URL-looking labels are dropped as a safety net).

:func:`bar_for` is the one policy for *when* a download shows a bar: always when asked with
``True``, never with ``False``, and by default (``None``) when ``OCIINSPECT_PROGRESS`` allows it
and the blob is at least :data:`LARGE` bytes (8 MiB), so small reads stay quiet.
:func:`counted` reports the bytes of a chunk iterator as they pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

_URL = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^/@\s]*@)?(?P<rest>[^\s?#]*)[^\s]*")
_LONG_DIGEST = re.compile(r"\b(sha256|sha512):([a-f0-9]{12})[a-f0-9]{20,}")
MAX_LABEL = 60
#: Downloads at least this large show a bar unless progress is off.
LARGE = 8 * 1024 * 1024


@runtime_checkable
class Progress(Protocol):
    """What a download reports to: a total once, increments as bytes arrive, then close."""

    def start(self, total: int | None, label: str = "") -> None: ...

    def update(self, n: int) -> None: ...

    def close(self) -> None: ...


def safe_label(label: str) -> str:
    """``label`` without URL credentials, query strings or fragments, shortened to fit a bar:
    digests as ``sha256:`` and 12 hex digits (as ``docker images`` shows IDs), then at most
    :data:`MAX_LABEL` characters."""
    cleaned = _URL.sub(lambda m: m["scheme"] + m["rest"], label)
    cleaned = _LONG_DIGEST.sub(r"\1:\2", cleaned)
    return cleaned if len(cleaned) <= MAX_LABEL else cleaned[: MAX_LABEL - 1] + "…"


class _Base:
    """Counting, a default label, and use as a context manager (closes on exit)."""

    def __init__(self, label: str = "") -> None:
        self.n = 0
        self.total: int | None = None
        self.default_label = label
        self.label = safe_label(label)

    def start(self, total: int | None, label: str = "") -> None:
        """Begin (or begin again) with ``total`` bytes, labelled ``label`` or the default."""
        self.n = 0
        self.total = total
        self.label = safe_label(label or self.default_label)

    def update(self, n: int) -> None:
        self.n += n

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class NullProgress(_Base):
    """Counts, shows nothing."""

    def __repr__(self) -> str:
        return f"<NullProgress {self.n}/{self.total}>"


class TqdmProgress(_Base):
    """A ``tqdm.auto.tqdm`` byte bar, created on :meth:`start`. ``bar`` is the tqdm object.

    ``options`` go to tqdm (e.g. ``file=``, ``leave=``); units are bytes, scaled by 1024.
    """

    def __init__(self, label: str = "", **options: Any) -> None:
        super().__init__(label)
        self.options = options
        self.bar: Any = None

    def start(self, total: int | None, label: str = "") -> None:
        from tqdm.auto import tqdm

        super().start(total, label)
        if self.bar is not None:
            self.bar.close()
        settings: dict[str, Any] = {"unit": "B", "unit_scale": True, "unit_divisor": 1024}
        settings.update(self.options)
        self.bar = tqdm(total=total, desc=self.label or None, **settings)

    def update(self, n: int) -> None:
        super().update(n)
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __repr__(self) -> str:
        return f"<TqdmProgress {self.label!r} {self.n}/{self.total}>"


def make_progress(enabled: bool | None = None, label: str = "", **options: Any) -> Progress:
    """A tqdm bar when enabled and tqdm is importable, else a :class:`NullProgress`.

    The result is not started yet; ``label`` is the default that :meth:`Progress.start` (and so
    :class:`ProgressCallback`) falls back to. ``options`` go to tqdm.
    """
    if enabled is not False:
        try:
            import tqdm.auto  # noqa: F401  (only checking that it is importable)
        except ImportError:
            pass
        else:
            return TqdmProgress(label, **options)
    return NullProgress(label)


def bar_for(enabled: bool | None, size: int | None, label: str = "") -> Progress | None:
    """A progress bar for a download of ``size`` bytes, or None when none should show.

    ``True``: always (a tqdm bar when tqdm is importable); ``False``: never; ``None``: when
    ``size`` is at least :data:`LARGE` (a session's ``progress`` setting gives None or False).
    """
    if enabled is False:
        return None
    if enabled is None and (size is None or size < LARGE):
        return None
    return make_progress(True, label)


def counted(
    chunks: Iterable[bytes], progress: Progress, total: int | None, label: str = ""
) -> Iterator[bytes]:
    """Pass ``chunks`` through, starting ``progress`` with ``total`` and adding each chunk."""
    progress.start(total, label)
    for chunk in chunks:
        progress.update(len(chunk))
        yield chunk


class ProgressCallback:
    """Adapts a :class:`Progress` to ``callback(done, total)`` where ``done`` is cumulative.

    The first call starts the progress with ``total``; later calls add the new bytes. A ``done``
    that goes back (a download restarted) moves the bar back. ``done`` is the last count seen.
    """

    def __init__(self, progress: Progress, label: str = "") -> None:
        self.progress = progress
        self.label = label
        self.done = 0
        self.started = False

    def __call__(self, done: int, total: int | None) -> None:
        if not self.started:
            self.progress.start(total, self.label)
            self.started = True
        delta, self.done = done - self.done, done
        if delta:
            self.progress.update(delta)

    def close(self) -> None:
        self.progress.close()


__all__ = [
    "LARGE",
    "NullProgress",
    "Progress",
    "ProgressCallback",
    "TqdmProgress",
    "bar_for",
    "counted",
    "make_progress",
    "safe_label",
]
