"""Digests: the ``algorithm:encoded`` value type and streaming verification.

Grammar (image-spec descriptor.md, "Digests")::

    digest                ::= algorithm ":" encoded
    algorithm             ::= algorithm-component (algorithm-separator algorithm-component)*
    algorithm-component   ::= [a-z0-9]+
    algorithm-separator   ::= [+._-]
    encoded               ::= [a-zA-Z0-9=_-]+

:meth:`Digest.parse` is strict, as go-digest's ``Parse``/``Validate`` is: only the algorithms
ociinspect can verify (sha256, sha512) are accepted, with lowercase hex of the exact length.
:func:`is_grammatical` is the looser check the image-spec JSON schema applies to descriptors,
where an unregistered algorithm is allowed as long as it matches the grammar.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import DigestMismatchError, InvalidDigestError, SizeMismatchError

if TYPE_CHECKING:
    pass

#: Algorithms ociinspect verifies, with the length of their hex encoding (image-spec: registered).
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}

_GRAMMAR = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_ALGORITHM = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*")
_HEX = re.compile(r"[a-f0-9]+")


def is_grammatical(value: str) -> bool:
    """True when ``value`` matches the image-spec digest grammar (any algorithm name)."""
    return isinstance(value, str) and _GRAMMAR.fullmatch(value) is not None


@dataclass(frozen=True, order=True)
class Digest:
    """A digest such as ``sha256:e3b0…``; build one with :meth:`parse` or :meth:`of`."""

    algorithm: str
    encoded: str

    def __post_init__(self) -> None:
        text = f"{self.algorithm}:{self.encoded}"
        # Checked in go-digest's Digest.Validate order: grammar (ErrDigestInvalidFormat), then
        # algorithm (ErrDigestUnsupported), then length (ErrDigestInvalidLength), then hex.
        if not _ALGORITHM.fullmatch(self.algorithm or ""):
            raise InvalidDigestError(text, "algorithm does not match the digest grammar")
        if self.algorithm not in ALGORITHMS:
            if not _GRAMMAR.fullmatch(text):
                raise InvalidDigestError(text, "encoded part does not match the digest grammar")
            raise InvalidDigestError(
                text, f"unsupported algorithm {self.algorithm!r} (supported: sha256, sha512)"
            )
        if len(self.encoded or "") != ALGORITHMS[self.algorithm]:
            raise InvalidDigestError(
                text,
                f"{self.algorithm} needs {ALGORITHMS[self.algorithm]} hex characters, "
                f"got {len(self.encoded or '')}",
            )
        if not _HEX.fullmatch(self.encoded or ""):
            raise InvalidDigestError(text, "encoded part must be lowercase hex")

    @classmethod
    def parse(cls, value: str | Digest) -> Digest:
        """Parse ``algorithm:encoded``; raise :class:`InvalidDigestError` otherwise."""
        if isinstance(value, Digest):
            return value
        if not isinstance(value, str):
            raise InvalidDigestError(repr(value), "not a string")
        algorithm, sep, encoded = value.partition(":")
        if not sep or not algorithm or not encoded:
            raise InvalidDigestError(value, "expected algorithm:encoded")
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """The digest of ``data``."""
        if algorithm not in ALGORITHMS:
            raise InvalidDigestError(f"{algorithm}:", f"unsupported algorithm {algorithm!r}")
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"

    @property
    def short(self) -> str:
        """The first 12 hex characters, as ``docker images`` shows an ID."""
        return self.encoded[:12]

    def hasher(self) -> hashlib._Hash:
        """A fresh hashlib object of this digest's algorithm."""
        return hashlib.new(self.algorithm)

    def verifier(self, what: str, size: int | None = None) -> Verifier:
        """A :class:`Verifier` that checks streamed bytes against this digest (and size)."""
        return Verifier(self, what, size)

    def verify(self, data: bytes, what: str, size: int | None = None) -> bytes:
        """Return ``data`` if it hashes to this digest (and has ``size`` bytes), else raise."""
        verifier = self.verifier(what, size)
        verifier.update(data)
        verifier.verify()
        return data


class Verifier:
    """Hash bytes as they stream; :meth:`verify` raises if they are not what was promised.

    Sizes are checked as bytes arrive, so a body longer than its descriptor stops early.
    """

    __slots__ = ("expected", "what", "size", "_hash", "received")

    def __init__(self, expected: Digest, what: str, size: int | None = None) -> None:
        self.expected = expected
        self.what = what
        self.size = size
        self._hash = expected.hasher()
        self.received = 0

    def update(self, chunk: bytes | memoryview) -> None:
        self.received += len(chunk)
        if self.size is not None and self.received > self.size:
            raise SizeMismatchError(self.what, self.size, self.received)
        self._hash.update(chunk)

    @property
    def actual(self) -> Digest:
        return Digest(self.expected.algorithm, self._hash.hexdigest())

    def verify(self) -> Digest:
        if self.size is not None and self.received != self.size:
            raise SizeMismatchError(self.what, self.size, self.received)
        actual = self.actual
        if actual != self.expected:
            raise DigestMismatchError(self.what, str(self.expected), str(actual))
        return actual


def sha256(data: bytes) -> str:
    """``"sha256:<hex>"`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


__all__ = ["ALGORITHMS", "Digest", "Verifier", "is_grammatical", "sha256"]
