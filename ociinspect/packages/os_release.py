"""os-release(5): which operating system an image is built from.

os-release(5), "DESCRIPTION": "The /etc/os-release and /usr/lib/os-release files contain
operating system identification data. The format of os-release is a newline-separated list of
environment-like shell-compatible variable assignments. [...] beyond mere variable assignments,
no shell features are supported (this means variable expansion is explicitly not supported)".
The rules :func:`parse_os_release` applies, each from that page:

- "Variable assignment values must be enclosed in double or single quotes if they include
  spaces, semicolons or other special characters outside of A-Z, a-z, 0-9": an unquoted value
  that runs into whitespace followed by more text is refused; trailing whitespace is ignored.
- "Shell special characters ("$", quotes, backslash, backtick) must be escaped with
  backslashes, following shell style": inside double quotes a backslash before a dollar sign,
  double quote, backslash or backtick stands for that character and backslash-newline joins
  lines; any other backslash stays (POSIX sh 2.2.3); outside quotes a backslash escapes any
  character; single quotes take everything literally.
- "Lines beginning with "#" are treated as comments. Blank lines are permitted and ignored."
- "Concatenation of multiple individually quoted strings is not supported": such values are
  read as a shell would (``"a"'b'`` is ``ab``), since a reader gains nothing by refusing them.
- Keys are shell variable names (``[A-Za-z_][A-Za-z0-9_]*``); a key given twice keeps its last
  value, as sourcing the file would. A carriage return before a newline is ignored.

Where a field is missing, the typed attributes take the page's defaults: ``NAME``: "If not set,
a default of "NAME=Linux" may be used", ``ID``: "ID=linux", ``PRETTY_NAME``: "PRETTY_NAME=
"Linux"". :attr:`OsRelease.fields` keeps exactly what the file said.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .model import PackageDatabaseError, check_size, decode_text

#: os-release(5): "The file /etc/os-release takes precedence over /usr/lib/os-release.
#: Applications should check for the former, and exclusively use its data if it exists, and
#: only fall back to /usr/lib/os-release if it is missing." (/etc/os-release is often a
#: relative symlink to ../usr/lib/os-release: resolve it within the image.)
OS_RELEASE_PATHS: tuple[str, ...] = ("/etc/os-release", "/usr/lib/os-release")

#: Bytes read at most; real files are under 1 KiB.
MAX_OS_RELEASE_BYTES = 64 * 1024

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Backslash escapes that mean the character itself inside double quotes (POSIX sh 2.2.3).
_DQUOTE_ESCAPES = frozenset('$`"\\')


@dataclass(frozen=True)
class OsRelease:
    """The identification fields of an os-release file, plus every key it set."""

    id: str
    id_like: tuple[str, ...]
    name: str
    pretty_name: str
    version_id: str | None
    version_codename: str | None
    fields: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> OsRelease:
        """Typed view of a key/value mapping, with os-release(5)'s defaults where unset."""
        return cls(
            id=fields.get("ID") or "linux",
            id_like=tuple(fields.get("ID_LIKE", "").split()),
            name=fields.get("NAME") or "Linux",
            pretty_name=fields.get("PRETTY_NAME") or "Linux",
            version_id=fields.get("VERSION_ID") or None,
            version_codename=fields.get("VERSION_CODENAME") or None,
            fields=fields,
        )


def parse_os_release(data: bytes, *, where: str = OS_RELEASE_PATHS[0]) -> OsRelease:
    """Parse an os-release file; a line that is not an assignment raises PackageDatabaseError."""
    what = f"os-release {where}"
    check_size(what, data, MAX_OS_RELEASE_BYTES)
    return OsRelease.from_fields(_assignments(what, decode_text(what, data)))


def _assignments(what: str, text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    pos, line, end = 0, 1, len(text)
    while pos < end:
        # Skip blank space between assignments, counting lines.
        ch = text[pos]
        if ch == "\n":
            pos, line = pos + 1, line + 1
            continue
        if ch in " \t\r":
            pos += 1
            continue
        if ch == "#":
            nl = text.find("\n", pos)
            pos = end if nl < 0 else nl
            continue
        match = _KEY.match(text, pos)
        if not match or match.end() >= end or text[match.end()] != "=":
            nl = text.find("\n", pos)
            shown = text[pos : end if nl < 0 else nl][:60]
            raise PackageDatabaseError(what, f"line {line}: not KEY=VALUE: {shown!r}")
        key = match.group()
        value, pos, line = _value(what, text, match.end() + 1, line)
        fields[key] = value
    return fields


def _value(what: str, text: str, pos: int, line: int) -> tuple[str, int, int]:
    """One shell word from ``pos``; returns the value, the position after it, the line number."""
    out: list[str] = []
    end = len(text)
    start_line = line
    while pos < end:
        ch = text[pos]
        if ch == "\n":
            break
        if ch in " \t\r":
            rest_end = text.find("\n", pos)
            rest = text[pos : end if rest_end < 0 else rest_end].strip()
            if rest and not rest.startswith("#"):
                raise PackageDatabaseError(
                    what, f"line {line}: unquoted whitespace in a value (quote it): {rest[:40]!r}"
                )
            return "".join(out), end if rest_end < 0 else rest_end, line
        if ch == "'":
            close = text.find("'", pos + 1)
            if close < 0:
                raise PackageDatabaseError(what, f"line {start_line}: unterminated single quote")
            chunk = text[pos + 1 : close]
            out.append(chunk)
            line += chunk.count("\n")
            pos = close + 1
        elif ch == '"':
            pos += 1
            while True:
                if pos >= end:
                    raise PackageDatabaseError(
                        what, f"line {start_line}: unterminated double quote"
                    )
                ch = text[pos]
                if ch == '"':
                    pos += 1
                    break
                if ch == "\\" and pos + 1 < end:
                    nxt = text[pos + 1]
                    if nxt == "\n":
                        line += 1
                    elif nxt in _DQUOTE_ESCAPES:
                        out.append(nxt)
                    else:
                        out.append("\\" + nxt)
                    pos += 2
                    continue
                out.append(ch)
                line += ch == "\n"
                pos += 1
        elif ch == "\\":
            if pos + 1 >= end:
                raise PackageDatabaseError(what, f"line {line}: backslash at end of file")
            nxt = text[pos + 1]
            if nxt == "\n":
                line += 1
            else:
                out.append(nxt)
            pos += 2
        else:
            out.append(ch)
            pos += 1
    return "".join(out), pos, line


__all__ = ["MAX_OS_RELEASE_BYTES", "OS_RELEASE_PATHS", "OsRelease", "parse_os_release"]
