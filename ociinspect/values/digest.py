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

from ..errors import DigestMismatchError, InvalidDigestError, SizeMismatchError

#: Algorithms ociinspect verifies, with the length of their hex encoding (image-spec: registered).
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}

_GRAMMAR = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_ALGORITHM = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*")
_HEX = re.compile(r"[a-f0-9]+")


def _validate(algorithm: str, encoded: str) -> None:
    """go-digest's Digest.Validate order: grammar (ErrDigestInvalidFormat), then algorithm
    (ErrDigestUnsupported), then length (ErrDigestInvalidLength), then hex."""
    text = f"{algorithm}:{encoded}"
    if not _ALGORITHM.fullmatch(algorithm or ""):
        raise InvalidDigestError(text, "algorithm does not match the digest grammar")
    if algorithm not in ALGORITHMS:
        if not _GRAMMAR.fullmatch(text):
            raise InvalidDigestError(text, "encoded part does not match the digest grammar")
        raise InvalidDigestError(
            text, f"unsupported algorithm {algorithm!r} (supported: sha256, sha512)"
        )
    if len(encoded or "") != ALGORITHMS[algorithm]:
        raise InvalidDigestError(
            text,
            f"{algorithm} needs {ALGORITHMS[algorithm]} hex characters, got {len(encoded or '')}",
        )
    if not _HEX.fullmatch(encoded or ""):
        raise InvalidDigestError(text, "encoded part must be lowercase hex")


def is_grammatical(value: str) -> bool:
    """True when ``value`` matches the image-spec digest grammar (any algorithm name)."""
    return isinstance(value, str) and _GRAMMAR.fullmatch(value) is not None


class Digest(str):
    """A digest such as ``sha256:e3b0…``, validated on construction: the type of every digest
    inside ociinspect. Strings from documents, headers and users are parsed once, at the edge
    (:meth:`parse`); a Digest is also a ``str`` (``"sha256:…"``), so it prints, compares,
    hashes and serialises as the text it is.

    ``Digest("sha256:e3b0…")`` parses; ``Digest("sha256", "e3b0…")`` builds from parts.
    """

    __slots__ = ()

    def __new__(cls, algorithm: str, encoded: str | None = None) -> Digest:
        if encoded is None:
            if isinstance(algorithm, Digest):
                return algorithm
            if not isinstance(algorithm, str):
                raise InvalidDigestError(repr(algorithm), "not a string")
            text = algorithm
            algorithm, sep, encoded = text.partition(":")
            if not sep or not algorithm or not encoded:
                raise InvalidDigestError(text, "expected algorithm:encoded")
        _validate(algorithm, encoded)
        return super().__new__(cls, f"{algorithm}:{encoded}")

    def __getnewargs__(self) -> tuple[str]:  # type: ignore[override]
        return (str(self),)

    def __repr__(self) -> str:
        return f"Digest({str(self)!r})"

    @classmethod
    def parse(cls, value: str | Digest) -> Digest:
        """Parse ``algorithm:encoded``; raise :class:`InvalidDigestError` otherwise."""
        return cls(value)

    @classmethod
    def from_document(cls, value: str) -> Digest:
        """A digest as a descriptor may carry it (image-spec descriptor.md "Digests"): any
        algorithm matching the grammar; registered ones (sha256, sha512) checked strictly.
        One with an unregistered algorithm cannot be verified: :meth:`hasher` refuses it."""
        algorithm = value.partition(":")[0] if isinstance(value, str) else ""
        if isinstance(value, str) and algorithm not in ALGORITHMS and is_grammatical(value):
            return str.__new__(cls, value)
        return cls(value)

    @property
    def verifiable(self) -> bool:
        """True for the algorithms ociinspect can hash (sha256, sha512)."""
        return self.algorithm in ALGORITHMS

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """The digest of ``data``."""
        if algorithm not in ALGORITHMS:
            raise InvalidDigestError(f"{algorithm}:", f"unsupported algorithm {algorithm!r}")
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    @property
    def algorithm(self) -> str:
        return self.partition(":")[0]

    @property
    def encoded(self) -> str:
        return self.partition(":")[2]

    def __str__(self) -> str:
        return str.__str__(self)

    @property
    def short(self) -> str:
        """The first 12 hex characters, as ``docker images`` shows an ID."""
        return self.encoded[:12]

    def hasher(self) -> hashlib._Hash:
        """A fresh hashlib object of this digest's algorithm."""
        if not self.verifiable:
            raise InvalidDigestError(
                str(self), f"unsupported algorithm {self.algorithm!r} (supported: sha256, sha512)"
            )
        return hashlib.new(self.algorithm)

    def verifier(self, what: str, size: int | None = None) -> Verifier:
        """A :class:`Verifier` that checks streamed bytes against this digest (and size)."""
        return Verifier(self, what, size)

    def verify_digest(self, data: bytes, what: str) -> Digest:
        """This digest, once ``data`` is checked to hash to it."""
        self.verify(data, what)
        return self

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


def sha256(data: bytes) -> Digest:
    """The sha256 :class:`Digest` of ``data``."""
    return Digest("sha256", hashlib.sha256(data).hexdigest())


__all__ = ["ALGORITHMS", "Digest", "Verifier", "is_grammatical", "sha256"]
