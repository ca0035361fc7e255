"""Digests, judged by go-digest's, image-spec's and their users' tests (tests/data/digests.json).

Validators disagree, so each ``context`` of the data picks the ociinspect check that plays
that validator's role:

* go-digest ``Parse``/``Validate`` (and the callers that use it: distribution/reference's digest
  component, go-containerregistry's ``NewDigest``) -> :meth:`Digest.parse`, which is strict.
* image-spec's JSON schema + ``Validate`` ignoring ``ErrDigestUnsupported`` ->
  :func:`is_grammatical` and, for an algorithm ociinspect knows, :meth:`Digest.parse` (the
  registered encoding rule).
* image-spec descriptor.md registered / unregistered algorithms -> the grammar plus the spec's
  per-algorithm encoding pattern.
* distribution/reference's grammar -> ``ociinspect.values.reference.DIGEST_RE`` (and
``with_digest``).

Deliberate divergences are listed in ``DIVERGENCES`` with the reason; their tests assert the
compatible part.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ociinspect.errors import DigestMismatchError, InvalidDigestError, InvalidReferenceError
from ociinspect.values.digest import ALGORITHMS, Digest, is_grammatical, sha256
from ociinspect.values.reference import DIGEST_RE, parse
from ociinspect.values.streams import verified

HERE = Path(__file__).parent / "data"
DATA = json.loads((HERE / "digests.json").read_text())
STRINGS: list[dict[str, Any]] = DATA["digest_strings"]
REGISTERED: dict[str, str] = DATA["spec_grammar"]["registered"]

#: Case id -> why ociinspect deliberately gives another answer than the case's validator.
DIVERGENCES = {
    "dg-002": "sha384 is valid upstream only because that test registers it; it is not an "
    "OCI-registered algorithm and ociinspect does not accept it",
    "dg-018": "BLAKE3 is OCI-registered, but Python's hashlib has no BLAKE3, so ociinspect "
    "cannot verify it and Digest.parse (the 'can verify' check) refuses it as unsupported",
    "dg-038": "the upstream test binary did not link sha512; ociinspect verifies sha512, and the "
    "case's note says go-digest's current default registers it too",
}

#: go-digest sentinel -> how ociinspect's InvalidDigestError.reason reads for it.
UPSTREAM_REASONS: dict[str, Callable[[str], bool]] = {
    "digest.ErrDigestInvalidFormat": lambda r: "needs" not in r and "unsupported" not in r,
    "digest.ErrDigestInvalidLength": lambda r: (
        re.search(r"needs \d+ hex characters", r) is not None
    ),
    "digest.ErrDigestUnsupported": lambda r: "unsupported algorithm" in r,
}


def _parses(value: str) -> bool:
    try:
        Digest.parse(value)
    except InvalidDigestError:
        return False
    return True


def check_go_digest(case: dict[str, Any]) -> None:
    """Digest.parse accepts and splits what go-digest does, rejecting with the same kind."""
    text = case["input"]
    if case["id"] in DIVERGENCES:
        algorithm, _, encoded = text.partition(":")
        assert is_grammatical(text)
        if algorithm in ALGORITHMS:
            assert str(Digest.parse(text)) == text
        else:
            with pytest.raises(InvalidDigestError, match="unsupported algorithm"):
                Digest.parse(text)
            if algorithm in REGISTERED:
                assert re.fullmatch(REGISTERED[algorithm], encoded)
        return
    expected = case.get("expected")
    if case["valid"]:
        digest = Digest.parse(text)
        assert str(digest) == text
        if expected:
            assert (digest.algorithm, digest.encoded) == (
                expected["algorithm"],
                expected["encoded"],
            )
        return
    with pytest.raises(InvalidDigestError) as info:
        Digest.parse(text)
    assert info.value.digest == text
    upstream = case.get("error", {}).get("upstream")
    if upstream is not None:
        assert UPSTREAM_REASONS[upstream](info.value.reason), info.value.reason
    if expected:  # upstream asserts the split of a grammatical digest it cannot verify
        assert is_grammatical(text)
        assert text.split(":", 1) == [expected["algorithm"], expected["encoded"]]


def check_ggcr_new_digest(case: dict[str, Any]) -> None:
    """The digest part of a go-containerregistry reference: Digest.parse and parse() agree."""
    check_go_digest(case)
    reference = f"gcr.io/project-id/app@{case['input']}"
    if case["valid"]:
        assert parse(reference).digest == case["input"]
    else:
        with pytest.raises(InvalidReferenceError):
            parse(reference)


def check_schema(case: dict[str, Any]) -> None:
    """image-spec's schema: the grammar, plus the encoding rule of algorithms ociinspect knows."""
    text = case["input"]
    algorithm = text.partition(":")[0]
    accepted = is_grammatical(text) and (algorithm not in ALGORITHMS or _parses(text))
    assert accepted is case["valid"]


def check_descriptor_md(case: dict[str, Any]) -> None:
    """descriptor.md: grammatical, and a registered algorithm's encoding matches its pattern."""
    text = case["input"]
    expected = case["expected"]
    assert is_grammatical(text) is case["valid"]
    assert text.split(":", 1) == [expected["algorithm"], expected["encoded"]]
    registered = "(registered: yes)" in case["context"]
    assert (expected["algorithm"] in REGISTERED) is registered
    if registered:
        assert re.fullmatch(REGISTERED[expected["algorithm"]], expected["encoded"])
        assert _parses(text) is (expected["algorithm"] in ALGORITHMS)


def check_reference_grammar(case: dict[str, Any]) -> None:
    """distribution/reference's digest grammar refuses it, and so does Digest.parse."""
    assert not case["valid"]
    assert DIGEST_RE.fullmatch(case["input"]) is None
    assert not _parses(case["input"])


def check_with_digest(case: dict[str, Any]) -> None:
    """Reference.with_digest refuses what distribution's WithDigest refuses."""
    assert not case["valid"]
    with pytest.raises(InvalidReferenceError, match="invalid digest format"):
        parse("busybox").with_digest(case["input"])


CONTEXTS: dict[str, Callable[[dict[str, Any]], None]] = {
    "go-digest Parse/Validate (sha256 & sha512 registered by default; sha384 registered by this "
    "test)": check_go_digest,
    "go-digest with blake3 sub-module imported": check_go_digest,
    "distribution/reference Parse digest component (go-digest v1.0.0; only crypto/sha256 linked "
    "into the test binary)": check_go_digest,
    "go-containerregistry name.NewDigest digest part": check_ggcr_new_digest,
    "image-spec schema.ValidatorMediaTypeDescriptor: JSON-schema pattern "
    "^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$ PLUS go-digest Validate() with "
    "ErrDigestUnsupported ignored": check_schema,
    "image-spec manifest schema (layer descriptor digest)": check_schema,
    "image-spec descriptor.md (registered: yes)": check_descriptor_md,
    "image-spec descriptor.md (registered: no; must pass grammar validation)": check_descriptor_md,
    "distribution/reference reference grammar ([[:xdigit:]]{32,} required)": (
        check_reference_grammar
    ),
    "distribution/reference reference grammar": check_reference_grammar,
    "distribution/reference WithDigest": check_with_digest,
}


def _string_id(case: dict[str, Any]) -> str:
    verb = "accepts" if case["valid"] else "rejects"
    checker = CONTEXTS.get(case["context"])
    role = checker.__name__.removeprefix("check_") if checker else "unknown context"
    shown = repr(case["input"]) if len(case["input"]) <= 50 else repr(case["input"][:40]) + "..."
    marker = " (deliberate divergence)" if case["id"] in DIVERGENCES else ""
    return f"{case['id']} {role} {verb} {shown}{marker}"


def test_every_context_has_a_checker() -> None:
    """Each validator context named in digests.json maps to a check (none silently dropped)."""
    assert {c["context"] for c in STRINGS} <= set(CONTEXTS)
    assert set(DIVERGENCES) <= {c["id"] for c in STRINGS}


@pytest.mark.parametrize("case", STRINGS, ids=[_string_id(c) for c in STRINGS])
def test_digest_string(case: dict[str, Any]) -> None:
    """Each digest string gets its validator's verdict from the matching ociinspect check."""
    CONTEXTS[case["context"]](case)


@pytest.mark.parametrize(
    "case",
    DATA["algorithm_names"],
    ids=[
        f"{c['algorithm']!r} is{'' if c['registrable'] else ' not'} registrable"
        for c in DATA["algorithm_names"]
    ],
)
def test_algorithm_names(case: dict[str, Any]) -> None:
    """Names follow the algorithm grammar; 'registered by default' means ociinspect verifies it."""
    if case["source"]["test"].startswith("TestFlagInterface"):
        assert (case["algorithm"] in ALGORITHMS) is case["registrable"]
    else:
        assert is_grammatical(f"{case['algorithm']}:0") is case["registrable"]


def _content(case: dict[str, Any]) -> bytes:
    encoding = case.get("content_encoding")
    if encoding == "base64":
        return base64.b64decode(case["content"], validate=True)
    if encoding == "hex":
        return bytes.fromhex(case["content"])
    assert encoding is None
    return case["content"].encode()


VECTORS = DATA["content_vectors"]
MANIFEST_VECTORS = [
    doc
    for doc in json.loads((HERE / "manifests" / "index.json").read_text())["documents"]
    if doc.get("expected_digest") and doc.get("exact_bytes")
]


@pytest.mark.parametrize(
    "case",
    VECTORS,
    ids=[f"{c['id']} {c.get('note', '')[:50]}".strip() for c in VECTORS],
)
def test_content_vectors(case: dict[str, Any]) -> None:
    """Digest.of hashes content to the asserted digest, and verify() accepts exactly it."""
    if "content_file" in case:  # the manifests' own digests, run one by one below
        assert MANIFEST_VECTORS
        return
    data = _content(case)
    assert len(data) == case["size"]
    algorithm = case["expected_digest"].partition(":")[0]
    if algorithm not in ALGORITHMS:  # blake3: see DIVERGENCES["dg-018"]
        assert is_grammatical(case["expected_digest"])
        with pytest.raises(InvalidDigestError, match="unsupported algorithm"):
            Digest.of(data, algorithm)
        return
    expected = Digest.parse(case["expected_digest"])
    assert Digest.of(data, algorithm) == expected
    assert expected.verify(data, case["id"], case["size"]) == data
    with pytest.raises(DigestMismatchError):
        expected.verify(data + b"\n", case["id"])


@pytest.mark.parametrize(
    "doc",
    MANIFEST_VECTORS,
    ids=[f"{d['file']} hashes to its asserted digest" for d in MANIFEST_VECTORS],
)
def test_manifest_bytes_hash_to_their_digest(doc: dict[str, Any]) -> None:
    """Exact upstream document bytes hash (streamed) to the digest upstream asserts."""
    raw = (HERE / "manifests" / doc["file"]).read_bytes()
    assert len(raw) == doc["size"]
    expected = Digest.parse(doc["expected_digest"])
    assert sha256(raw) == str(expected) == str(Digest.of(raw))
    verifier = expected.verifier(doc["file"], doc["size"])
    chunks = [raw[i : i + 100] for i in range(0, len(raw), 100)]
    assert b"".join(verified(chunks, verifier)) == raw


@settings(max_examples=500)
@given(
    text=st.one_of(
        st.text(),
        st.text(alphabet="sha2560:abcdefABCDEF+._-=", max_size=140),
        st.builds(
            lambda alg, raw: f"{alg}:{raw.hex()}",
            st.sampled_from(["sha256", "sha512", "sha384", "blake3", "md5", ""]),
            st.binary(max_size=70),
        ),
    )
)
def test_any_text_parses_or_raises_invalid_digest(text: str) -> None:
    """Digest.parse returns a Digest that prints as its input, or raises InvalidDigestError."""
    try:
        digest = Digest.parse(text)
    except InvalidDigestError as exc:
        assert exc.reason
        return
    assert str(digest) == text
    assert is_grammatical(text)
