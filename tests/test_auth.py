"""ociinspect.distribution.challenge, .scope and .auth: WWW-Authenticate, scopes, token requests,
TokenCache."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ociinspect.distribution.auth import (
    ANONYMOUS,
    MAX_TOKEN_RESPONSE_BYTES,
    CacheStats,
    Token,
    TokenCache,
    TokenKey,
    TokenRequest,
    parse_token_response,
    token_request_params,
)
from ociinspect.distribution.challenge import (
    Challenge,
    ChallengeStore,
    basic_challenge,
    bearer_challenge,
    canonical_endpoint,
    challenge_problem,
    parse_www_authenticate,
    select_challenge,
)
from ociinspect.distribution.scope import Scope, merge_scopes, parse_scopes
from ociinspect.errors import SizeLimitError, TokenError

DATA = json.loads((Path(__file__).parent / "data" / "challenges.json").read_text())
CASES = DATA["cases"]


def _plain(challenges: list[Challenge]) -> list[dict[str, Any]]:
    return [{"scheme": c.scheme, "params": dict(c.params)} for c in challenges]


# --------------------------------------------------------------------------- conformance

# Where the upstream expectation is not RFC 7235 we assert our own result, and say why.
DIVERGENCES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "ch-027": (
        "a quoted scheme and a quoted param name are not RFC 7235 tokens (only regclient "
        "accepts them; distribution and containerd return nothing, as we do)",
        [],
    ),
}

# Where we differ from the port of distribution's parser (derived_behavior, not asserted upstream).
DIFFERS_FROM_DISTRIBUTION = {
    "ch-010": "an empty quoted-string is a valid value and does not end the param list",
    "ch-046": "an empty quoted-string is a valid value and does not end the param list",
    "ch-025": "an unquoted value is read up to whitespace or comma, as regclient does",
    "ch-028": "RFC 7235 allows several challenges in one field",
    "ch-042": "RFC 7235 list form: a bare token after a comma starts a new challenge",
}


def _realm_host_allowed(challenge: Challenge, registry_url: str) -> bool:
    """The proxy test's filter: the realm must be on the registry's parent domain."""
    parent = (urlsplit(registry_url).hostname or "").split(".", 1)[1]
    return (urlsplit(challenge.realm or "").hostname or "").endswith("." + parent)


def _check_case(case: dict[str, Any], got: list[Challenge]) -> None:
    expected = case["expected"]
    subset = case["assertion"].startswith("subset")
    if "challenges" in expected:
        if subset:
            assert len(got) == len(expected["challenges"])
            for ours, theirs in zip(got, expected["challenges"], strict=True):
                assert ours.scheme == theirs["scheme"]
                assert theirs["params"].items() <= ours.params.items()
        else:
            assert _plain(got) == expected["challenges"]
    elif "challenges_after_filter(service==keep.example.com)" in expected:
        assert len(got) == 2
        kept = [c for c in got if c.service == "keep.example.com"]
        assert [(c.scheme, c.service) for c in kept] == [("bearer", "keep.example.com")]
    elif "challenges_after_filter(realm allowed for https://registry.example.com)" in expected:
        kept = [c for c in got if _realm_host_allowed(c, "https://registry.example.com")]
        assert [(c.scheme, c.realm) for c in kept] == [("bearer", "https://auth.example.com/token")]
    elif "challenge_manager" in expected:
        url = case["context"]["request_url"]
        store = ChallengeStore()
        store.remember(url, got)
        parts = urlsplit(url)
        default = {"https": 443, "http": 80}[parts.scheme]
        port = parts.port or default
        variant = f"{parts.scheme.upper()}://{(parts.hostname or '').upper()}:{port}/v2/other"
        assert store.get(variant) == tuple(got) and len(got) > 0
    elif "selected" in expected:
        chosen = select_challenge(got)
        assert chosen is not None and chosen.scheme == expected["selected"]["scheme"]
        if expected["selected"]["params"] is not None:
            assert dict(chosen.params) == expected["selected"]["params"]
    elif "error" in expected:  # upstream fails; we keep what parses and flag the challenge
        assert got and all(c.malformed for c in got)
    elif "server_emitted_exactly" in expected:
        assert [str(c) for c in got] == case["headers"]
    elif expected.get("scheme") == "unknown":  # oras: no challenge at all
        assert got == []
    elif "scheme" in expected:  # oras parses a single challenge: compare our first
        assert got and got[0].scheme == expected["scheme"]
        if expected["params"] is not None:
            assert dict(got[0].params) == expected["params"]
    else:  # pragma: no cover - a new kind of case in the data
        pytest.fail(f"unknown expectation {sorted(expected)}")


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=f"{c['id']} {c['source']['test']}") for c in CASES]
)
def test_challenge_conformance(case: dict[str, Any]) -> None:
    """Every header of challenges.json parses as upstream asserts, or as DIVERGENCES documents."""
    got = parse_www_authenticate(case["headers"])
    if case["id"] in DIVERGENCES:
        assert _plain(got) == DIVERGENCES[case["id"]][1]
    else:
        _check_case(case, got)


@pytest.mark.parametrize("case_id", sorted(DIVERGENCES))
def test_divergent_cases_really_differ_from_upstream(case_id: str) -> None:
    """Each documented divergence is real: the upstream expectation fails on our output."""
    case = next(c for c in CASES if c["id"] == case_id)
    with pytest.raises(AssertionError):
        _check_case(case, parse_www_authenticate(case["headers"]))


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=f"{c['id']} agrees with distribution")
        for c in CASES
        if "derived_behavior" in c
    ],
)
def test_agrees_with_distribution_parser_except_documented(case: dict[str, Any]) -> None:
    """We match the port of distribution's parser except where RFC 7235 says otherwise."""
    ours = _plain(parse_www_authenticate(case["headers"]))
    same = ours == case["derived_behavior"]["distribution"]
    assert same is (case["id"] not in DIFFERS_FROM_DISTRIBUTION)


def test_conformance_data_keeps_its_sources() -> None:
    """The copied data still names where every case came from."""
    assert len(CASES) == 35
    assert all(c["source"]["repo"] and c["source"]["commit"] for c in CASES)


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("Negotiate abc123==", [("negotiate", {}, "abc123==")], id="token68 is kept"),
        pytest.param(
            'Bearer realm = "r" , service=s',
            [("bearer", {"realm": "r", "service": "s"}, None)],
            id="whitespace around = is allowed (BWS)",
        ),
        pytest.param(
            'Basic realm="a",, ,Bearer realm="b"',
            [("basic", {"realm": "a"}, None), ("bearer", {"realm": "b"}, None)],
            id="empty list elements are skipped",
        ),
        pytest.param(
            'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
            [
                ("newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps"'}, None),
                ("basic", {"realm": "simple"}, None),
            ],
            id="RFC 7235 4.1 example gives two challenges",
        ),
        pytest.param('realm="x", Basic', [("basic", {}, None)], id="params before any scheme drop"),
        pytest.param("\t ,, ", [], id="only separators give nothing"),
        pytest.param(
            'Bearer error="insufficient_scope",scope="repository:a:push"',
            [("bearer", {"error": "insufficient_scope", "scope": "repository:a:push"}, None)],
            id="error param is an ordinary param",
        ),
    ],
)
def test_parse_www_authenticate(header: str, expected: list[tuple[Any, ...]]) -> None:
    """Headers outside the conformance data parse per RFC 7235."""
    got = parse_www_authenticate(header)
    assert [(c.scheme, dict(c.params), c.token68) for c in got] == expected


@pytest.mark.parametrize(
    ("header", "params"),
    [
        pytest.param(
            'Basic realm="a", realm="b"', {"realm": "a"}, id="a repeated param keeps the first"
        ),
        pytest.param('Basic realm="a" junk', {"realm": "a"}, id="junk after a value is skipped"),
        pytest.param('Basic realm=a"b', {}, id="an unquoted value with a quote is dropped"),
        pytest.param('Basic @@, realm="x"', {"realm": "x"}, id="a non-token element is skipped"),
        pytest.param('Basic "x"', {}, id="a quoted-string in place of a param is skipped"),
        pytest.param('Negotiate abc=, realm="x"', {}, id="a param after a token68 is dropped"),
    ],
)
def test_malformed_pieces_are_skipped_and_flagged(header: str, params: dict[str, str]) -> None:
    """Broken pieces are dropped, the rest is kept, and the challenge says it was malformed."""
    (challenge,) = parse_www_authenticate(header)
    assert dict(challenge.params) == params and challenge.malformed


def test_several_fields_equal_one_comma_joined_field() -> None:
    """Separate header fields give what requests' comma-joined single string gives."""
    fields = ['Bearer realm="https://a/token",service="s"', 'Basic realm="b"']
    assert parse_www_authenticate(fields) == parse_www_authenticate(", ".join(fields))


def test_no_header_gives_no_challenges() -> None:
    """None (no WWW-Authenticate header) gives an empty list."""
    assert parse_www_authenticate(None) == []


@given(st.one_of(st.text(), st.lists(st.text(), max_size=4)))
def test_any_text_parses_to_a_list_of_challenges(values: str | list[str]) -> None:
    """Garbage never raises: any text gives a list of well-formed Challenge values."""
    got = parse_www_authenticate(values)
    assert isinstance(got, list) and all(isinstance(c, Challenge) for c in got)
    assert all(c.scheme == c.scheme.lower() for c in got)


_tokens = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!#$%&'*+^`|",
    min_size=1,
    max_size=12,
)


@given(
    st.lists(
        st.tuples(_tokens, st.dictionaries(_tokens, st.text(max_size=20), max_size=4)),
        min_size=1,
        max_size=3,
    )
)
def test_rendered_challenges_parse_back(specs: list[tuple[str, dict[str, str]]]) -> None:
    """str(Challenge) of any scheme and params (values quoted and escaped) parses back equal."""
    challenges = [Challenge(scheme, params) for scheme, params in specs]
    header = ", ".join(str(c) for c in challenges)
    assert parse_www_authenticate(header) == challenges


def test_challenge_normalises_and_is_hashable() -> None:
    """Scheme and param names are lower-cased; equal challenges hash equal."""
    a = Challenge("BEARER", {"Realm": "r"})
    assert a.scheme == "bearer" and dict(a.params) == {"realm": "r"}
    assert (
        hash(a) == hash(Challenge("bearer", {"realm": "r"}))
        and len({a, Challenge("bearer", {"realm": "r"})}) == 1
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"scheme": "Bad Scheme"}, "RFC 7230 token", id="a scheme with a space"),
        pytest.param(
            {"scheme": "b", "params": {"a b": "x"}}, "RFC 7230 token", id="a bad param name"
        ),
        pytest.param(
            {"scheme": "b", "params": {"a": "x"}, "token68": "abc"},
            "either params",
            id="params and a token68 together",
        ),
        pytest.param(
            {"scheme": "b", "token68": "a b"},
            "not an RFC 7235 token68",
            id="a token68 with a space",
        ),
    ],
)
def test_challenge_validates_on_construction(kwargs: dict[str, Any], message: str) -> None:
    """A Challenge that RFC 7235 could not express is a ValueError."""
    with pytest.raises(ValueError, match=message):
        Challenge(**kwargs)


# --------------------------------------------------------------------------- selection

BEARER = Challenge("bearer", {"realm": "https://auth.example/token", "service": "svc"})


@pytest.mark.parametrize(
    ("header", "scheme"),
    [
        pytest.param(
            'Basic realm="b", Bearer realm="https://a/t"', "bearer", id="bearer beats basic"
        ),
        pytest.param('Digest realm="d", Basic realm="b"', "basic", id="basic beats unsupported"),
        pytest.param("Negotiate, Digest", "negotiate", id="unsupported only: the first one"),
        pytest.param("", None, id="nothing: None"),
    ],
)
def test_select_challenge(header: str, scheme: str | None) -> None:
    """select_challenge picks Bearer, then Basic, then the first (to be reported)."""
    chosen = select_challenge(parse_www_authenticate(header))
    assert (chosen.scheme if chosen else None) == scheme


def test_bearer_and_basic_challenge_find_by_scheme() -> None:
    """bearer_challenge / basic_challenge return the first challenge of their scheme or None."""
    got = parse_www_authenticate('Basic realm="b", Bearer realm="https://a/t"')
    assert bearer_challenge(got) == got[1] and basic_challenge(got) == got[0]
    assert bearer_challenge(got[:1]) is None


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        pytest.param(
            'Bearer realm="https://a/token"', None, id="bearer with an https realm is usable"
        ),
        pytest.param('Bearer realm="http://127.0.0.1:5000/t"', None, id="an http realm is usable"),
        pytest.param('Basic realm="x"', None, id="basic is usable"),
        pytest.param("Bearer", "Bearer challenge has no realm", id="bearer without realm"),
        pytest.param(
            'Bearer realm="https://a/t',
            "Bearer challenge has no realm (the WWW-Authenticate header was malformed)",
            id="bearer whose realm was broken says the header was malformed",
        ),
        pytest.param(
            'Bearer realm="realm-test"',
            "Bearer realm 'realm-test' is not an absolute http(s) URL",
            id="a relative realm is refused",
        ),
        pytest.param(
            'Bearer realm="ftp://a/t"',
            "Bearer realm 'ftp://a/t' is not an absolute http(s) URL",
            id="a non-http realm is refused",
        ),
        pytest.param(
            'Bearer realm="http://[::1"',
            "Bearer realm 'http://[::1' is not an absolute http(s) URL",
            id="an unparseable realm is refused",
        ),
        pytest.param(
            "Negotiate",
            "unsupported authentication scheme 'negotiate' (ociinspect answers Bearer and Basic)",
            id="an unsupported scheme is named",
        ),
    ],
)
def test_challenge_problem(header: str, problem: str | None) -> None:
    """challenge_problem gives the ChallengeError reason, or None for a usable challenge."""
    (challenge,) = parse_www_authenticate(header)
    assert challenge_problem(challenge) == problem


@pytest.mark.parametrize(
    ("url", "key"),
    [
        pytest.param(
            "https://Reg.Example.com/v2/", "https://reg.example.com:443", id="https gets 443"
        ),
        pytest.param("http://localhost/v2/", "http://localhost:80", id="http gets 80"),
        pytest.param(
            "http://127.0.0.1:5000/v2/x", "http://127.0.0.1:5000", id="explicit port kept"
        ),
        pytest.param("http://[::1]:5000/v2/", "http://[::1]:5000", id="IPv6 keeps brackets"),
    ],
)
def test_canonical_endpoint(url: str, key: str) -> None:
    """canonical_endpoint lower-cases the host and fills in the default port."""
    assert canonical_endpoint(url) == key


def test_challenge_store_remembers_and_forgets() -> None:
    """ChallengeStore returns what was remembered for an endpoint until forgotten."""
    store = ChallengeStore()
    store.remember("https://r.example/v2/a", [BEARER])
    assert store.get("https://R.example:443/v2/b") == (BEARER,) and len(store) == 1
    assert store.get("http://r.example/v2/") == ()
    store.forget("https://r.example/")
    assert store.get("https://r.example/v2/a") == ()


# --------------------------------------------------------------------------- scopes


@pytest.mark.parametrize(
    ("text", "scope", "canonical"),
    [
        pytest.param(
            "repository:library/alpine:pull",
            Scope("repository", "library/alpine", ("pull",)),
            "repository:library/alpine:pull",
            id="a plain pull scope",
        ),
        pytest.param(
            "repository:a/b:push,pull",
            Scope("repository", "a/b", ("pull", "push")),
            "repository:a/b:pull,push",
            id="actions are sorted",
        ),
        pytest.param(
            "repository:a:pull,pull",
            Scope("repository", "a", ("pull",)),
            "repository:a:pull",
            id="actions are deduplicated",
        ),
        pytest.param(
            "registry:catalog:*",
            Scope("registry", "catalog", ("*",)),
            "registry:catalog:*",
            id="the catalog scope",
        ),
        pytest.param(
            "repository:localhost:5000/foo:pull",
            Scope("repository", "localhost:5000/foo", ("pull",)),
            "repository:localhost:5000/foo:pull",
            id="a name with a registry port",
        ),
        pytest.param(
            "repository(plugin):vieux/sshfs:pull",
            Scope("repository(plugin)", "vieux/sshfs", ("pull",)),
            "repository(plugin):vieux/sshfs:pull",
            id="a resource type with a class",
        ),
    ],
)
def test_scope_parse_and_format(text: str, scope: Scope, canonical: str) -> None:
    """Scope.parse reads token-spec scopes and str() gives the canonical form."""
    assert Scope.parse(text) == scope and str(scope) == canonical


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("repository:alpine", id="no actions part"),
        pytest.param("repository:alpine:", id="empty actions"),
        pytest.param("Repository:alpine:pull", id="upper-case type"),
        pytest.param("repository::pull", id="empty name"),
        pytest.param("repository:a b:pull", id="space in the name"),
        pytest.param("alpine", id="no colon at all"),
    ],
)
def test_scope_parse_rejects_malformed(text: str) -> None:
    """Malformed scope text is a ValueError naming the text."""
    with pytest.raises(ValueError, match="scope"):
        Scope.parse(text)


def test_parse_scopes_skips_garbage() -> None:
    """parse_scopes reads space-separated scopes and skips pieces that are not scopes."""
    got = parse_scopes("repository:a:pull  junk repository:b:push,pull\t")
    assert [str(s) for s in got] == ["repository:a:pull", "repository:b:pull,push"]


@pytest.mark.parametrize(
    ("scopes", "merged"),
    [
        pytest.param(
            ["repository:a:pull", "repository:a:push"],
            ["repository:a:pull,push"],
            id="actions of one resource are merged",
        ),
        pytest.param(
            ["repository:b:pull", "registry:catalog:*", "repository:a:pull", "repository:b:pull"],
            ["registry:catalog:*", "repository:a:pull", "repository:b:pull"],
            id="resources are sorted and deduplicated",
        ),
        pytest.param([], [], id="nothing merges to nothing"),
    ],
)
def test_merge_scopes(scopes: list[str], merged: list[str]) -> None:
    """merge_scopes gives one scope per resource with the union of actions, sorted."""
    assert [str(s) for s in merge_scopes(*map(Scope.parse, scopes))] == merged


def test_challenge_scopes_reads_several_scopes() -> None:
    """A challenge's scope param may hold several space-separated scopes."""
    (ch,) = parse_www_authenticate(
        'Bearer realm="https://a/t",scope="repository:foo/bar:pull,push repository:foo/baz:pull"'
    )
    assert [str(s) for s in ch.scopes] == [
        "repository:foo/bar:pull,push",
        "repository:foo/baz:pull",
    ]


def test_scope_repository_shortcut_defaults_to_pull() -> None:
    """Scope.repository(name) is a pull scope unless actions are given."""
    assert str(Scope.repository("a/b")) == "repository:a/b:pull"
    assert str(Scope.repository("a/b", "push", "pull")) == "repository:a/b:pull,push"


# --------------------------------------------------------------------------- token requests


def test_token_key_normalises_scope_order() -> None:
    """TokenKeys for the same scopes in any order or split are equal."""
    a = TokenKey("https://a/t", "svc", "repository:b:push repository:a:pull repository:b:pull")
    b = TokenKey("https://a/t", "svc", "repository:a:pull  repository:b:pull,push")
    assert a == b and a.scope == "repository:a:pull repository:b:pull,push"


def test_token_key_keeps_unparseable_scope_text() -> None:
    """Scope text that is not a scope is kept verbatim so distinct requests stay distinct."""
    assert TokenKey("r", "s", "weird repository:a:pull").scope == "repository:a:pull weird"


def test_token_key_separates_identities() -> None:
    """Anonymous and credentialed keys for the same scope differ."""
    anon = TokenKey("https://a/t", "svc", "repository:a:pull")
    alice = TokenKey("https://a/t", "svc", "repository:a:pull", "user:alice#0123")
    assert anon.identity == ANONYMOUS and anon != alice
    with pytest.raises(ValueError, match="identity"):
        TokenKey("r", "s", "", "")


def test_token_request_params_follow_the_token_spec() -> None:
    """GET params: service, one scope= per scope (operation's and challenge's merged), account."""
    ch = Challenge("bearer", {**BEARER.params, "scope": "repository:a:push"})
    params = token_request_params(ch, [Scope.repository("a"), Scope.repository("b")], "alice")
    assert params == [
        ("service", "svc"),
        ("scope", "repository:a:pull,push"),
        ("scope", "repository:b:pull"),
        ("account", "alice"),
    ]


def test_token_request_without_service_or_account() -> None:
    """No service param and no account when the challenge has none and the call is anonymous."""
    ch = Challenge("bearer", {"realm": "https://a/t"})
    assert token_request_params(ch, [Scope.repository("a")]) == [("scope", "repository:a:pull")]


def test_token_request_can_ignore_a_remembered_challenge_scope() -> None:
    """challenge_scope=False leaves out the scope a remembered challenge carried."""
    ch = Challenge("bearer", {**BEARER.params, "scope": "repository:old:pull"})
    req = TokenRequest.from_challenge(ch, [Scope.repository("new")], challenge_scope=False)
    assert [str(s) for s in req.scopes] == ["repository:new:pull"]


def test_token_request_key_matches_its_params() -> None:
    """TokenRequest.key holds the realm, service and the same merged scopes as the params."""
    req = TokenRequest.from_challenge(
        BEARER, [Scope.repository("a", "push"), Scope.repository("a")]
    )
    assert req.key("user:u#1") == TokenKey(
        "https://auth.example/token", "svc", "repository:a:pull,push", "user:u#1"
    )


def test_token_request_oauth2_form() -> None:
    """The OAuth2 refresh-token form carries grant type, token, client, service, joined scopes."""
    req = TokenRequest.from_challenge(BEARER, [Scope.repository("a"), Scope.repository("b")])
    assert req.oauth2_form("refresh-me") == [
        ("grant_type", "refresh_token"),
        ("refresh_token", "refresh-me"),
        ("client_id", "ociinspect"),
        ("service", "svc"),
        ("scope", "repository:a:pull repository:b:pull"),
    ]


@pytest.mark.parametrize(
    ("challenge", "message"),
    [
        pytest.param(Challenge("bearer"), "no realm", id="a bearer challenge without realm"),
        pytest.param(Challenge("basic", {"realm": "x"}), "no token server", id="a basic challenge"),
    ],
)
def test_token_request_refuses_unusable_challenges(challenge: Challenge, message: str) -> None:
    """A token request cannot be built from a challenge without a token server."""
    with pytest.raises(ValueError, match=message):
        TokenRequest.from_challenge(challenge)


# --------------------------------------------------------------------------- token responses

NOW = 1000.0
WALL = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("doc", "value", "expires_in", "lifetime"),
    [
        pytest.param({"token": "abc"}, "abc", 60, 60, id="expires_in defaults to 60 s"),
        pytest.param(
            {"access_token": "xyz", "expires_in": 300},
            "xyz",
            300,
            300,
            id="access_token is accepted",
        ),
        pytest.param(
            {"token": "t1", "access_token": "t2"},
            "t1",
            60,
            60,
            id="token is preferred over access_token",
        ),
        pytest.param(
            {"token": "", "access_token": "t2"},
            "t2",
            60,
            60,
            id="an empty token falls back to access_token",
        ),
        pytest.param(
            {"token": "t", "expires_in": 5},
            "t",
            60,
            60,
            id="expires_in is raised to the 60 s minimum",
        ),
        pytest.param(
            {"token": "t", "expires_in": 120.5}, "t", 120.5, 120.5, id="a float expires_in is kept"
        ),
        pytest.param(
            {"token": "t", "expires_in": 300, "issued_at": "2024-05-01T11:59:00Z"},
            "t",
            300,
            240,
            id="issued_at a minute ago shortens the lifetime",
        ),
        pytest.param(
            {"token": "t", "expires_in": 300, "issued_at": "2024-05-01T13:59:00.123456789+02:00"},
            "t",
            300,
            pytest.approx(240.123456, abs=1e-3),
            id="issued_at with an offset and nanoseconds",
        ),
        pytest.param(
            {"token": "t", "expires_in": 300, "issued_at": "2024-05-01T12:10:00Z"},
            "t",
            300,
            300,
            id="issued_at in the future is clock skew and ignored",
        ),
        pytest.param(
            {"token": "t", "expires_in": 300, "issued_at": "2024-05-01T00:00:00Z"},
            "t",
            300,
            300,
            id="issued_at older than the lifetime is clock skew and ignored",
        ),
        pytest.param(
            {"token": "t", "issued_at": "yesterday"},
            "t",
            60,
            60,
            id="an unreadable issued_at is ignored",
        ),
        pytest.param(
            {"token": "t", "refresh_token": "r", "scope": "x"},
            "t",
            60,
            60,
            id="extra fields are ignored",
        ),
    ],
)
def test_parse_token_response(
    doc: dict[str, Any], value: str, expires_in: float, lifetime: float
) -> None:
    """Token answers give the token, its lifetime, and expires_at on the caller's clock."""
    token = parse_token_response(json.dumps(doc).encode(), NOW, wall_clock=WALL)
    assert token.value == value and token.expires_in == expires_in
    assert token.expires_at - NOW == lifetime


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(
            b"<html><body>token: s3cr3t</body></html>", "token response is HTML", id="an HTML page"
        ),
        pytest.param(b'{"token": "s3cr3t"', "token response is not JSON", id="truncated JSON"),
        pytest.param(b"\xff\xfe", "token response is not JSON", id="bytes that are not UTF-8"),
        pytest.param(b'["s3cr3t"]', "JSON list, not an object", id="a JSON array"),
        pytest.param(b"{}", "neither 'token' nor 'access_token'", id="an object without a token"),
        pytest.param(b'{"token": 12345}', "not a string", id="a token that is a number"),
        pytest.param(
            b'{"token": "s3cr3t with space"}',
            "not a string of visible ASCII",
            id="a token with a space",
        ),
        pytest.param(
            b'{"token": "s3cr3t\\r\\nX: y"}',
            "not a string of visible ASCII",
            id="a token with CRLF",
        ),
        pytest.param(
            b'{"token": "s3cr3t", "expires_in": "60"}',
            "expires_in is str",
            id="expires_in as a string",
        ),
        pytest.param(
            b'{"token": "s3cr3t", "expires_in": true}',
            "expires_in is bool",
            id="expires_in as a bool",
        ),
        pytest.param(b'{"token": "s3cr3t", "expires_in": NaN}', "not JSON", id="expires_in NaN"),
        pytest.param(
            b'{"token": "s3cr3t", "expires_in": 1e400}',
            "not a finite number",
            id="expires_in overflows",
        ),
    ],
)
def test_parse_token_response_refuses_garbage(body: bytes, reason: str) -> None:
    """Garbage answers raise TokenError saying what came back, never quoting the token."""
    with pytest.raises(TokenError) as info:
        parse_token_response(body, NOW, url="https://auth.example/token", status=200)
    err = info.value
    assert reason in str(err) and "s3cr3t" not in str(err) and "s3cr3t" not in repr(err)
    assert (err.method, err.url, err.status) == ("GET", "https://auth.example/token", 200)


def test_parse_token_response_refuses_oversized_bodies() -> None:
    """A body over 1 MiB is a SizeLimitError, even if it would parse."""
    body = json.dumps({"token": "t", "pad": "x" * MAX_TOKEN_RESPONSE_BYTES}).encode()
    with pytest.raises(SizeLimitError, match="token response from https://a/t"):
        parse_token_response(body, NOW, url="https://a/t")


def test_token_repr_hides_the_value() -> None:
    """repr and str of a Token show its expiry, never its value."""
    token = Token("s3cr3t.jwt.value", expires_at=NOW + 60)
    assert (
        "s3cr3t" not in repr(token) and "s3cr3t" not in str(token) and "expires_at" in repr(token)
    )
    assert token.authorization == "Bearer s3cr3t.jwt.value"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("a b", id="with a space"),
        pytest.param("é", id="non-ASCII"),
    ],
)
def test_token_refuses_values_unfit_for_a_header(value: str) -> None:
    """A Token value must be non-empty visible ASCII."""
    with pytest.raises(ValueError, match="token value"):
        Token(value, expires_at=NOW)


def test_token_freshness_honours_margin() -> None:
    """is_fresh is true while now + margin is before expires_at."""
    token = Token("t", expires_at=100.0)
    assert token.is_fresh(89.0, 10.0) and not token.is_fresh(90.0, 10.0) and token.is_fresh(99.0)


# --------------------------------------------------------------------------- TokenCache


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


KEY = TokenKey("https://auth.example/token", "svc", "repository:a:pull")


def _fetcher(clock: Clock, lifetime: float = 60.0) -> tuple[list[Token], Any]:
    made: list[Token] = []

    def fetch() -> Token:
        token = Token(f"tok{len(made)}", expires_at=clock() + lifetime)
        made.append(token)
        return token

    return made, fetch


def test_sixteen_threads_cause_one_fetch() -> None:
    """16 threads missing the same key at once run fetch once and all get that token."""
    cache = TokenCache()
    release = threading.Event()
    calls: list[int] = []

    def fetch() -> Token:
        calls.append(threading.get_ident())
        assert release.wait(10)
        return Token("shared", expires_at=time.monotonic() + 60)

    results: list[Token] = []
    lock = threading.Lock()

    def worker() -> None:
        token = cache.get_or_fetch(KEY, fetch)
        with lock:
            results.append(token)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while cache.stats.waits < 15 and time.monotonic() < deadline:
        time.sleep(0.005)
    release.set()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and len(results) == 16 and {r.value for r in results} == {"shared"}
    assert cache.stats == CacheStats(hits=0, misses=16, fetches=1, failures=0, waits=15)


def test_fetch_failure_reaches_every_waiter_and_is_not_cached() -> None:
    """When the one fetch raises, all waiting threads get that error; the next call fetches anew."""
    cache = TokenCache()
    release = threading.Event()
    boom = TokenError("GET", "https://auth.example/token", 503, reason="unavailable")

    def failing() -> Token:
        assert release.wait(10)
        raise boom

    errors: list[BaseException] = []

    def worker() -> None:
        try:
            cache.get_or_fetch(KEY, failing)
        except TokenError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while cache.stats.waits < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    release.set()
    for t in threads:
        t.join(10)
    assert errors == [boom] * 4
    assert cache.stats.fetches == 1 and cache.stats.failures == 1 and cache.peek(KEY) is None
    assert (
        cache.get_or_fetch(KEY, lambda: Token("later", expires_at=time.monotonic() + 60)).value
        == "later"
    )


def test_cached_token_is_served_until_margin_before_expiry() -> None:
    """A token is a hit until clock() + margin reaches expires_at, then it is fetched again."""
    clock = Clock()
    cache = TokenCache(margin=10, clock=clock)
    made, fetch = _fetcher(clock, lifetime=60)
    first = cache.get_or_fetch(KEY, fetch)
    clock.now = 49.9
    assert cache.get_or_fetch(KEY, fetch) is first
    clock.now = 50.0
    second = cache.get_or_fetch(KEY, fetch)
    assert second is not first and len(made) == 2
    assert cache.stats == CacheStats(hits=1, misses=2, fetches=2)


@pytest.mark.parametrize(
    "margin", [pytest.param(0.0, id="no margin"), pytest.param(30.0, id="30 s margin")]
)
def test_margin_is_configurable(margin: float) -> None:
    """The safety margin decides how early a token stops being served."""
    clock = Clock()
    cache = TokenCache(margin=margin, clock=clock)
    _, fetch = _fetcher(clock, lifetime=60)
    cache.get_or_fetch(KEY, fetch)
    clock.now = 59.9 - margin
    assert cache.peek(KEY) is not None
    clock.now = 60.0 - margin
    assert cache.peek(KEY) is None


@pytest.mark.parametrize(
    "margin", [pytest.param(-1.0, id="negative"), pytest.param(float("nan"), id="NaN")]
)
def test_margin_must_be_a_finite_non_negative_number(margin: float) -> None:
    """A negative or NaN margin is refused."""
    with pytest.raises(ValueError, match="margin"):
        TokenCache(margin=margin)


def test_invalidate_only_removes_the_same_token() -> None:
    """invalidate drops the token it names, but not a newer one that replaced it."""
    clock = Clock()
    cache = TokenCache(clock=clock)
    _, fetch = _fetcher(clock)
    old = cache.get_or_fetch(KEY, fetch)
    assert cache.invalidate(KEY, old) is True and cache.peek(KEY) is None
    new = cache.get_or_fetch(KEY, fetch)
    assert cache.invalidate(KEY, old) is False and cache.peek(KEY) is new
    assert cache.stats.invalidations == 1


def test_anonymous_token_never_serves_a_credentialed_call() -> None:
    """Keys that differ only in identity are fetched separately."""
    clock = Clock()
    cache = TokenCache(clock=clock)
    made, fetch = _fetcher(clock)
    alice = TokenKey(KEY.realm, KEY.service, KEY.scope, "user:alice#abc")
    anon_token = cache.get_or_fetch(KEY, fetch)
    alice_token = cache.get_or_fetch(alice, fetch)
    assert anon_token != alice_token and len(made) == 2 and len(cache) == 2


def test_peek_len_and_clear() -> None:
    """peek counts nothing, len counts fresh tokens, clear empties the cache."""
    clock = Clock()
    cache = TokenCache(clock=clock, margin=0)
    _, fetch = _fetcher(clock, lifetime=60)
    assert cache.peek(KEY) is None and len(cache) == 0
    cache.get_or_fetch(KEY, fetch)
    cache.get_or_fetch(TokenKey("r", "s", "", "other"), _fetcher(clock, lifetime=120)[1])
    assert len(cache) == 2 and cache.stats.hits == 0
    clock.now = 90
    assert len(cache) == 1
    cache.clear()
    assert len(cache) == 0 and cache.peek(KEY) is None


def test_cache_evicts_beyond_max_entries() -> None:
    """Past max_entries the token expiring soonest is dropped."""
    clock = Clock()
    cache = TokenCache(clock=clock, max_entries=2)
    keys = [TokenKey("r", "s", f"repository:r{i}:pull") for i in range(3)]
    for i, key in enumerate(keys):
        cache.get_or_fetch(key, partial(Token, f"t{i}", expires_at=100.0 + i))
    assert len(cache) == 2 and cache.peek(keys[0]) is None and cache.peek(keys[2]) is not None


def test_reentrant_fetch_is_an_error_not_a_deadlock() -> None:
    """A fetch that asks the cache for its own key gets RuntimeError."""
    cache = TokenCache()

    def fetch() -> Token:
        return cache.get_or_fetch(KEY, fetch)

    with pytest.raises(RuntimeError, match="re-entered"):
        cache.get_or_fetch(KEY, fetch)
    assert cache.stats.failures == 1


def test_cache_repr_hides_tokens() -> None:
    """repr(TokenCache) shows counts, never a token."""
    cache = TokenCache()
    cache.get_or_fetch(KEY, lambda: Token("s3cr3t", expires_at=time.monotonic() + 60))
    assert "s3cr3t" not in repr(cache) and "tokens=1" in repr(cache)
