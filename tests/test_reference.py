"""Reference parsing, judged by the upstream test suites' own cases (tests/data/references.json).

Every case runs, dispatched on its ``api``. ociinspect follows distribution/reference (what the
Docker CLI does). Where an expectation is deliberately not met, the case is listed in
``DIVERGENCES`` with the reason, and its test asserts the compatible part instead.
"""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ociinspect.errors import InvalidReferenceError
from ociinspect.values.digest import Digest
from ociinspect.values.reference import (
    DIGEST_RE,
    DOMAIN_RE,
    IDENTIFIER_RE,
    NAME_RE,
    REFERENCE_RE,
    Reference,
    default_scheme,
    familiar_match,
    is_rfc1918,
    normalize_registry,
    parse,
    parse_any,
    parse_docker_ref,
    parse_named,
    parse_normalized_named,
    parse_raw,
    with_name,
)

DATA = json.loads((Path(__file__).parent / "data" / "references.json").read_text())
CASES: list[dict[str, Any]] = DATA["cases"]

_SHA512_ONLY_UNLINKED = (
    "upstream's test binary did not link sha512 (go-digest v1.0.0), so Parse said 'unsupported'; "
    "ociinspect verifies sha512 and the case's note says a library that does may accept it"
)
_WITH_DIGEST_LENGTH = (
    "distribution's WithDigest checks only the reference grammar, so a 35-hex sha256 digest "
    "passes; ociinspect validates every digest fully (a truncated digest can never match "
    "content), so with_digest refuses it; the name:tag@digest ordering is still asserted"
)
_NO_DEFAULT_REGISTRY_OPTION = (
    "go-containerregistry's WithDefaultRegistry/WithDefaultTag options have no Docker CLI "
    "equivalent; ociinspect always defaults to docker.io and 'latest' (distribution's "
    "normalisation). Writing the registry and tag explicitly gives ggcr's answer"
)
_INDEX_DOCKER_IO = (
    "go-containerregistry writes Docker Hub as index.docker.io; distribution (the Docker CLI) "
    "canonicalises it to docker.io. Both name the same registry after canonicalisation"
)
_STRICT_VALIDATION = (
    "go-containerregistry's StrictValidation refuses Docker Hub names without 'library/'; "
    "distribution normalises index.docker.io/foo to docker.io/library/foo"
)

#: Case id -> why ociinspect deliberately does not meet that case's expectation.
DIVERGENCES: dict[str, str] = {
    "ref-0014": _SHA512_ONLY_UNLINKED,
    "ref-0069": _WITH_DIGEST_LENGTH,
    "ref-0070": _WITH_DIGEST_LENGTH,
    "ref-0072": _WITH_DIGEST_LENGTH,
    "ref-0073": _WITH_DIGEST_LENGTH,
    "ref-0386": _NO_DEFAULT_REGISTRY_OPTION,
    "ref-0388": _NO_DEFAULT_REGISTRY_OPTION,
    "ref-0396": _INDEX_DOCKER_IO,
    "ref-0407": _STRICT_VALIDATION,
    "ref-0416": _INDEX_DOCKER_IO + "; an empty registry means Docker Hub in both",
    "ref-0417": _INDEX_DOCKER_IO,
    "ref-0418": _INDEX_DOCKER_IO,
    "ref-0419": _NO_DEFAULT_REGISTRY_OPTION,
}
#: registry_scheme_cases: go-containerregistry uses http for RFC 1918 addresses; ociinspect
#: only for loopback, so credentials and content never cross a network in clear text.
RFC1918_SCHEME_DIVERGENCE = "RFC 1918 hosts get https (ggcr: http)"

#: Sentinel error kind -> the phrase ociinspect's reason carries for it.
KIND_PHRASES = {
    "name_empty": "repository name must have at least one component",
    "invalid_format": "invalid reference format",
    "name_contains_uppercase": "repository name must be lowercase",
    "name_too_long": "repository name must not be more than 255 characters",
    "name_not_canonical": "repository name must be canonical",
    "tag_invalid_format": "invalid tag format",
    "digest_invalid_length": "needs 64 hex characters",
    "digest_unsupported": "unsupported algorithm",
}

FAMILIES: dict[str, str] = {
    "reference.Parse": "Parse",
    "reference.Field (json) -> Parse": "Parse",
    "reference.WithName": "WithName",
    "reference.WithName + WithTag/WithDigest": "WithName+WithTag/WithDigest",
    "reference.ParseNamed": "ParseNamed",
    "reference.ParseNormalizedNamed": "ParseNormalizedNamed",
    'reference.WithTag(ParseNormalizedNamed("busybox"), tag)': "WithTag",
    'reference.WithDigest(ParseNormalizedNamed("busybox"), digest)': "WithDigest",
    "reference.ParseAnyReference": "ParseAnyReference",
    "reference.ParseDockerRef": "ParseDockerRef",
    "reference.FamiliarMatch(pattern, ParseAnyReference(ref))": "FamiliarMatch",
    "regexp ^domainAndPort$": "grammar",
    "regexp ^(?:(domainAndPort)/)?(remoteName)$": "grammar",
    "regexp ^(name)(?::(tag))?(?:@(digest))?$": "grammar",
    "regexp ^[a-f0-9]{64}$": "grammar",
    "name.NewTag / name.ParseReference": "ggcr reference",
    "name.NewDigest / name.ParseReference": "ggcr reference",
    "name.NewDigest": "ggcr reference",
    "name.ParseReference": "ggcr reference",
    'name.ParseReference(WithDefaultRegistry("registry.upbound.io"), WithDefaultTag("stable"))': (
        "ggcr default registry"
    ),
    "name.NewRepository": "ggcr repository",
    "name.NewRegistry": "ggcr registry",
    'name.NewRegistry(WithDefaultRegistry("gcr.io"))': "ggcr registry",
}

GRAMMAR = {
    "regexp ^domainAndPort$": DOMAIN_RE,
    "regexp ^(?:(domainAndPort)/)?(remoteName)$": NAME_RE,
    "regexp ^(name)(?::(tag))?(?:@(digest))?$": REFERENCE_RE,
    "regexp ^[a-f0-9]{64}$": IDENTIFIER_RE,
}


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_show(v)}" for k, v in value.items() if v is not None)
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}...({len(value)} chars)"


def _case_id(case: dict[str, Any]) -> str:
    verb = "accepts" if case["valid"] else "rejects"
    marker = " (deliberate divergence)" if case["id"] in DIVERGENCES else ""
    api = FAMILIES.get(case["api"], case["api"])
    return f"{case['id']} {api} {verb} {_show(case['input'])}{marker}"


def _cases(*families: str) -> Any:
    chosen = [c for c in CASES if FAMILIES.get(c["api"]) in families]
    return pytest.mark.parametrize("case", chosen, ids=[_case_id(c) for c in chosen])


def _assert_rejected(call: Any, error: dict[str, Any], text: str | None) -> InvalidReferenceError:
    with pytest.raises(InvalidReferenceError) as info:
        call()
    if text is not None:
        assert info.value.reference == text
    phrase = KIND_PHRASES.get(error.get("kind", ""))
    if phrase is not None:
        assert phrase in info.value.reason
    return info.value


# --- the data itself ----------------------------------------------------------------------


def test_every_case_api_has_a_runner() -> None:
    """Each api named in references.json is dispatched to a test below (none silently dropped)."""
    assert {c["api"] for c in CASES} <= set(FAMILIES)
    assert len(CASES) == len({c["id"] for c in CASES})


def test_divergences_name_real_cases() -> None:
    """Every documented divergence points at a case that exists, with a reason."""
    ids = {c["id"] for c in CASES}
    assert set(DIVERGENCES) <= ids
    assert all(len(reason) > 40 for reason in DIVERGENCES.values())


# --- distribution/reference ---------------------------------------------------------------


@_cases("Parse")
def test_parse_raw_matches_distribution_parse(case: dict[str, Any]) -> None:
    """parse_raw splits name/tag/digest like Parse, without Docker Hub defaults."""
    text = case["input"]
    if case["id"] in DIVERGENCES:
        ref = parse_raw(text)
        assert ref.digest is not None and Digest.parse(ref.digest).algorithm == "sha512"
        assert str(ref) == text
        return
    if not case["valid"]:
        _assert_rejected(lambda: parse_raw(text), case["error"], text)
        return
    ref, expected = parse_raw(text), case["expected"]
    assert ref.name == expected["name"]
    assert ref.tag == expected["tag"]
    assert ref.digest == expected["digest"]
    if "domain" in expected:
        assert ref.registry == expected["domain"]
    if "string" in expected:
        assert str(ref) == expected["string"]


@_cases("WithName")
def test_with_name_matches_distribution(case: dict[str, Any]) -> None:
    """with_name accepts a bare name, splits domain and path, and refuses anything else."""
    text = case["input"]
    if not case["valid"]:
        _assert_rejected(lambda: with_name(text), case["error"], text)
        return
    ref = with_name(text)
    assert (ref.registry, ref.repository) == (case["expected"]["domain"], case["expected"]["path"])
    assert ref.tag is None and ref.digest is None


@_cases("WithName+WithTag/WithDigest")
def test_composed_reference_formats_name_tag_digest(case: dict[str, Any]) -> None:
    """with_name + with_tag + with_digest print as name[:tag][@digest]."""
    given_, expected = case["input"], case["expected"]["string"]
    ref = with_name(given_["name"])
    if given_["tag"] is not None:
        ref = ref.with_tag(given_["tag"])
    digest = given_["digest"]
    if case["id"] in DIVERGENCES:
        with pytest.raises(InvalidReferenceError, match="needs 64 hex characters"):
            ref.with_digest(digest)
        head = expected.split("@")[0]
        assert str(ref) == head
        full = digest + "0" * (71 - len(digest))  # the same digest at its real length
        assert str(ref.with_digest(full)) == f"{head}@{full}"
        return
    if digest is not None:
        ref = ref.with_digest(digest)
    assert str(ref) == expected


@_cases("ParseNamed")
def test_parse_named_requires_canonical_text(case: dict[str, Any]) -> None:
    """parse_named accepts only what is already fully qualified, like ParseNamed."""
    text = case["input"]
    if not case["valid"]:
        _assert_rejected(lambda: parse_named(text), case["error"], text)
        return
    ref = parse_named(text)
    assert (ref.registry, ref.repository) == (case["expected"]["domain"], case["expected"]["path"])


@_cases("ParseNormalizedNamed")
def test_parse_normalized_named_matches_docker_cli(case: dict[str, Any]) -> None:
    """parse_normalized_named applies Docker Hub defaults exactly as ParseNormalizedNamed."""
    text = case["input"]
    if not case["valid"]:
        _assert_rejected(lambda: parse_normalized_named(text), case["error"], text)
        return
    ref = parse_normalized_named(text)
    fields = {
        "domain": ref.registry,
        "path": ref.repository,
        "full_name": ref.name,
        "familiar_name": ref.familiar_name,
        "full_string": str(ref),
        "familiar_string": ref.familiar,
        "is_tagged": ref.tag is not None,
        "is_digested": ref.digest is not None,
    }
    expected = case.get("expected", {})
    assert set(expected) <= set(fields)
    assert {k: fields[k] for k in expected} == expected


@_cases("WithTag")
def test_with_tag_rejects_bad_tag(case: dict[str, Any]) -> None:
    """with_tag refuses a tag outside [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} (ErrTagInvalidFormat)."""
    base = parse_normalized_named(case["input"]["name"])
    assert not case["valid"]
    _assert_rejected(lambda: base.with_tag(case["input"]["tag"]), case["error"], None)


@_cases("WithDigest")
def test_with_digest_rejects_bad_digest(case: dict[str, Any]) -> None:
    """with_digest refuses text that is not a digest (ErrDigestInvalidFormat)."""
    base = parse_normalized_named(case["input"]["name"])
    assert not case["valid"]
    error = _assert_rejected(lambda: base.with_digest(case["input"]["digest"]), case["error"], None)
    assert error.reason.startswith("invalid digest format")


@_cases("ParseAnyReference")
def test_parse_any_tells_ids_and_digests_from_names(case: dict[str, Any]) -> None:
    """parse_any returns a Digest for an ID or alg:hex, else a normalised Reference."""
    result = parse_any(case["input"])
    expected = case["expected"]
    assert str(result) == expected["string"]
    wanted_type = Digest if expected["reference_type"] == "digest-only" else Reference
    assert isinstance(result, wanted_type)


@_cases("ParseDockerRef")
def test_parse_docker_ref_and_parse_agree_with_parse_docker_ref(case: dict[str, Any]) -> None:
    """parse_docker_ref is ParseDockerRef; parse differs only by keeping a tag beside a digest."""
    expected = case["expected"]["string"]
    assert str(parse_docker_ref(case["input"])) == expected
    ref = parse(case["input"])
    if ref.digest is not None:
        assert ref.identifier == ref.digest
        assert str(replace(ref, tag=None)) == expected
    else:
        assert str(ref) == expected
        assert ref.identifier == ref.tag


@_cases("FamiliarMatch")
def test_familiar_match_uses_go_path_match(case: dict[str, Any]) -> None:
    """familiar_match matches the familiar string, then the familiar name, as FamiliarMatch."""
    ref = parse_any(case["input"]["reference"])
    assert familiar_match(case["input"]["pattern"], ref) is case["expected"]["match"]


@_cases("grammar")
def test_grammar_regexes_match_distribution(case: dict[str, Any]) -> None:
    """The exported grammar regexes accept, reject and capture what regexp.go's do."""
    match = GRAMMAR[case["api"]].fullmatch(case["input"])
    expected = case["expected"]
    assert (match is not None) is expected["match"]
    if match is None:
        return
    groups = {k: v for k, v in match.groupdict().items()}
    for key in ("domain", "path", "name"):
        if key in expected:
            assert (groups[key] or "") == expected[key]
    for key in ("tag", "digest"):
        if key in expected:
            assert groups[key] == expected[key]


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if "derived" in c],
    ids=[
        f"{c['id']} normalises {_show(c['input'])} as the helper port did"
        for c in CASES
        if "derived" in c
    ],
)
def test_derived_normalisation_is_secondary_check(case: dict[str, Any]) -> None:
    """Derived (helper-computed) normalised forms agree with parse_normalized_named."""
    derived = case["derived"]
    if not derived["normalized_valid"]:
        with pytest.raises(InvalidReferenceError):
            parse_normalized_named(case["input"])
        return
    ref, n = parse_normalized_named(case["input"]), derived["normalized"]
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        n["domain"],
        n["path"],
        n["tag"],
        n["digest"],
    )
    assert (ref.name, str(ref)) == (n["full_name"], n["full_string"])
    assert (ref.familiar_name, ref.familiar) == (n["familiar_name"], n["familiar_string"])
    assert str(parse_docker_ref(case["input"])) == n["docker_ref_string"]


# --- go-containerregistry pkg/name ---------------------------------------------------------


@_cases("ggcr reference")
def test_ggcr_references_parse_compatibly(case: dict[str, Any]) -> None:
    """Tags and digests ggcr accepts parse; its Name() equals parse_docker_ref's text."""
    text = case["input"]
    assert case.get("validation") != "strict" or case["valid"]  # strict-only rejections: none here
    if not case["valid"]:
        with pytest.raises(InvalidReferenceError):
            parse(text)
        return
    ref = parse(text)
    expected = case.get("expected", {})
    if "name" in expected:
        assert str(parse_docker_ref(text)) == expected["name"]
    if "string" in expected:
        assert str(ref) == expected["string"]
    if "identifier" in expected:
        assert ref.identifier == expected["identifier"]
    if expected.get("reference_type") == "Digest":
        assert ref.digest is not None


@_cases("ggcr default registry")
def test_ggcr_default_registry_option(case: dict[str, Any]) -> None:
    """Explicit registries parse as ggcr says; a missing one means docker.io, not an option."""
    text, expected = case["input"], case["expected"]["name"]
    if case["id"] in DIVERGENCES:
        assert parse(text).registry == "docker.io"
        assert str(parse(expected)) == expected
        return
    assert str(parse(text)) == expected


@_cases("ggcr repository")
def test_ggcr_repositories_normalise_compatibly(case: dict[str, Any]) -> None:
    """Repository names ggcr accepts normalise to the same registry and path."""
    text = case["input"]
    if case["id"] in DIVERGENCES:
        ref = parse_normalized_named(text)
        assert ref.registry == "docker.io" and ref.api_host == "registry-1.docker.io"
        if case["valid"]:
            assert ref.name == case["expected"]["name"].replace("index.docker.io/", "docker.io/")
        else:
            assert ref.repository == "library/foo"
        return
    if not case["valid"]:
        with pytest.raises(InvalidReferenceError):
            parse_normalized_named(text)
        return
    ref = parse_normalized_named(text)
    if "expected" in case:
        assert ref.name == case["expected"]["name"]


@_cases("ggcr registry")
def test_ggcr_registries_normalise_compatibly(case: dict[str, Any]) -> None:
    """normalize_registry accepts the hosts ggcr accepts and names the same registry."""
    text = case["input"]
    if not case["valid"]:
        with pytest.raises(InvalidReferenceError):
            normalize_registry(text)
        return
    ours, expected = normalize_registry(text), case["expected"]
    if case["id"] not in DIVERGENCES:
        assert ours == expected["name"]
    elif "index.docker.io" in expected["registry"]:
        assert ours == normalize_registry(expected["registry"]) == "docker.io"
    else:
        assert (ours, normalize_registry(expected["registry"])) == ("docker.io", "gcr.io")


SCHEME_CASES = DATA["registry_scheme_cases"]["cases"]


@pytest.mark.parametrize(
    "case",
    SCHEME_CASES,
    ids=[
        f"{c['registry']} uses {c['expected_scheme']}"
        + (f" in ggcr; {RFC1918_SCHEME_DIVERGENCE}" if is_rfc1918(c["registry"]) else "")
        for c in SCHEME_CASES
    ],
)
def test_default_scheme_is_http_only_for_loopback(case: dict[str, Any]) -> None:
    """default_scheme says http for loopback/localhost hosts, https otherwise (RFC 1918 too)."""
    if is_rfc1918(case["registry"]):
        assert case["expected_scheme"] == "http"
        assert default_scheme(case["registry"]) == "https"
        return
    assert default_scheme(case["registry"]) == case["expected_scheme"]


RFC1918_CASES = DATA["registry_rfc1918_cases"]["cases"]


@pytest.mark.parametrize(
    "case",
    RFC1918_CASES,
    ids=[f"{c['registry']} is{'' if c['is_rfc1918'] else ' not'} RFC 1918" for c in RFC1918_CASES],
)
def test_is_rfc1918_matches_ggcr(case: dict[str, Any]) -> None:
    """is_rfc1918 recognises 10/8, 172.16/12 and 192.168/16, with or without a port."""
    assert is_rfc1918(case["registry"]) is case["is_rfc1918"]


# --- ociinspect's own API ------------------------------------------------------------------

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "api_host", "familiar"),
    [
        (
            "ubuntu",
            "docker.io",
            "library/ubuntu",
            "latest",
            None,
            "registry-1.docker.io",
            "ubuntu:latest",
        ),
        (
            "index.docker.io/user/app:1",
            "docker.io",
            "user/app",
            "1",
            None,
            "registry-1.docker.io",
            "user/app:1",
        ),
        (
            "localhost:5000/app",
            "localhost:5000",
            "app",
            "latest",
            None,
            "localhost:5000",
            "localhost:5000/app:latest",
        ),
        (
            "[::1]:5000/a/b@" + DIGEST,
            "[::1]:5000",
            "a/b",
            None,
            DIGEST,
            "[::1]:5000",
            "[::1]:5000/a/b@" + DIGEST,
        ),
        (
            "ghcr.io/o/app:v1@" + DIGEST,
            "ghcr.io",
            "o/app",
            "v1",
            DIGEST,
            "ghcr.io",
            "ghcr.io/o/app:v1@" + DIGEST,
        ),
    ],
    ids=[
        "a bare name gets docker.io, library/ and latest",
        "index.docker.io is written docker.io",
        "localhost with a port is a registry",
        "a bracketed IPv6 registry keeps its brackets and a digest means no default tag",
        "a tag and a digest are both kept",
    ],
)
def test_parse_fills_docker_defaults(
    text: str,
    registry: str,
    repository: str,
    tag: str | None,
    digest: str | None,
    api_host: str,
    familiar: str,
) -> None:
    """parse() gives the registry, path, tag, digest and hosts the Docker CLI would use."""
    ref = parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    assert ref.api_host == api_host
    assert ref.familiar == familiar
    assert ref.identifier == (digest or tag)
    assert parse(str(ref)) == ref


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("", "the reference is empty"),
        ("ubuntu:" + "a" * 129, "tag too long"),
        ("ubuntu:-x", "must not start with '.' or '-'"),
        ("Ubuntu", "must be lowercase"),
        ("ghcr.io/Org/app", "must be lowercase (got 'Org/app')"),
        ("https://ghcr.io/o/app", "no URL scheme"),
        ("foo bar", "whitespace"),
        ("ubuntu@sha256:abc", "at least 32 hex digits"),
        ("ubuntu@sha256:" + "a" * 40, "sha256 needs 64 hex characters, got 40"),
        ("ubuntu@md5:" + "a" * 32, "unsupported algorithm 'md5'"),
        ("[::1]:5000", "followed by '/'"),
        ("fc00::1:5000/debian", "IPv6 address goes in brackets"),
        ("foo//bar", "empty path component"),
        ("a" * 64, "image ID"),
        ("x/" + "a" * 254, "must not be more than 255 characters"),
        ("-docker/x", "path component '-docker'"),
        ("foo_bar.com/app", "'foo_bar.com' looks like a registry but is not host[:port]"),
    ],
    ids=[
        "an empty reference says so",
        "a long tag says the tag is too long",
        "a tag starting with a dash says what tags may hold",
        "an uppercase name says names are lowercase",
        "an uppercase path after a registry names the path",
        "a URL says to drop the scheme",
        "whitespace is named",
        "a short digest says digests need 32+ hex digits",
        "a sha256 digest of the wrong length gives the length",
        "an unknown digest algorithm is named",
        "a bare IPv6 host says a path must follow",
        "an unbracketed IPv6 host says to use brackets",
        "a doubled slash says a path component is empty",
        "a 64-hex name says it is an image ID",
        "a path over 255 characters says so",
        "a component starting with a dash is named",
        "a host-like first component that is no host is refused, not left without registry",
    ],
)
def test_errors_say_what_is_wrong(text: str, phrase: str) -> None:
    """An unparsable reference raises InvalidReferenceError whose reason points at the culprit."""
    with pytest.raises(InvalidReferenceError) as info:
        parse(text)
    assert phrase in info.value.reason
    assert info.value.reference == text
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "fields",
    [
        {"registry": "docker io", "repository": "x"},
        {"registry": "docker.io", "repository": "Library/ubuntu"},
        {"registry": "docker.io", "repository": "a" * 256},
        {"registry": "docker.io", "repository": "x", "tag": ".x"},
        {"registry": "docker.io", "repository": "x", "digest": "sha256:abc"},
    ],
    ids=[
        "a registry with a space is refused",
        "an uppercase path is refused",
        "a path over 255 characters is refused",
        "a tag starting with a dot is refused",
        "a short digest is refused",
    ],
)
def test_reference_validates_on_construction(fields: dict[str, str]) -> None:
    """Reference(...) refuses fields that no parse could have produced."""
    with pytest.raises(InvalidReferenceError):
        Reference(**fields)


def test_reference_is_frozen_and_hashable() -> None:
    """A Reference is an immutable value usable as a dict key."""
    ref = parse("ubuntu")
    with pytest.raises(FrozenInstanceError):
        ref.tag = "x"  # type: ignore[misc]
    assert {ref: 1}[parse("docker.io/library/ubuntu:latest")] == 1


def test_with_tag_and_with_digest_keep_the_other_part() -> None:
    """with_tag keeps a digest, with_digest keeps a tag and accepts a Digest object."""
    ref = parse("ghcr.io/o/app@" + DIGEST).with_tag("v2")
    assert str(ref) == f"ghcr.io/o/app:v2@{DIGEST}"
    pinned = parse("ghcr.io/o/app:v1").with_digest(Digest.parse(DIGEST))
    assert (pinned.tag, pinned.digest, pinned.identifier) == ("v1", DIGEST, DIGEST)


def test_parse_named_suggests_the_canonical_form() -> None:
    """parse_named's error for a familiar name says what to write instead."""
    with pytest.raises(InvalidReferenceError, match="docker.io/library/ubuntu"):
        parse_named("ubuntu")


def test_parse_any_reads_a_bare_image_id_as_sha256() -> None:
    """A 64-hex string is an image ID, i.e. the sha256 digest."""
    assert parse_any("ab" * 32) == Digest.parse(DIGEST)


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("foo/*", "foo/bar/baz", False),
        ("foo/?ar", "foo/bar", True),
        ("foo?bar", "foo/bar", False),
        ("foo/[^a-c]ar", "foo/dar", True),
        ("foo/[^a-c]ar", "foo/bar", False),
        ("foo/b\\ar", "foo/bar", True),
        ("ghcr.io/*/*", "ghcr.io/o/app:v1", True),
    ],
    ids=[
        "a star does not cross a slash",
        "a question mark matches one character",
        "a question mark does not match a slash",
        "a negated class matches a character outside it",
        "a negated class refuses what it names",
        "a backslash escapes a character",
        "the familiar name is tried after the familiar string",
    ],
)
def test_familiar_match_follows_go_path_match(pattern: str, text: str, matches: bool) -> None:
    """familiar_match implements Go's path.Match on the familiar forms."""
    assert familiar_match(pattern, parse_normalized_named(text)) is matches


@pytest.mark.parametrize("pattern", ["foo/[", "foo/[a", "foo\\", "foo/[]]", "foo/[-a]"])
def test_familiar_match_rejects_malformed_patterns(pattern: str) -> None:
    """A malformed pattern raises InvalidReferenceError, as path.ErrBadPattern."""
    with pytest.raises(InvalidReferenceError, match="syntax error in pattern"):
        familiar_match(pattern, parse("foo/bar"))


@pytest.mark.parametrize(
    ("host", "scheme"),
    [
        ("localhost", "http"),
        ("LOCALHOST:5000", "http"),
        ("127.1.2.3:80", "http"),
        ("[::1]", "http"),
        ("registry.localhost:5000", "http"),
        ("localhost.example.com", "https"),
        ("10.0.0.1", "https"),
        ("[2001:db8::1]:5000", "https"),
        ("docker.io", "https"),
    ],
)
def test_default_scheme_table(host: str, scheme: str) -> None:
    """default_scheme treats 127.0.0.0/8, ::1 and *.localhost as loopback, nothing else."""
    assert default_scheme(host) == scheme


@pytest.mark.parametrize("host", ["ghcr.io/", "ghcr.io:port", "[::1%lo]:5000", "a b"])
def test_normalize_registry_rejects_non_hosts(host: str) -> None:
    """normalize_registry refuses text that is not host[:port]."""
    with pytest.raises(InvalidReferenceError, match="host\\[:port\\]"):
        normalize_registry(host)


def test_non_string_input_is_an_invalid_reference() -> None:
    """Passing a non-string raises InvalidReferenceError, not TypeError."""
    with pytest.raises(InvalidReferenceError, match="expected a string"):
        parse(None)  # type: ignore[arg-type]


# --- properties ----------------------------------------------------------------------------

_LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"
_MIXED = _LOWER + "ABCXYZ"
_DOMAIN_COMPONENT = st.builds(
    lambda head, middle: head + (f"{middle}{head[-1]}" if middle else ""),
    st.text(_MIXED, min_size=1, max_size=4),
    st.text(_MIXED + "-", max_size=4),
)
_HOST = st.one_of(
    st.lists(_DOMAIN_COMPONENT, min_size=1, max_size=3).map(".".join),
    st.sampled_from(["localhost", "[::1]", "[2001:db8::1]", "docker.io", "index.docker.io"]),
)
_REGISTRY = st.builds(
    lambda host, port: host + (f":{port}" if port is not None else ""),
    _HOST,
    st.none() | st.integers(0, 99999),
)
_ALNUM = st.text(_LOWER, min_size=1, max_size=4)
_PATH_COMPONENT = st.builds(
    lambda first, rest: first + "".join(sep + alnum for sep, alnum in rest),
    _ALNUM,
    st.lists(st.tuples(st.sampled_from([".", "_", "__", "-", "---"]), _ALNUM), max_size=2),
)
_PATH = st.lists(_PATH_COMPONENT, min_size=1, max_size=4).map("/".join)
_TAG = st.builds(str.__add__, st.sampled_from("aZ9_"), st.text(_MIXED + "_.-", max_size=12))
_DIGEST = st.builds(
    lambda algorithm, raw, upper: f"{algorithm}:{raw.hex().upper() if upper else raw.hex()}",
    st.sampled_from(["sha256", "sha512", "md5", "sha256+b64"]),
    st.binary(min_size=15, max_size=65),
    st.booleans(),
)
#: Text shaped like references (most valid, many near misses), built from the grammar's parts.
REFERENCE_SHAPED = st.builds(
    lambda registry, path, tag, digest: "".join(
        [
            f"{registry}/" if registry else "",
            path,
            f":{tag}" if tag else "",
            f"@{digest}" if digest else "",
        ]
    ),
    st.none() | _REGISTRY,
    _PATH,
    st.none() | _TAG,
    st.none() | _DIGEST,
)
REFERENCE_LIKE = st.one_of(
    st.text(),
    st.text(alphabet="abAZ09._-/:@[]%", max_size=40),
    REFERENCE_SHAPED,
    st.builds(  # a reference with one character replaced: near misses of every kind
        lambda text, index, char: (
            text[: index % (len(text) + 1)] + char + text[index % (len(text) + 1) + 1 :]
        ),
        REFERENCE_SHAPED,
        st.integers(0, 200),
        st.characters(),
    ),
)
PARSERS = [
    parse,
    parse_raw,
    parse_any,
    parse_named,
    parse_docker_ref,
    with_name,
    normalize_registry,
]


@pytest.mark.parametrize("parser", PARSERS, ids=[f"{p.__name__} never crashes" for p in PARSERS])
@settings(max_examples=300)
@given(text=REFERENCE_LIKE)
def test_any_text_parses_or_raises_invalid_reference(parser: Any, text: str) -> None:
    """Any text yields a value or InvalidReferenceError, never another exception."""
    try:
        result = parser(text)
    except InvalidReferenceError as exc:
        assert exc.reason
    else:
        assert isinstance(result, (Reference, Digest, str))


@settings(max_examples=300)
@given(text=REFERENCE_SHAPED)
def test_parse_round_trips_through_str_and_familiar(text: str) -> None:
    """Whatever parses comes back identical from str(), and from its familiar form.

    One exception, inherited from distribution's FamiliarString: a Docker Hub path whose first
    component looks like a host (``docker.io/0.0/app`` -> ``0.0/app``) reads back differently:
    as that registry, or (``docker.io/a_b.c/app``) not at all.
    """
    try:
        ref = parse(text)
    except InvalidReferenceError:
        return
    assert parse(str(ref)) == ref
    assert ref.digest is None or DIGEST_RE.fullmatch(ref.digest)
    first = ref.familiar_name.split("/")[0]
    looks_like_host = "/" in ref.familiar_name and (
        "." in first or ":" in first or first == "localhost"
    )
    if ref.registry == "docker.io" and looks_like_host:
        try:
            assert parse(ref.familiar).registry == first
        except InvalidReferenceError as exc:
            assert "looks like a registry" in exc.reason
    else:
        assert parse(ref.familiar) == ref
