"""Property-based tests: whatever a hostile peer sends, parsers answer a value or their error.

Complements the properties already in test_reference.py (reference parsers), test_digest.py
(Digest.parse), test_auth.py (WWW-Authenticate parsing) and test_models.py (parse_document over
bytes and over document-like objects). Here: any JSON *value*, valid conformance documents with a
random part replaced, ManifestInfo, token answers, challenge -> token request, Retry-After,
redaction and scrubbing of echoed secrets, the registry's header helpers, layer listings of
arbitrary or damaged blobs, streamed digest verification and token scopes.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import urllib3
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ociinspect.distribution import auth
from ociinspect.distribution import client as registry
from ociinspect.distribution import protocol as distribution
from ociinspect.distribution.challenge import Challenge, challenge_problem, parse_www_authenticate
from ociinspect.distribution.retry import RetryPolicy, parse_retry_after
from ociinspect.distribution.scope import Scope, merge_scopes, parse_scopes
from ociinspect.distribution.trace import REDACTED, Exchange, redact_url
from ociinspect.distribution.transport import Request, Response, _RequestsResponse
from ociinspect.errors import (
    ArchiveError,
    DigestMismatchError,
    InvalidDocumentError,
    InvalidReferenceError,
    SizeLimitError,
    SizeMismatchError,
    TokenError,
)
from ociinspect.layers import contents
from ociinspect.testing import build
from ociinspect.values import mediatypes
from ociinspect.values.digest import Digest, sha256
from ociinspect.values.models import Index, Manifest, ManifestInfo, parse_document
from ociinspect.values.streams import verified

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DATA = Path(__file__).resolve().parent.parent / "data" / "manifests"
_DOCS = json.loads((DATA / "index.json").read_text())["documents"]
VALID_DOCUMENTS = [
    (DATA / d["file"]).read_bytes()
    for d in _DOCS
    if d.get("expected_valid") is True
    and d["kind"] in ("image-manifest", "image-index", "docker-manifest", "docker-manifest-list")
]
MEDIA_TYPES = st.sampled_from(
    [None, "application/json", "text/plain", "application/vnd.example+json",
     mediatypes.DOCKER_MANIFEST_V1_SIGNED, *sorted(mediatypes.MANIFEST_ACCEPT)]
)
JSON_SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=25,
)
VISIBLE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=12,
                  max_size=40)


def test_there_are_valid_documents_to_mutate() -> None:
    """The mutation strategy below has a corpus: every valid manifest kind is present."""
    assert len(VALID_DOCUMENTS) >= 40


@FAST
@given(value=JSON, media_type=MEDIA_TYPES)
def test_any_json_value_gives_a_document_or_invalid_document(
    value: Any, media_type: str | None
) -> None:
    """parse_document and ManifestInfo.from_bytes on any JSON value (arrays, strings, numbers,
    nested objects): a model, or InvalidDocumentError; never another exception."""
    raw = json.dumps(value).encode()
    try:
        doc = parse_document(raw, media_type)
    except InvalidDocumentError:
        pass
    else:
        assert isinstance(doc, Index | Manifest) and doc.raw == raw
    try:
        info = ManifestInfo.from_bytes(raw, sha256(raw), media_type)
    except InvalidDocumentError:
        assert not isinstance(value, dict)
    else:
        assert isinstance(value, dict) and info.json == value and info.raw == raw


def _replace_at(doc: Any, path: list[int], value: Any) -> Any:
    """``doc`` with the node reached by ``path`` (indexes modulo the children) replaced."""
    if not path or not isinstance(doc, dict | list) or not doc:
        return value
    if isinstance(doc, dict):
        key = sorted(doc)[path[0] % len(doc)]
        return {**doc, key: _replace_at(doc[key], path[1:], value)}
    i = path[0] % len(doc)
    return [*doc[:i], _replace_at(doc[i], path[1:], value), *doc[i + 1 :]]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    original=st.sampled_from(VALID_DOCUMENTS),
    path=st.lists(st.integers(0, 50), max_size=5),
    value=JSON,
    media_type=MEDIA_TYPES,
)
def test_valid_documents_with_one_part_replaced_parse_or_are_refused(
    original: bytes, path: list[int], value: Any, media_type: str | None
) -> None:
    """A real manifest or index with any one node swapped for any JSON: a model whose digest is
    the bytes' own, or InvalidDocumentError naming what is wrong."""
    raw = json.dumps(_replace_at(json.loads(original), path, value)).encode()
    try:
        doc = parse_document(raw, media_type)
    except InvalidDocumentError as exc:
        assert exc.reason
    else:
        assert doc.digest == sha256(raw)


@FAST
@given(raw=st.binary(max_size=300))
def test_manifest_info_from_any_bytes(raw: bytes) -> None:
    """Arbitrary bytes: a ManifestInfo of a JSON object, or InvalidDocumentError."""
    try:
        info = ManifestInfo.from_bytes(raw, sha256(raw))
    except InvalidDocumentError:
        return
    assert isinstance(info.json, dict) and info.raw == raw


TOKEN_BODIES = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda v: json.dumps(v).encode(), JSON),
    st.builds(
        lambda token, expires, issued: json.dumps(
            {"token": token, "expires_in": expires, "issued_at": issued}).encode(),
        JSON_SCALARS, JSON_SCALARS, JSON_SCALARS,
    ),
)


@FAST
@given(body=TOKEN_BODIES, now=st.floats(0, 1e9))
def test_any_token_answer_gives_a_token_or_token_error(body: bytes, now: float) -> None:
    """A token endpoint's body: a usable Token (visible ASCII, finite expiry at least 60 s
    ahead) or TokenError; never another exception."""
    try:
        token = auth.parse_token_response(body, now)
    except TokenError as exc:
        assert exc.reason
        return
    assert token.value and all("!" <= c <= "~" for c in token.value)
    assert math.isfinite(token.expires_at) and token.expires_at >= now


@FAST
@given(secret=VISIBLE, expires=JSON_SCALARS, extra=st.dictionaries(st.text(max_size=8), JSON,
                                                                     max_size=3))
def test_a_refused_token_answer_never_quotes_the_token(
    secret: str, expires: Any, extra: dict[str, Any]
) -> None:
    """When a body holding a token is refused (bad expires_in, say), the error does not show it."""
    body = json.dumps({**extra, "access_token": secret, "expires_in": expires}).encode()
    try:
        auth.parse_token_response(body, 0.0)
    except TokenError as exc:
        assert secret not in str(exc)


def test_a_token_answer_over_1_mib_is_a_size_limit_error() -> None:
    """The size rule holds whatever the body holds."""
    with pytest.raises(SizeLimitError):
        auth.parse_token_response(b" " * (auth.MAX_TOKEN_RESPONSE_BYTES + 1), 0.0)


REALMS = st.builds(
    lambda scheme, host, port, path: f"{scheme}{host}{port}{path}",
    st.sampled_from(["http://", "https://", "HTTPS://", "ftp://", "", "//"]),
    st.sampled_from(["127.0.0.1", "[::1]", "[::1", "::1]", "auth.example", "", "a b", "ü.example"]),
    st.one_of(st.just(""), st.builds(lambda p: f":{p}", st.integers(-5, 100_000)),
              st.text(alphabet=":0123456789x", max_size=8)),
    st.text(max_size=10),
)


@FAST
@given(realm=REALMS, service=st.text(max_size=10), scope=st.text(max_size=30))
def test_any_realm_gives_a_problem_or_a_usable_token_request(
    realm: str, service: str, scope: str
) -> None:
    """challenge_problem objects to a realm, or the token request built from it has an http(s)
    URL whose host and port parse: nothing later can fail on it with ValueError."""
    header = str(Challenge("bearer", {"realm": realm, "service": service, "scope": scope}))
    (challenge,) = parse_www_authenticate(header)
    problem = challenge_problem(challenge)
    if problem is not None:
        with pytest.raises(ValueError):
            auth.TokenRequest.from_challenge(challenge)
        return
    request = auth.TokenRequest.from_challenge(challenge, [Scope.repository("a/b")], "u")
    parts = urlsplit(request.realm)
    assert parts.scheme.lower() in ("http", "https") and parts.hostname
    assert parts.port is None or 0 <= parts.port <= 65535
    assert request.key("u").realm == request.realm


@FAST
@given(value=st.one_of(st.none(), st.text(max_size=40),
                       st.from_regex(r"\s*[0-9\u00b2\u0660-\u0669]{1,30}\s*", fullmatch=True)))
def test_any_retry_after_gives_a_bounded_wait(value: str | None) -> None:
    """Retry-After of any text: None or a finite wait >= 0; the policy's wait never exceeds
    its caps."""
    seconds = parse_retry_after(value)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)
    policy = RetryPolicy()
    for attempt in (1, 3, 50):
        wait = policy.delay(attempt, value)
        assert 0 <= wait <= max(policy.max_retry_after, policy.max_backoff)


#: base64 / JWT / opaque-token characters (no "/": a user-info password would need escaping).
SECRET = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+=",
                 min_size=12, max_size=40)


@FAST
@given(secret=SECRET, user=st.text(alphabet="abcdefgh", min_size=1, max_size=8),
       path=st.text(alphabet="abcxyz019/-_.%", max_size=20),
       safe=st.sampled_from(["n", "scope", "service"]),
       key=st.sampled_from(["X-Amz-Signature", "sig", "token", "access_token", "Signature"]))
def test_redacted_urls_never_hold_userinfo_or_signatures(
    secret: str, user: str, path: str, safe: str, key: str
) -> None:
    """Passwords in user-info and values of unknown query parameters never survive redact_url;
    harmless parameters do. Any text at all is redacted without raising."""
    assume(secret not in path)
    url = f"https://{user}:{secret}@cdn.example/{path}?{key}={secret}&{safe}=10"
    shown = redact_url(url)
    assert secret not in shown.replace(REDACTED, "")
    assert f"{safe}=10" in shown
    assert isinstance(redact_url(path + secret), str)


@FAST
@given(secret=SECRET, scheme=st.sampled_from(["Bearer", "Basic", "bearer", ""]),
       header=st.sampled_from(["WWW-Authenticate", "X-Echo", "Location", "Set-Cookie"]),
       before=st.text(max_size=10), after=st.text(max_size=10))
def test_exchanges_scrub_credentials_echoed_in_response_headers(
    secret: str, scheme: str, header: str, before: str, after: str
) -> None:
    """An exchange holds no credential it sent, even when the answer repeats it in a header."""
    sent = f"{scheme} {secret}".strip()
    echoed = f"{before}{sent}{after}"
    exchange = Exchange.record("GET", "http://r/v2/", 401, "manifest", 0.1, 0,
                               {"Authorization": sent}, {header: echoed})
    shown = repr(dict(exchange.request_headers)) + repr(dict(exchange.response_headers))
    assume(secret not in before + after + REDACTED)
    assert secret not in shown


def _answer(body: bytes, authorization: str) -> Response:
    """An answer as the transport hands it to the client: unread raw body, the request it
    answered (the requests adapter's own wrapper)."""
    resp = requests.Response()
    resp.status_code = 403
    resp.raw = urllib3.HTTPResponse(body=io.BytesIO(body), status=403, preload_content=False,
                                    decode_content=False)
    request = Request("GET", "http://r/v2/a/manifests/x", {"Authorization": authorization})
    return _RequestsResponse(resp, request)


@FAST
@given(secret=SECRET, shape=JSON, where=st.sampled_from(["code", "message", "detail", "key"]),
       basic=st.booleans())
def test_error_bodies_echoing_the_credentials_are_scrubbed(
    secret: str, shape: Any, where: str, basic: bool
) -> None:
    """However an error body nests the Authorization it received, the parsed details hold
    neither it nor (for Basic) the decoded password."""
    import base64

    password = secret
    token = base64.b64encode(f"alice:{password}".encode()).decode() if basic else secret
    authorization = f"{'Basic' if basic else 'Bearer'} {token}"
    leak = {"code": "X", "message": "m", "detail": shape}
    leak[where if where != "key" else "detail"] = (
        {authorization: shape, "p": [password]} if where in ("detail", "key") else authorization
    )
    body = json.dumps({"errors": [leak]}).encode()
    details = registry._error_details(_answer(body, authorization))  # noqa: SLF001
    assert len(details) == 1
    shown = " ".join(str(d) + repr(d) for d in details)
    assume(password not in json.dumps(shape) and password not in REDACTED)
    assert token not in shown and password not in shown


@FAST
@given(text=st.one_of(st.text(max_size=60), st.from_regex(r"<[^>]*>\s*;\s*rel=\"?next\"?.*")))
def test_registry_header_helpers_never_crash(text: str) -> None:
    """Content-Length, Link and reference helpers: a value, None, or InvalidReferenceError."""
    length = distribution.content_length(text)
    assert length is None or (isinstance(length, int) and 0 <= length < 10**19)
    link = distribution.next_link(text)
    assert link is None or isinstance(link, str)
    try:
        distribution.check_reference(text)
    except InvalidReferenceError as exc:
        assert exc.reason


_LAYER = build.tar([build.directory("d"), build.file("d/f", b"x" * 700),
                    build.symlink("d/l", "../../etc/passwd")])
LIMITS = contents.Limits(max_uncompressed=1 << 20, max_entries=50, max_pax_header=4096)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    compression=st.sampled_from(["gzip", "zstd", "none"]),
    damage=st.one_of(
        st.binary(max_size=400).map(lambda b: ("random", b)),
        st.tuples(st.just("cut"), st.integers(0, 4000)),
        st.tuples(st.just("flip"), st.integers(0, 4000)),
        st.tuples(st.just("append"), st.binary(min_size=1, max_size=64)),
    ),
    chunk=st.integers(1, 700),
)
def test_any_damaged_layer_lists_or_raises_archive_errors(
    compression: str, damage: tuple[str, Any], chunk: int
) -> None:
    """A layer blob that is random, cut, bit-flipped or has bytes appended lists its entries or
    raises ArchiveError / SizeLimitError; never tarfile's, zlib's or zstd's own exceptions."""
    blob = build.compress(_LAYER, compression)  # type: ignore[arg-type]
    kind, arg = damage
    if kind == "random":
        blob = arg
    elif kind == "cut":
        blob = blob[: arg % (len(blob) + 1)]
    elif kind == "flip":
        i = arg % len(blob)
        blob = blob[:i] + bytes([blob[i] ^ 0x5A]) + blob[i + 1 :]
    else:
        blob = blob + arg
    pieces = [blob[i : i + chunk] for i in range(0, len(blob), chunk)]
    try:
        entries = list(contents.iter_entries(pieces, compression, limits=LIMITS))
    except (ArchiveError, SizeLimitError):
        return
    assert all(isinstance(e, contents.TarEntry) for e in entries)


@FAST
@given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(0, 2000), max_size=6),
       flip=st.integers(0, 2000))
def test_streamed_verification_is_independent_of_chunking(
    data: bytes, cuts: list[int], flip: int
) -> None:
    """Any chunking verifies the right bytes; one flipped byte or one byte more or less never
    verifies."""
    digest = Digest.of(data)
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    assert b"".join(verified(chunks, digest.verifier("blob", len(data)))) == data
    if data:
        i = flip % len(data)
        bad = data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]
        with pytest.raises(DigestMismatchError):
            digest.verify(bad, "blob")
        with pytest.raises(SizeMismatchError):
            digest.verify(data[:-1], "blob", len(data))
    with pytest.raises((SizeMismatchError, DigestMismatchError)):
        digest.verify(data + b"!", "blob", len(data))


@FAST
@given(text=st.text(max_size=60))
def test_any_scope_text_parses_or_raises_value_error(text: str) -> None:
    """Scope.parse gives a Scope that prints back to itself, or ValueError; parse_scopes and
    merge_scopes never raise."""
    try:
        scope = Scope.parse(text)
    except ValueError:
        pass
    else:
        assert Scope.parse(str(scope)) == scope
    merged = merge_scopes(*parse_scopes(text))
    assert merge_scopes(*merged) == merged
