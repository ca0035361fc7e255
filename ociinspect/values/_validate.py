"""Private: the JSON-shape checks behind :mod:`ociinspect.values.models`.

:class:`Check` reads fields of a parsed JSON document by path and collects every problem as
``"path: problem"``, so one error names each bad field (``layers[2].digest: invalid digest ...``);
the ``*_problem`` functions are the rules on single values, each returning what is wrong or None
and naming the spec line it comes from: image-spec descriptor.md ("Properties", "Digests"),
annotations.md, config.md, RFC 6838 (media types), RFC 3986 (URIs), RFC 4648 (base64), and
RFC 8259 (:func:`load_object`). A JSON ``null`` counts as absent, as in Go's encoding/json.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidDigestError, InvalidDocumentError
from .digest import ALGORITHMS, Digest, is_grammatical

#: image-spec schema/defs-descriptor.json "mediaType" (RFC 6838 section 4.2 restricted names).
_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
)
#: RFC 3986 section 3: an absolute URI is ``scheme ":" hier-part`` over a fixed ASCII alphabet.
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
#: image-spec schema/validator.go (validateConfig): an Env entry is ``^[^=]+=.*$``.
_ENV = re.compile(r"[^=]+=.*", re.DOTALL)
_INT64_MAX = 2**63 - 1


def media_type_problem(value: str) -> str | None:
    """descriptor.md "mediaType": MUST comply with RFC 6838 (schema/defs-descriptor.json)."""
    if _MEDIA_TYPE.fullmatch(value):
        return None
    return f"invalid media type {value!r} (RFC 6838 type/subtype)"


def digest_problem(value: str) -> str | None:
    """descriptor.md "Digests": the grammar admits any algorithm; "Registered algorithms" sha256 and
    sha512 MUST be lowercase hex of 64/128 characters (go-digest Validate, as image-spec's
    validator applies it: unregistered algorithms are only checked against the grammar)."""
    if not is_grammatical(value):
        return f"invalid digest {value!r}: does not match the grammar algorithm:encoded"
    if value.partition(":")[0] in ALGORITHMS:
        try:
            Digest.parse(value)
        except InvalidDigestError as exc:
            return str(exc)
    return None


def size_problem(value: int) -> str | None:
    """descriptor.md "size": int64 byte count of the content; image-spec rejects negative sizes."""
    if value < 0:
        return f"must not be negative, got {value}"
    if value > _INT64_MAX:
        return f"exceeds int64, got {value}"
    return None


def url_problem(value: str) -> str | None:
    """descriptor.md "urls": each entry MUST conform to RFC 3986 (schema: format "uri")."""
    return None if _URI.fullmatch(value) else f"not an absolute URI (RFC 3986): {value!r}"


def decode_data(value: str) -> tuple[bytes | None, str | None]:
    """descriptor.md "data": MUST conform to Base 64 encoding, RFC 4648 section 4 (padded)."""
    try:
        return base64.b64decode(value, validate=True), None
    except (binascii.Error, ValueError) as exc:
        return None, f"not base64 (RFC 4648 section 4): {exc}"


_JSON_NAMES = {str: "string", int: "integer", bool: "boolean", list: "array", dict: "object"}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):  # tuples: JSON kept frozen
        return "array"
    return _JSON_NAMES.get(type(value), type(value).__name__)


def at(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Check:
    """Reads JSON fields by path and collects what is wrong, as ``"path: problem"``."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, problem: str | None) -> None:
        if problem is not None:
            self.problems.append(f"{path}: {problem}" if path else problem)

    def done(self, what: str) -> None:
        if self.problems:
            raise InvalidDocumentError(what, "; ".join(self.problems))

    def get(self, obj: Mapping[str, Any], key: str, path: str, kind: type, required: bool) -> Any:
        """``obj[key]`` if of JSON type ``kind`` (str, int, bool, list, dict); None = absent."""
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(at(path, key), "missing (required)")
            return None
        if kind is dict:
            ok = isinstance(value, Mapping)
        else:
            ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if not ok:
            self.fail(at(path, key), f"expected {_JSON_NAMES[kind]}, got {json_type(value)}")
            return None
        return value

    def string(self, obj: Mapping[str, Any], key: str, path: str, required: bool = False) -> Any:
        return self.get(obj, key, path, str, required)

    def strings(
        self, obj: Mapping[str, Any], key: str, path: str, required: bool = False
    ) -> tuple[str, ...] | None:
        items = self.get(obj, key, path, list, required)
        if items is None:
            return None
        bad = [i for i, item in enumerate(items) if not isinstance(item, str)]
        for i in bad:
            self.fail(at(at(path, key), i), f"expected string, got {json_type(items[i])}")
        return None if bad else tuple(items)

    def string_map(self, obj: Mapping[str, Any], key: str, path: str) -> dict[str, str]:
        """annotations.md: a map whose keys and values MUST be strings (also config Labels)."""
        mapping = self.get(obj, key, path, dict, False) or {}
        for name, value in mapping.items():
            if not isinstance(value, str):
                self.fail(at(at(path, key), name), f"expected string, got {json_type(value)}")
        return dict(mapping)

    def key_set(self, obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        """config.md ExposedPorts/Volumes: a JSON object whose values are (ignored) objects."""
        mapping = self.get(obj, key, path, dict, False) or {}
        for name, value in mapping.items():
            if value is not None and not isinstance(value, dict):
                self.fail(at(at(path, key), name), f"expected object, got {json_type(value)}")
        return tuple(mapping)

    def media_type(self, obj: Mapping[str, Any], key: str, path: str, required: bool) -> Any:
        value = self.string(obj, key, path, required)
        if value is not None:
            self.fail(at(path, key), media_type_problem(value))
        return value

    def digest(self, value: str, path: str) -> None:
        self.fail(path, digest_problem(value))


def env_problem(value: str) -> str | None:
    """config.md "Env": each entry is ``VARNAME=VARVALUE`` (image-spec validator.go)."""
    return None if _ENV.fullmatch(value) else f"{value!r} is not VARNAME=VARVALUE"


def load_object(raw: bytes, what: str) -> dict[str, Any]:
    """RFC 8259 section 8.1: JSON between systems is UTF-8; the documents are JSON objects."""
    try:
        value = json.loads(bytes(raw).decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidDocumentError(what, f"not JSON: {exc}") from None
    except RecursionError:
        raise InvalidDocumentError(what, "not JSON: nested too deeply") from None
    if not isinstance(value, dict):
        raise InvalidDocumentError(what, f"expected a JSON object, got {json_type(value)}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 section 6)")
