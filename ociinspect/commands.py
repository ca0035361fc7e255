"""Shell commands that repeat what ociinspect did: ``curl`` from the HTTP trace, and the
``crane``, ``skopeo``, ``regctl`` and ``oras`` lines for an image.

Every ``curl`` line runs as printed in bash, given two variables when the registry wants a
login (never a value: the trace holds none)::

    export REGISTRY_USER=me REGISTRY_PASSWORD=...
    TOKEN=$(curl -fsS -u "$REGISTRY_USER:$REGISTRY_PASSWORD" \\
            'https://auth…/token?service=…&scope=…' | jq -r '.token // .access_token')
    curl -fsSL -H "Authorization: Bearer $TOKEN" -H 'Accept: …' \\
         'https://…/manifests/1.0' -o manifest-1.0.json && sha256sum manifest-1.0.json

Documents and blobs are saved with ``-o`` and hashed with ``sha256sum``, so the digest can be
compared with the one asked for (piping through ``jq .`` would change the bytes the digest is
about). ``-L`` follows a blob's redirect to the CDN: curl sends neither ``-u`` credentials nor a
``-H "Authorization: …"`` header to another host (curl 7.58 and later; 7.83.1 and later also
drop them when only the port or scheme changes), which is what ociinspect does too. Redirect
hops, 401 answers and retries are not repeated: curl's own ``-L`` and the token line cover them.

:func:`trace_commands` is :func:`~ociinspect.tables.trace_frame` with a ``curl`` column;
:func:`curl_commands` the lines alone; :func:`tool_commands` the other tools' lines for a
reference.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from .distribution import auth
from .distribution.scope import Scope
from .distribution.trace import REDACTED, Exchange
from .session import Session
from .tables.frame import STRING, Table
from .tables.trace import trace_frame
from .values.reference import is_loopback, parse

USER_VARIABLE = "REGISTRY_USER"
PASSWORD_VARIABLE = "REGISTRY_PASSWORD"
LOGIN = f'-u "${USER_VARIABLE}:${PASSWORD_VARIABLE}"'
BEARER = '-H "Authorization: Bearer $TOKEN"'
TOKEN_FILTER = "jq -r '.token // .access_token'"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_V2 = re.compile(r"/v2/(?P<repo>.+?)/(?P<kind>manifests|blobs|tags|referrers)/(?P<rest>[^?]*)")


def _quote(url: str) -> str:
    """``url`` in single quotes, always (a URL's ``&`` and ``?`` mean something to a shell)."""
    return "'" + url.replace("'", "'\"'\"'") + "'"


def _scheme(exchange: Exchange) -> str:
    """The scheme word of the request's Authorization header ("" when none)."""
    value = next(
        (v for k, v in exchange.request_headers.items() if k.lower() == "authorization"), ""
    )
    return value.split(" ", 1)[0].lower()


def _header(exchange: Exchange, name: str) -> str | None:
    return next((v for k, v in exchange.request_headers.items() if k.lower() == name.lower()), None)


def _file_name(repository: str, kind: str, rest: str) -> str:
    """Where curl saves a document or blob: the digest's first 12 hex digits, or the
    repository and tag (``library_python-3.12-slim.json``)."""
    if rest.startswith("sha256:"):
        short = rest.split(":", 1)[1][:12]
        return f"{short}.json" if kind == "manifests" else short
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{repository}-{rest}") + ".json"


def _token_line(url: str, login: bool) -> str:
    user = f"{LOGIN} " if login else ""
    return f"TOKEN=$(curl -fsS {user}{_quote(url)} | {TOKEN_FILTER})"


def curl_for(exchange: Exchange) -> str | None:
    """The curl line that repeats ``exchange``, or None for what curl does by itself (401s,
    redirect hops), what it cannot repeat (a URL whose signature the trace redacted), and
    answers that were errors (a 404 referrers API, then its tag fallback)."""
    if exchange.status is None or exchange.status >= 400 or REDACTED in exchange.url:
        return None
    if exchange.purpose == "token":
        if exchange.method != "GET":
            return None  # an OAuth2 refresh-token POST: a secret curl should not be shown
        return _token_line(exchange.url, _scheme(exchange) == "basic")
    match = _V2.search(urlsplit(exchange.url).path)
    auth_flag = {"bearer": f" {BEARER}", "basic": f" {LOGIN}"}.get(_scheme(exchange), "")
    url = _quote(exchange.url)
    if match is None:
        return f"curl -fsS{auth_flag} {url}"
    kind, rest = match.group("kind"), match.group("rest")
    accept = _header(exchange, "Accept") if kind in ("manifests", "referrers") else None
    flags = auth_flag + (f" -H {_quote('Accept: ' + accept)}" if accept else "")
    if exchange.method == "HEAD":
        return f"curl -fsSI{flags} {url}"
    if kind in ("tags", "referrers"):
        return f"curl -fsS{flags} {url} | jq ."
    wanted = _header(exchange, "Range")
    name = _file_name(match.group("repo"), kind, rest)
    if wanted:
        span = wanted.removeprefix("bytes=")
        return f"curl -fsSL{flags} -r {span} {url} -o {name}.part && wc -c {name}.part"
    return f"curl -fsSL{flags} {url} -o {name} && sha256sum {name}"


def curl_commands(exchanges: Iterable[Exchange], session: Session | None = None) -> list[str]:
    """The curl lines that repeat ``exchanges`` in order, each once.

    A request that carries a Bearer token whose token request is not among ``exchanges``
    (the token was cached earlier) gets a token line first, built from the challenge
    ``session``'s client remembers for that registry, when there is one.
    """
    items = list(exchanges)
    hops = {e.response_headers.get("Location") for e in items if e.status in _REDIRECTS}
    lines: list[str] = []
    have_token = False
    for exchange in items:
        if exchange.url in hops and exchange.purpose == "blob":
            continue  # curl -L follows the redirect itself
        if exchange.purpose == "token":
            have_token = exchange.status == 200
        elif _scheme(exchange) == "bearer" and not have_token and exchange.status != 401:
            line = _token_for(exchange, session)
            if line is not None:
                lines.append(line)
                have_token = True
        line = curl_for(exchange)
        if line is not None and line not in lines:
            lines.append(line)
    return lines


def _token_for(exchange: Exchange, session: Session | None) -> str | None:
    """A token line for ``exchange``'s repository from the challenge ``session`` remembers."""
    match = _V2.search(urlsplit(exchange.url).path)
    if session is None or match is None:
        return None
    parts = urlsplit(exchange.url)
    found = session.client.challenges.get(f"{parts.scheme}://{parts.netloc}")
    challenge = next((c for c in found if c.scheme == "bearer"), None)
    if challenge is None or challenge.realm is None:
        return None
    request = auth.TokenRequest.from_challenge(challenge, [Scope.repository(match.group("repo"))])
    login = session.client.credentials_for(parts.netloc, match.group("repo")) is not None
    return _token_line(request.url(), login)


def trace_commands(exchanges: Iterable[Exchange], session: Session | None = None) -> Table:
    """:func:`~ociinspect.tables.trace_frame` of ``exchanges`` plus ``curl`` (string; <NA>
    where curl needs no line of its own: 401s, redirect hops, retries)."""
    items = list(exchanges)
    frame = trace_frame(items)
    hops = {e.response_headers.get("Location") for e in items if e.status in _REDIRECTS}
    seen: set[str] = set()
    column: list[str | None] = []
    for exchange in items:
        line = None if exchange.url in hops and exchange.purpose == "blob" else curl_for(exchange)
        column.append(line if line is not None and line not in seen else None)
        seen.update([line] if line else [])
    frame["curl"] = column
    frame["curl"] = frame["curl"].astype(STRING)
    return frame


# --------------------------------------------------------------------------- other tools


def tool_commands(
    ref: str,
    *,
    platform: str | None = None,
    layer: str | None = None,
    compression: str | None = "gzip",
    login: bool = False,
) -> dict[str, list[str]]:
    """``crane``, ``skopeo``, ``regctl`` and ``oras`` lines for registry reference ``ref``:
    the raw manifest, the platform's manifest and config, the tags, the referrers and (given
    a ``layer`` digest, compressed with ``compression``) that layer's listing. ``login`` adds
    each tool's way of using ``$REGISTRY_USER``/``$REGISTRY_PASSWORD``; plain-http registries
    (loopback) get each tool's flag for it."""
    parsed = parse(ref.removeprefix("docker://"))
    full, repo, host = str(parsed), parsed.name, parsed.registry
    plain = is_loopback(parsed.api_host)
    os_, _, arch_variant = (platform or "").partition("/")
    arch, _, variant = arch_variant.partition("/")
    q = shlex.quote
    untar = {"gzip": "tar -tvz", "zstd": "zstd -dc | tar -tv"}.get(compression or "", "tar -tv")
    crane_flags = " --insecure" if plain else ""
    crane = [f'crane auth login {host} -u "${USER_VARIABLE}" -p "${PASSWORD_VARIABLE}"'] * login
    crane += [f"crane manifest{crane_flags} {q(full)}"]
    if platform:
        crane += [
            f"crane manifest{crane_flags} --platform {platform} {q(full)}",
            f"crane config{crane_flags} --platform {platform} {q(full)}",
        ]
    crane += [f"crane ls{crane_flags} {q(repo)}"]
    if layer:
        crane += [f"crane blob{crane_flags} {q(f'{repo}@{layer}')} | {untar}"]
    tls = " --tls-verify=false" if plain else ""
    creds = f' --creds "${USER_VARIABLE}:${PASSWORD_VARIABLE}"' if login else ""
    override = "".join(
        f" --override-{k} {v}" for k, v in (("os", os_), ("arch", arch), ("variant", variant)) if v
    )
    skopeo = [
        f"skopeo inspect --raw{tls}{creds} {q('docker://' + full)}",
        f"skopeo inspect{tls}{creds}{override} {q('docker://' + full)}",
        f"skopeo inspect --config{tls}{creds}{override} {q('docker://' + full)}",
        f"skopeo list-tags{tls}{creds} {q('docker://' + repo)}",
    ]
    regctl = [f"regctl registry set --tls disabled {host}"] * plain
    regctl += [
        f'regctl registry login {host} -u "${USER_VARIABLE}" -p "${PASSWORD_VARIABLE}"'
    ] * login
    regctl += [f"regctl manifest get {q(full)} --format raw-body"]
    if platform:
        regctl += [
            f"regctl manifest get {q(full)} --platform {platform}",
            f"regctl image config {q(full)} --platform {platform}",
        ]
    regctl += [f"regctl tag ls {q(repo)}", f"regctl artifact tree {q(full)}"]
    oras_flags = " --plain-http" * plain + (
        f' -u "${USER_VARIABLE}" -p "${PASSWORD_VARIABLE}"' if login else ""
    )
    oras = [f"oras manifest fetch{oras_flags} {q(full)}"]
    if platform:
        oras += [f"oras manifest fetch{oras_flags} --platform {platform} {q(full)}"]
    oras += [f"oras repo tags{oras_flags} {q(repo)}", f"oras discover{oras_flags} {q(full)}"]
    if layer:
        oras += [f"oras blob fetch{oras_flags} --output - {q(f'{repo}@{layer}')} | {untar}"]
    return {"crane": crane, "skopeo": skopeo, "regctl": regctl, "oras": oras}


def print_commands(lines: Sequence[str] | dict[str, list[str]]) -> None:
    """Print curl lines, or each tool's lines under its name."""
    if isinstance(lines, dict):
        for tool, tool_lines in lines.items():
            print(f"# {tool}")
            print("\n".join(tool_lines))
    else:
        print("\n".join(lines))


__all__ = [
    "LOGIN",
    "PASSWORD_VARIABLE",
    "USER_VARIABLE",
    "curl_commands",
    "curl_for",
    "print_commands",
    "tool_commands",
    "trace_commands",
]
