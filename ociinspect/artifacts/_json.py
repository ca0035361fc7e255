"""Private: bounded JSON reading shared by the supply-chain parsers.

:func:`load_object` checks the size before anything is decoded, then parses (RFC 8259: UTF-8,
no NaN/Infinity, a JSON object at the top). :class:`Reader` reads fields by path and collects
every problem as ``"path: problem"``, so one :class:`InvalidAttestationError` names each bad
field and no half-read record is ever returned. A JSON ``null`` counts as absent, as in Go's
encoding/json, which cosign, BuildKit and the in-toto and Sigstore reference code all use.
:func:`freeze` turns kept JSON into read-only values (mappings and tuples), bounded in depth.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from ociinspect.errors import CountLimitError, InvalidAttestationError, SizeLimitError
from ociinspect.values._validate import json_type

#: Deepest nesting :func:`freeze` copies (the JSON parser itself stops near Python's recursion
#: limit); a BuildKit ``mode=max`` provenance nests about 15 levels.
MAX_FREEZE_DEPTH = 200

MiB = 1024 * 1024

_KINDS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "object": (Mapping,),
    "array": (list, tuple),
    "integer": (int,),
    "boolean": (bool,),
}
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def at(path: str, key: str | int) -> str:
    """``subject[0].digest``; keys that are not plain names are quoted: ``args["build-arg:X"]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if not _PLAIN_KEY.fullmatch(key):
        return f"{path}[{json.dumps(key)}]"
    return f"{path}.{key}" if path else key


def check_size(raw: bytes, what: str, max_bytes: int) -> None:
    """Refuse ``raw`` over ``max_bytes`` before any decoding (SizeLimitError)."""
    if max_bytes < 0:
        raise ValueError(f"max_bytes must not be negative, got {max_bytes}")
    if len(raw) > max_bytes:
        raise SizeLimitError(what, max_bytes, len(raw))


def load_object(raw: bytes, what: str, max_bytes: int) -> dict[str, Any]:
    """RFC 8259 section 8.1 (UTF-8) and section 6 (no NaN/Infinity); a JSON object at the top."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what}: expected bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    check_size(raw, what, max_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidAttestationError(what, f"not JSON: not UTF-8 ({exc})") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise InvalidAttestationError(what, "not JSON: nested too deeply") from None
    except ValueError as exc:
        raise InvalidAttestationError(what, f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidAttestationError(what, f"expected a JSON object, got {json_type(value)}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 section 6)")


def check_count(count: int, limit: int, what: str, argument: str) -> None:
    """Refuse more than ``limit`` entries before they are read (CountLimitError)."""
    if count > limit:
        raise CountLimitError(what, limit, count, argument)


def freeze(value: Any, what: str, path: str, depth: int = 0) -> Any:
    """A read-only copy of parsed JSON: objects become mappings, arrays tuples."""
    if depth > MAX_FREEZE_DEPTH:
        raise InvalidAttestationError(
            what, f"{path}: nested deeper than {MAX_FREEZE_DEPTH} levels", (path,)
        )
    if isinstance(value, Mapping):
        return MappingProxyType(
            {k: freeze(v, what, at(path, k), depth + 1) for k, v in value.items()}
        )
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v, what, at(path, i), depth + 1) for i, v in enumerate(value))
    return value


def thaw(value: Any) -> Any:
    """Plain dicts and lists again (for json.dumps of a frozen value)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


_B64_STD = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_B64_URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def decode_base64(text: str, *, urlsafe: bool = False, unpadded: bool = False) -> bytes | None:
    """RFC 4648 section 4 (standard alphabet), with section 5 (URL-safe) when ``urlsafe``;
    padding required unless ``unpadded``. None when ``text`` is not such base64."""
    if _B64_STD.fullmatch(text):
        candidate = text
    elif urlsafe and _B64_URL.fullmatch(text):
        candidate = text.replace("-", "+").replace("_", "/")
    else:
        return None
    if unpadded and "=" not in candidate and len(candidate) % 4:
        candidate += "=" * (-len(candidate) % 4)
    if len(candidate) % 4:
        return None
    try:
        return base64.b64decode(candidate, validate=True)
    except (binascii.Error, ValueError):
        return None


#: RFC 3339 section 5.6 date-time: a full date, a full time and a mandatory offset.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
)


def parse_timestamp(text: str) -> datetime | None:
    """An RFC 3339 date-time as an aware datetime (fractions beyond microseconds dropped)."""
    match = _RFC3339.fullmatch(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = (fraction or ".0")[1:7].ljust(6, "0")
    zone = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(
            f"{year}-{month}-{day}T{hour}:{minute}:{second}.{micro}{zone}"
        )
    except ValueError:
        return None


def unix_time(seconds: int | None) -> datetime | None:
    """Seconds since the epoch as an aware UTC datetime; None for absent or zero."""
    if seconds is None or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


class Reader:
    """Reads fields of parsed JSON by path and collects what is wrong, as ``"path: problem"``."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.problems: list[tuple[str, str]] = []

    def fail(self, path: str, problem: str) -> None:
        self.problems.append((path, problem))

    def done(self) -> None:
        """Raise one InvalidAttestationError naming every problem, if there was any."""
        if self.problems:
            reason = "; ".join(f"{p}: {m}" if p else m for p, m in self.problems)
            fields = tuple(dict.fromkeys(p for p, _ in self.problems if p))
            raise InvalidAttestationError(self.what, reason, fields)

    def get(self, obj: Mapping[str, Any], key: str, path: str, kind: str, required: bool) -> Any:
        """``obj[key]`` if it is of JSON type ``kind``; None when absent, null or wrong."""
        value = obj.get(key)
        where = at(path, key)
        if value is None:
            if required:
                self.fail(where, "missing (required)")
            return None
        ok = isinstance(value, _KINDS[kind])
        if kind == "integer" and isinstance(value, bool):
            ok = False
        if not ok:
            self.fail(where, f"expected {kind}, got {json_type(value)}")
            return None
        return value

    def string(
        self, obj: Mapping[str, Any], key: str, path: str, required: bool = False
    ) -> str | None:
        value: str | None = self.get(obj, key, path, "string", required)
        return value

    def nonempty_string(self, obj: Mapping[str, Any], key: str, path: str) -> str | None:
        value = self.string(obj, key, path, required=True)
        if value == "":
            self.fail(at(path, key), "must not be empty")
            return None
        return value

    def object(
        self, obj: Mapping[str, Any], key: str, path: str, required: bool = False
    ) -> Mapping[str, Any] | None:
        value: Mapping[str, Any] | None = self.get(obj, key, path, "object", required)
        return value

    def array(
        self, obj: Mapping[str, Any], key: str, path: str, required: bool = False
    ) -> Sequence[Any] | None:
        value: Sequence[Any] | None = self.get(obj, key, path, "array", required)
        return value

    def strings(
        self, obj: Mapping[str, Any], key: str, path: str, required: bool = False
    ) -> tuple[str, ...]:
        items = self.array(obj, key, path, required) or ()
        where = at(path, key)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                self.fail(at(where, i), f"expected string, got {json_type(item)}")
        return tuple(item for item in items if isinstance(item, str))

    def string_map(self, obj: Mapping[str, Any], key: str, path: str) -> dict[str, str]:
        """A JSON object whose values are all strings (absent = empty)."""
        mapping = self.object(obj, key, path) or {}
        where = at(path, key)
        out: dict[str, str] = {}
        for name, value in mapping.items():
            if isinstance(value, str):
                out[name] = value
            else:
                self.fail(at(where, name), f"expected string, got {json_type(value)}")
        return out

    def timestamp(
        self, obj: Mapping[str, Any], key: str, path: str, required: bool = False
    ) -> datetime | None:
        text = self.string(obj, key, path, required)
        if text is None:
            return None
        value = parse_timestamp(text)
        if value is None:
            self.fail(at(path, key), f"not an RFC 3339 date-time: {text!r}")
        return value

    def frozen(self, obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        """An optional JSON object kept whole, read-only (absent = empty)."""
        value = self.object(obj, key, path)
        frozen: Mapping[str, Any] = freeze(value or {}, self.what, at(path, key))
        return frozen

    def digest_set(
        self, obj: Mapping[str, Any], key: str, path: str, required: bool
    ) -> dict[str, str]:
        """in-toto spec/v1/digest_set.md: algorithm -> digest, at least one entry when set.

        Digests of the algorithms the in-toto reference code knows are hex of the right length
        (go/v1/resource_descriptor.go ``Validate``); other algorithms are opaque strings.
        """
        mapping = self.object(obj, key, path, required)
        where = at(path, key)
        if mapping is None:
            return {}
        if not mapping:
            if required:
                self.fail(where, "must hold at least one digest")
            return {}
        out: dict[str, str] = {}
        for algorithm, value in mapping.items():
            here = at(where, algorithm)
            if not isinstance(value, str):
                self.fail(here, f"expected string, got {json_type(value)}")
                continue
            problem = digest_problem(algorithm, value)
            if problem:
                self.fail(here, problem)
                continue
            out[algorithm] = value
        return out


#: in-toto go/v1/resource_descriptor.go (HexLength / digestLengths): sizes in bytes.
_DIGEST_BYTES: dict[str, tuple[int, ...]] = {
    "md5": (16,),
    "sha1": (20,),
    "sha224": (28,),
    "sha512_224": (28,),
    "sha256": (32,),
    "sha512_256": (32,),
    "sha384": (48,),
    "sha512": (64,),
    "sha3_224": (28,),
    "sha3_256": (32,),
    "sha3_384": (48,),
    "sha3_512": (64,),
    "gitBlob": (20, 32),
    "gitCommit": (20, 32),
    "gitTag": (20, 32),
    "gitTree": (20, 32),
    "dirHash": (32,),
}
_HEX = re.compile(r"[0-9a-fA-F]*")


def digest_problem(algorithm: str, value: str) -> str | None:
    """What is wrong with one DigestSet entry, or None."""
    if not algorithm:
        return "empty algorithm name"
    if value == "":
        return "empty digest"
    sizes = _DIGEST_BYTES.get(algorithm)
    if sizes is None:
        return None
    if not _HEX.fullmatch(value) or len(value) % 2:
        return f"not hex: {value!r}"
    if len(value) // 2 not in sizes:
        want = " or ".join(str(2 * s) for s in sizes)
        return f"{algorithm} digest must be {want} hex digits, got {len(value)}"
    return None
