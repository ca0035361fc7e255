"""The registry client's rules without I/O: redirect hops, failed answers, referrers, streams.

Each of these is also exercised end to end against the registry rig (test_registry.py and the
hostile suite); here the rules are stepped by hand, one case at a time.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from ociinspect.distribution import protocol as distribution
from ociinspect.distribution.error_codes import answer_error, error_details
from ociinspect.distribution.redirects import next_hop
from ociinspect.errors import (
    DeniedError,
    InsecureRedirectError,
    NotFoundError,
    RateLimitedError,
    RedirectError,
    RegistryError,
    RegistryErrorDetail,
    ServerError,
    SizeLimitError,
    SizeMismatchError,
    UnauthorizedError,
)
from ociinspect.values.digest import Digest
from ociinspect.values.models import oci_index
from ociinspect.values.streams import verified


@pytest.mark.parametrize(
    ("method", "status", "location", "body", "url", "then", "keeps_body", "moved"),
    [
        ("GET", 307, "http://127.0.0.2:9/b", False, "http://127.0.0.2:9/b", "GET", False, True),
        ("GET", 302, "/v2/x", False, "http://r:5000/v2/x", "GET", False, False),
        ("POST", 303, "/t", True, "http://r:5000/t", "GET", False, False),
        ("POST", 302, "http://other/t", True, "http://other/t", "GET", False, True),
        ("POST", 307, "/t", True, "http://r:5000/t", "POST", True, False),
    ],
    ids=[
        "a GET to a CDN moves to another origin",
        "a relative Location stays on the registry",
        "303 turns a POST into a GET without its body",
        "302 after POST may move away because the body stays behind",
        "307 keeps the method and the body on the same origin",
    ],
)
def test_a_redirect_hop(
    method: str,
    status: int,
    location: str,
    body: bool,
    url: str,
    then: str,
    keeps_body: bool,
    moved: bool,
) -> None:
    """next_hop resolves the Location, rewrites the method as RFC 9110 says, flags a move."""
    hop = next_hop(method, "http://r:5000/v2/a", status, location, body)
    assert (hop.url, hop.method, hop.keeps_body, hop.moved) == (url, then, keeps_body, moved)


@pytest.mark.parametrize(
    ("method", "here", "location", "body", "error"),
    [
        ("GET", "https://r/v2/a", "http://r/v2/a", False, InsecureRedirectError),
        ("POST", "http://r/t", "http://other/t", True, RedirectError),
        ("GET", "http://r/v2/a", "file:///etc/passwd", False, RedirectError),
        ("GET", "http://r/v2/a", "http://[::1/x", False, RedirectError),
    ],
    ids=[
        "https never goes down to http",
        "a body is never re-sent to another origin",
        "a file URL is not followed",
        "a broken IPv6 literal is unusable",
    ],
)
def test_a_refused_redirect_hop(
    method: str, here: str, location: str, body: bool, error: type[Exception]
) -> None:
    """next_hop raises the redirect error that names why the hop is refused."""
    with pytest.raises(error):
        next_hop(method, here, 307, location, body)


def _detail(code: str) -> RegistryErrorDetail:
    return RegistryErrorDetail(code, "m", None)


@pytest.mark.parametrize(
    ("status", "codes", "refusal", "error"),
    [
        (404, (), None, NotFoundError),
        (400, ("NAME_UNKNOWN",), None, NotFoundError),
        (401, (), "insufficient_scope", DeniedError),
        (401, (), "invalid_token", UnauthorizedError),
        (403, (), None, DeniedError),
        (400, ("TOOMANYREQUESTS",), None, RateLimitedError),
        (503, (), None, ServerError),
        (418, (), None, RegistryError),
    ],
    ids=[
        "404 is not found",
        "a NAME_UNKNOWN code is not found whatever the status",
        "insufficient_scope is a denial",
        "invalid_token is unauthorised",
        "403 is a denial",
        "a TOOMANYREQUESTS code is rate limiting",
        "5xx is a server error",
        "anything else is a plain registry error",
    ],
)
def test_a_failed_answer_becomes_its_typed_error(
    status: int, codes: tuple[str, ...], refusal: str | None, error: type[Exception]
) -> None:
    """answer_error classifies status, spec error codes and the Bearer refusal."""
    details = tuple(_detail(c) for c in codes)
    found = answer_error("GET", "http://r/v2/a/manifests/x", status, details, "manifest", refusal)
    assert type(found) is error


def test_error_details_scrub_before_they_shorten() -> None:
    """A secret echoed in a long detail is replaced whole, never cut in half."""
    secret = "s3cr3t-" * 10
    body = json.dumps({"errors": [{"code": "DENIED", "detail": "x" * 470 + secret}]}).encode()
    (detail,) = error_details(body, [secret])
    assert detail.code == "DENIED" and "s3cr3t" not in str(detail.detail)


def test_referrers_are_filtered_unless_the_registry_says_it_did() -> None:
    """filter_referrers keeps one artifact type, and trusts OCI-Filters-Applied."""
    entries = [{"artifactType": "a/sig"}, {"artifactType": "a/sbom"}]
    raw = json.dumps({"schemaVersion": 2, "manifests": entries}).encode()
    info = distribution.manifest_info(raw, str(Digest.of(raw)), None, "referrers")
    kept = distribution.filter_referrers(info, "a/sig")
    assert [m["artifactType"] for m in kept.json["manifests"]] == ["a/sig"]
    assert distribution.filter_referrers(info, "a/sig", "artifactType") is info
    assert oci_index().json["manifests"] == []


def test_the_empty_index_has_one_digest_wherever_it_is_made(tmp_path: Path) -> None:
    """The empty referrers answer of a registry, a layout and an archive is one document: the
    same bytes, the same digest (one canonical serialisation)."""
    from ociinspect.sources.layout import LayoutSource
    from ociinspect.testing import build

    build.write_layout(tmp_path / "layout", build.image([build.layer([])]), tags=["v1"])
    layout = LayoutSource(tmp_path / "layout", "v1").referrers(Digest.of(b"nothing refers"))
    assert layout.digest == oci_index().digest and layout.raw == oci_index().raw
    expected = b'{"manifests":[],"mediaType":"application/vnd.oci.image.index.v1+json",'
    assert oci_index().raw == expected + b'"schemaVersion":2}'


@pytest.mark.parametrize("ahead", [False, True], ids=["hashed inline", "hashed in a thread"])
def test_a_verified_stream_refuses_a_body_past_its_size(ahead: bool) -> None:
    """verified raises before yielding a chunk past the descriptor's size."""
    digest = Digest.of(b"abc")
    stream = verified([b"ab", b"cd"], digest.verifier("blob", 3), ahead=ahead)
    assert next(stream) == b"ab"
    with pytest.raises(SizeMismatchError):
        next(stream)


def test_a_verified_stream_stops_its_helper_thread_when_closed_early() -> None:
    """Closing a stream mid-way stops the hashing thread (no thread left behind)."""
    before = threading.active_count()
    stream = verified([b"a", b"b"], Digest.of(b"ab").verifier("blob"), ahead=True)
    next(stream)
    stream.close()
    assert threading.active_count() == before


def test_a_verified_stream_honours_max_size() -> None:
    """Past max_size the stream raises SizeLimitError, even without a descriptor size."""
    with pytest.raises(SizeLimitError):
        list(verified([b"abc", b"def"], Digest.of(b"abcdef").verifier("blob"), max_size=4))


def test_referrers_tag_of_a_sha512_subject_is_a_valid_tag() -> None:
    """The fallback tag truncates to <alg[:32]>-<hex[:64]> (Referrers Tag Schema)."""
    from ociinspect.values.digest import Digest
    from ociinspect.values.reference import TAG_RE

    d512 = Digest.of(b"x", "sha512")
    tag = distribution.referrers_tag(d512)
    assert tag == f"sha512-{d512.encoded[:64]}" and TAG_RE.fullmatch(tag)
    d256 = Digest.of(b"x")
    assert distribution.referrers_tag(d256) == f"sha256-{d256.encoded}"
