"""Resource scopes of the Docker token protocol: ``type:name:action,...``.

A scope says what a token is for (``repository:library/alpine:pull``). Bearer challenges name
one in their ``scope`` param (:attr:`ociinspect.distribution.challenge.Challenge.scopes`) and token
requests ask for them (:class:`ociinspect.distribution.auth.TokenRequest`). No I/O.

Spec: distribution's docs/spec/auth/scope.md ("Resource Scope Grammar").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Scope", "merge_scopes", "parse_scopes"]

_TYPE_RE = re.compile(r"[a-z0-9]+(?:\([a-z0-9]+\))?")  # scope.md: resourcetype
_ACTION_RE = re.compile(r"[A-Za-z0-9_*.\-]+")  # scope.md: /[a-z]*/, plus '*' and friends


@dataclass(frozen=True)
class Scope:
    """A token spec resource scope ``type:name:action,...`` (docs/spec/auth/scope.md).

    ``name`` may hold ``:`` (``repository:localhost:5000/foo:pull``): the type is up to the first
    colon and the actions after the last. Actions are stored sorted and deduplicated, so equal
    scopes print equally: ``Scope("repository", "a", ("push", "pull"))`` prints as
    ``repository:a:pull,push``.
    """

    type: str
    name: str
    actions: tuple[str, ...]

    def __post_init__(self) -> None:
        if not _TYPE_RE.fullmatch(self.type):
            raise ValueError(f"scope resource type {self.type!r} is not [a-z0-9]+ (scope.md)")
        if not self.name or any(c in self.name for c in " \t\r\n,"):
            raise ValueError(f"scope resource name {self.name!r} is empty or has a separator")
        actions = tuple(sorted(set(self.actions)))
        if not actions or not all(_ACTION_RE.fullmatch(a) for a in actions):
            raise ValueError(f"scope actions {self.actions!r} are empty or malformed")
        object.__setattr__(self, "actions", actions)

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``"repository:library/alpine:pull,push"`` -> Scope; ValueError when malformed."""
        rtype, sep, rest = text.partition(":")
        name, sep2, actions = rest.rpartition(":")
        if not (sep and sep2):
            raise ValueError(f"scope {text!r} is not type:name:actions")
        return cls(rtype, name, tuple(actions.split(",")))

    @classmethod
    def repository(cls, name: str, *actions: str) -> Scope:
        """``Scope.repository("library/alpine", "pull")``."""
        return cls("repository", name, actions or ("pull",))

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def parse_scopes(text: str) -> tuple[Scope, ...]:
    """Space-separated scopes (a challenge's ``scope`` param); malformed pieces are skipped."""
    scopes = []
    for piece in text.split():
        try:
            scopes.append(Scope.parse(piece))
        except ValueError:
            continue
    return tuple(scopes)


def merge_scopes(*scopes: Scope) -> tuple[Scope, ...]:
    """One scope per (type, name) with the union of actions, sorted by type then name."""
    merged: dict[tuple[str, str], set[str]] = {}
    for scope in scopes:
        merged.setdefault((scope.type, scope.name), set()).update(scope.actions)
    return tuple(Scope(t, n, tuple(a)) for (t, n), a in sorted(merged.items()))
