"""The platform an image runs on (image-spec image-index.md, ``platform``), as users type it.

Text form (containerd's ``platforms`` specifier, so strings round-trip with containerd and
nerdctl)::

    <os>[(<os.version>[+<os.feature>]*)]/<architecture>[/<variant>]
    linux/arm/v7     linux/arm64/v8     windows(10.0.17763.1234)/amd64     unknown/unknown

:meth:`Platform.parse` also accepts ``windows/amd64:10.0.17763.1234`` for the OS version, and a
single component: a known OS (``linux``) takes this machine's architecture, a known
architecture (``arm64``) means ``linux/<arch>``.

Every constructor normalises, so equal platforms compare equal (containerd ``normalizeArch``,
plus default variants filled in)::

    x86_64, x86-64 -> amd64 (variant v1 -> none)      i386, i686 -> 386
    aarch64 -> arm64; arm64 without variant -> v8     8, v8.0 -> v8; 9, 9.0, v9.0 -> v9
    armhf -> arm/v7, armel -> arm/v6; arm without variant -> v7; 5, 6, 7, 8 -> v5...v8
    armv7l / armv6l (``uname -m``) -> arm/v7 / arm/v6   macos -> darwin   case folded

``unknown/unknown`` (BuildKit's attestation manifests) is an ordinary platform. A string or
JSON object that is not a platform raises :class:`~ociinspect.errors.InvalidDocumentError`
with ``what == "platform"`` (also a ``ValueError``).
"""

from __future__ import annotations

import platform as _stdlib_platform
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from ..errors import InvalidDocumentError

#: containerd ``specifierRe``: what each of os, architecture and variant may contain.
_COMPONENT = re.compile(r"[A-Za-z0-9_.-]+")
#: containerd ``osRe``: ``os`` then optional ``(version+feature+feature)``.
_OS_PART = re.compile(r"(?P<os>[A-Za-z0-9_-]+)(?:\((?P<options>[A-Za-z0-9_.%+-]*)\))?")
_OS_VERSION_SUFFIX = re.compile(r"[A-Za-z0-9_.-]+")

#: Go's GOOS values (plus "unknown"), for single-component specifiers.
KNOWN_OS = frozenset(
    (
        *("aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios"),
        *("js", "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "wasip1"),
        *("windows", "zos", "unknown"),
    )
)
#: Go's GOARCH values (after normalisation), for single-component specifiers.
KNOWN_ARCHITECTURES = frozenset(
    (
        *("386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64"),
        *("mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc"),
        *("ppc64", "ppc64le", "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm"),
    )
)

#: alias -> (architecture, variant forced by the alias or None to keep the given one)
_ARCH_ALIASES: dict[str, tuple[str, str | None]] = {
    "x86_64": ("amd64", None),
    "x86-64": ("amd64", None),
    "aarch64": ("arm64", None),
    "armhf": ("arm", "v7"),
    "armel": ("arm", "v6"),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", ""),
    "i686": ("386", ""),
}
_ARM64_VARIANTS = {"8": "v8", "v8.0": "v8", "9": "v9", "9.0": "v9", "v9.0": "v9"}
_ARM_VARIANTS = {"5": "v5", "6": "v6", "7": "v7", "8": "v8"}
#: The variant a platform has when none is written.
DEFAULT_VARIANTS = {"arm": "v7", "arm64": "v8"}


def _invalid(reason: str) -> InvalidDocumentError:
    return InvalidDocumentError("platform", reason)


def normalize_architecture(architecture: str, variant: str | None) -> tuple[str, str | None]:
    """``(architecture, variant)`` in canonical form (see the module docstring)."""
    arch = architecture.lower()
    var = variant.lower() if variant else None
    if arch in _ARCH_ALIASES:
        arch, forced = _ARCH_ALIASES[arch]
        if forced is not None:
            var = forced or None
    if arch == "amd64" and var == "v1":
        var = None
    elif arch == "arm64" and var is not None:
        var = _ARM64_VARIANTS.get(var, var)
    elif arch == "arm" and var is not None:
        var = _ARM_VARIANTS.get(var, var)
    return arch, var or DEFAULT_VARIANTS.get(arch)


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise _invalid(f"{what} must be a list of strings, got {type(value).__name__}")
    if not all(isinstance(item, str) and item for item in value):
        raise _invalid(f"{what} must be a list of non-empty strings")
    return tuple(value)


@dataclass(frozen=True)
class Platform:
    """``os``/``architecture``/``variant`` plus Windows' ``os.version`` and feature lists."""

    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = ()
    features: tuple[str, ...] = ()

    def _repr_html_(self) -> str:
        """Notebook HTML (:func:`ociinspect.display.platform_html`)."""
        from ..display import platform_html

        return platform_html(self)

    def __post_init__(self) -> None:
        for what in ("os", "architecture"):
            value = getattr(self, what)
            if not isinstance(value, str) or not _COMPONENT.fullmatch(value):
                raise _invalid(f"{what} {value!r} must be letters, digits, '_', '.' or '-'")
        if self.variant is not None and not (
            isinstance(self.variant, str)
            and (not self.variant or _COMPONENT.fullmatch(self.variant))
        ):
            raise _invalid(f"variant {self.variant!r} must be letters, digits, '_', '.' or '-'")
        if self.os_version is not None and not isinstance(self.os_version, str):
            raise _invalid(f"os.version must be a string, got {type(self.os_version).__name__}")
        os_name = self.os.lower()
        arch, variant = normalize_architecture(self.architecture, self.variant)
        set_ = object.__setattr__  # frozen: normalise in place once, at construction
        set_(self, "os", "darwin" if os_name == "macos" else os_name)
        set_(self, "architecture", arch)
        set_(self, "variant", variant)
        set_(self, "os_version", self.os_version or None)
        # containerd Normalize: os.features sorted and deduplicated, so order does not matter.
        set_(self, "os_features", tuple(sorted(set(_strings(self.os_features, "os.features")))))
        set_(self, "features", tuple(sorted(set(_strings(self.features, "features")))))

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``os[(version)]/arch[/variant]``, ``os/arch:version``, ``linux`` or ``arm64``."""
        if not isinstance(text, str):
            raise _invalid(f"expected a string, got {type(text).__name__}")
        spec, colon, suffix = text.partition(":")
        if colon and not _OS_VERSION_SUFFIX.fullmatch(suffix):
            raise _invalid(f"{text!r}: the OS version after ':' must be like 10.0.17763.1234")
        parts = spec.split("/")
        if len(parts) > 3 or not all(parts):
            raise _invalid(f"{text!r}: expected os/architecture[/variant], e.g. linux/arm64")
        os_part = _OS_PART.fullmatch(parts[0])
        for part in parts[1:]:
            if not _COMPONENT.fullmatch(part):
                raise _invalid(f"{text!r}: {part!r} may only use letters, digits, '_', '.', '-'")
        if os_part is None:
            raise _invalid(f"{text!r}: {parts[0]!r} is not an OS name (or os(version))")
        os_name, options = os_part["os"], os_part["options"]
        os_version: str | None = None
        os_features: tuple[str, ...] = ()
        if options is not None:
            version, *features = options.split("+")
            os_version = unquote(version) or None
            os_features = tuple(unquote(f) for f in features if f)
        if colon:
            if os_version is not None:
                raise _invalid(f"{text!r}: the OS version is given twice")
            os_version = suffix
        if len(parts) == 1:
            if os_name.lower() in KNOWN_OS or os_name.lower() == "macos":
                host = host_platform()
                return cls(os_name, host.architecture, host.variant, os_version, os_features)
            arch, variant = normalize_architecture(os_name, None)
            if options is None and arch in KNOWN_ARCHITECTURES:
                return cls("linux", arch, variant, os_version)
            raise _invalid(f"{text!r}: neither a known OS nor a known architecture")
        variant = parts[2] if len(parts) == 3 else None
        return cls(os_name, parts[1], variant, os_version, os_features)

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Platform:
        """From an image-spec ``platform`` object (``os.version``, ``os.features`` keys)."""
        if not isinstance(value, Mapping):
            raise _invalid(f"expected a JSON object, got {type(value).__name__}")
        for key in ("os", "architecture"):
            if not isinstance(value.get(key), str) or not value[key]:
                raise _invalid(f"{key!r} is required and must be a non-empty string")
        for key in ("variant", "os.version"):
            if value.get(key) is not None and not isinstance(value[key], str):
                raise _invalid(f"{key!r} must be a string")
        return cls(
            value["os"],
            value["architecture"],
            value.get("variant") or None,
            value.get("os.version") or None,
            _strings(value.get("os.features") or (), "os.features"),
            _strings(value.get("features") or (), "features"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The image-spec ``platform`` object (normalised values, keys omitted when empty)."""
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        if self.features:
            out["features"] = list(self.features)
        return out

    def __str__(self) -> str:
        """``linux/arm/v7``, ``windows(10.0.17763.1234)/amd64`` (containerd ``FormatAll``)."""
        options = _encode(self.os_version or "") + "".join(
            "+" + _encode(f) for f in self.os_features
        )
        head = f"{self.os}({options})" if options else self.os
        return "/".join([head, self.architecture] + ([self.variant] if self.variant else []))

    def matches(self, other: Platform | str) -> bool:
        """Whether ``other`` (an index entry) satisfies this platform (what was asked for).

        os, architecture and variant must be equal after normalisation (so ``linux/arm64``
        matches an entry saying ``arm64``/``v8`` or ``aarch64`` with no variant). ``os_version``
        is compared only when asked for, as a prefix of dotted parts (``10.0.17763`` matches
        ``10.0.17763.1234``); asked-for ``os_features``/``features`` must all be present.
        """
        if isinstance(other, str):
            other = Platform.parse(other)
        if (self.os, self.architecture, self.variant) != (
            other.os,
            other.architecture,
            other.variant,
        ):
            return False
        if self.os_version is not None:
            theirs = other.os_version or ""
            if theirs != self.os_version and not theirs.startswith(self.os_version + "."):
                return False
        return set(self.os_features) <= set(other.os_features) and set(self.features) <= set(
            other.features
        )


def _encode(value: str) -> str:
    """containerd ``encodeOSOption``: escape the characters that delimit OS options."""
    for char, code in (("%", "%25"), ("+", "%2B"), ("(", "%28"), (")", "%29"), ("/", "%2F")):
        value = value.replace(char, code)
    return value


def host_platform() -> Platform:
    """The platform ``docker pull`` picks on this machine: ``linux/<this CPU>``.

    The OS is always ``linux``: Docker Desktop runs Linux containers on macOS and Windows too.
    """
    machine = _stdlib_platform.machine() or "unknown"
    try:
        return Platform("linux", machine)
    except InvalidDocumentError:
        return Platform("linux", "unknown")


__all__ = [
    "DEFAULT_VARIANTS",
    "KNOWN_ARCHITECTURES",
    "KNOWN_OS",
    "Platform",
    "host_platform",
    "normalize_architecture",
]
