"""The errors of the supply-chain parsers, each a subclass of a class in :mod:`ociinspect.errors`.

::

    InvalidDocumentError (ociinspect.errors)
    └── InvalidAttestationError   a statement, envelope, SBOM, provenance, signature or bundle
                                  is malformed or of the wrong shape; names every bad field
    SizeLimitError (ociinspect.errors)
    └── CountLimitError           more entries (packages, components, subjects, signatures)
                                  or deeper nesting than the parser was allowed to read
    OCIInspectError (ociinspect.errors), ValueError
    └── InvalidCosignTagError     a tag that is not cosign's ``<alg>-<hex>.<suffix>`` scheme

(To be moved into :mod:`ociinspect.errors` by the lead; nothing else here.)
"""

from __future__ import annotations

from ociinspect.errors import InvalidDocumentError, OCIInspectError, SizeLimitError


class InvalidAttestationError(InvalidDocumentError):
    """A supply-chain document is malformed JSON, or JSON of the wrong shape.

    ``str(err)`` names the document and each bad field by path, e.g.
    ``invalid in-toto statement: subject[0].digest: missing (required)``; ``fields`` holds
    those paths (``("subject[0].digest",)``), empty when the problem is the whole document.
    """

    def __init__(self, what: str, reason: str, fields: tuple[str, ...] = ()) -> None:
        self.fields = tuple(fields)
        super().__init__(what, reason)


class CountLimitError(SizeLimitError):
    """A document holds more entries, or nests deeper, than the parser was allowed to read.

    The limit is an argument of the parser (``max_packages=``, ``max_components=``,
    ``max_depth=`` ...); the message names it, so raising it is the next step.
    """

    def __init__(self, what: str, limit: int, size: int, argument: str) -> None:
        self.argument = argument
        OCIInspectError.__init__(
            self,
            f"{what} is over the limit of {limit} (got {size}); pass {argument}= to read more",
        )
        self.what = what
        self.limit = limit
        self.size = size


class InvalidCosignTagError(OCIInspectError, ValueError):
    """A tag that does not follow cosign's ``sha256-<hex>.sig|.att|.sbom`` scheme."""

    def __init__(self, tag: str, reason: str) -> None:
        self.tag = tag
        self.reason = reason
        super().__init__(f"invalid cosign tag {tag!r}: {reason}")


__all__ = ["CountLimitError", "InvalidAttestationError", "InvalidCosignTagError"]
