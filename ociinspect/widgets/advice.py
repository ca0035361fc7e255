"""What a failure means and what to do next, in plain words, for the browser's error box.

:func:`explain` runs in the browser's background thread after a load fails: for an unknown
tag it asks the registry for the repository's first tags (one listing page), so the message
can offer them; everything else is read from the error itself. :func:`advice_html` draws the
result; a tag offered there loads when clicked. The registry's own words stay available under
"Details", without Python reprs (a registry's ``detail`` object is left out of the headline).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from ..errors import (
    AuthError,
    InvalidReferenceError,
    NotFoundError,
    OCIInspectError,
    PlatformNotFoundError,
    RateLimitedError,
    RegistryError,
    SourceError,
    TransportError,
)
from ..session import Session
from ..values.reference import Reference, parse
from .format import esc
from .htmlview import action_attrs, copy_button

#: Tags offered after "no such tag" (the first page of the listing is enough to choose from).
TAGS_OFFERED = 30

_TITLES: tuple[tuple[type[BaseException], str], ...] = (
    (InvalidReferenceError, "Not a valid image reference"),
    (PlatformNotFoundError, "No such platform"),
    (NotFoundError, "Not found"),
    (AuthError, "Access denied"),
    (RateLimitedError, "Rate limited"),
    (TransportError, "Registry unreachable"),
    (SourceError, "Cannot open this source"),
    (OCIInspectError, "Could not load"),
)


def error_title(exc: BaseException) -> str:
    """A short headline for a failure (the message below it says the details)."""
    for kind, title in _TITLES:
        if isinstance(exc, kind):
            return title
    return f"Unexpected error ({type(exc).__name__})"


@dataclass
class Advice:
    """A failure said for a person: a headline, what happened, what to do, and the details."""

    title: str
    message: str
    steps: list[str] = field(default_factory=list)  # plain text; commands in `commands`
    commands: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # references that load when clicked
    details: str = ""

    @property
    def text(self) -> str:
        """The whole advice as one line of text (the browser's ``error`` trait)."""
        parts = [f"{self.title}: {self.message}"] + self.steps
        if self.tags:
            parts.append("Tags there: " + ", ".join(t.rpartition(":")[2] for t in self.tags))
        return " ".join(parts)


def _parse(text: str) -> Reference | None:
    try:
        return parse(text.removeprefix("docker://"))
    except (OCIInspectError, ValueError):
        return None


def _registry_words(exc: RegistryError) -> str:
    """The registry's answer without Python reprs: status, codes and messages."""
    words = [f"{exc.method} {exc.url}:"]
    if exc.status is not None:
        words.append(str(exc.status))
    words += [f"{e.code}: {e.message}" if e.message else e.code for e in exc.errors]
    if exc.reason:
        words.append(exc.reason)
    return " ".join(words)


def explain(exc: BaseException, text: str, session: Session | None = None) -> Advice:
    """``exc``, raised loading ``text``, as :class:`Advice`. May list the repository's tags
    (one request) when the tag was not found; a failure of that listing is ignored."""
    title = error_title(exc)
    ref = _parse(text)
    if isinstance(exc, InvalidReferenceError):
        return Advice(
            title,
            f"“{exc.reference}” cannot be read as an image reference: {exc.reason}.",
            [
                "A reference reads [registry/]repository[:tag][@sha256:digest], in lower "
                "case, e.g. alpine:3.20, ghcr.io/org/app:v1 or localhost:5000/demo@sha256:…; "
                "local images: oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE."
            ],
        )
    if isinstance(exc, NotFoundError) and ref is not None:
        codes = set(exc.codes)
        where = f"{ref.registry}/{ref.repository}"
        if "NAME_UNKNOWN" in codes:
            return Advice(
                title,
                f"The registry {ref.registry} has no repository {ref.repository}.",
                [
                    "Check the spelling and the registry; a private repository may also answer "
                    "this way to a user without access."
                ],
                details=_registry_words(exc),
            )
        asked = f"digest {ref.digest}" if ref.digest else f"tag “{ref.tag or 'latest'}”"
        advice = Advice(
            title,
            f"{where} has no {asked}.",
            details=_registry_words(exc),
        )
        if session is not None and not ref.digest:
            from ..sources import open_source

            try:
                names = list(itertools.islice(open_source(where, session).tags(), TAGS_OFFERED))
            except OCIInspectError:
                names = []
            if names:
                advice.steps.append(
                    "Tags that exist (the first of the listing; click one to load it):"
                )
                advice.tags = [f"{where}:{name}" for name in names]
            else:
                advice.steps.append("The repository lists no tags.")
        return advice
    if isinstance(exc, AuthError):
        registry = ref.registry if ref is not None else "the registry"
        repo = ref.repository if ref is not None else "this repository"
        return Advice(
            title,
            f"{registry} refused access to {repo}"
            + (f" ({exc.status} {', '.join(exc.codes)})." if exc.status else "."),
            [
                "Give credentials: log in with Docker (ociinspect reads its config.json and "
                "credential helpers), then Load again; or pass a Session with credentials to "
                "browse(). If you are logged in, your account may lack pull access here."
            ],
            [
                f"docker login {registry}",
                "browse(REF, session=ociinspect.Session(credentials="
                f"{{{registry!r}: ociinspect.Credentials('USER', 'PASSWORD')}}))",
            ],
            details=_registry_words(exc),
        )
    if isinstance(exc, RateLimitedError):
        return Advice(
            title,
            "The registry asks to wait before more pulls.",
            ["Log in (a logged-in user has a higher limit), use a mirror, or wait and Load again."],
            details=_registry_words(exc),
        )
    if isinstance(exc, TransportError):
        return Advice(
            title,
            f"No answer from {ref.registry if ref is not None else 'the registry'}: "
            f"{exc.reason or 'the connection failed'}.",
            ["Check the address and port, the network, and any proxy settings."],
            details=_registry_words(exc),
        )
    if isinstance(exc, RegistryError):
        return Advice(title, _registry_words(exc))
    return Advice(title, str(exc))


def advice_html(advice: Advice) -> str:
    """The error box: headline, plain message, next steps, offered tags, then details."""
    parts = [
        '<div class="oi-error-box" role="alert">',
        f"<b>{esc(advice.title)}</b>",
        f'<div class="oi-error-message">{esc(advice.message)}</div>',
    ]
    for step in advice.steps:
        parts.append(f'<div class="oi-error-step">{esc(step)}</div>')
    if advice.tags:
        buttons = "".join(
            f'<button type="button" class="oi-tag"{action_attrs("load", tag)}>'
            f"{esc(tag.rpartition(':')[2])}</button>"
            for tag in advice.tags
        )
        parts.append(f'<div class="oi-error-tags">{buttons}</div>')
    for command in advice.commands:
        button = copy_button(command, "command")
        parts.append(f'<div class="oi-cmd"><code>{esc(command)}</code>{button}</div>')
    if advice.details:
        parts.append(
            f'<details class="oi-error-details"><summary>Details</summary>'
            f"<code>{esc(advice.details)}</code></details>"
        )
    parts.append("</div>")
    return "".join(parts)


__all__ = ["TAGS_OFFERED", "Advice", "advice_html", "error_title", "explain"]
