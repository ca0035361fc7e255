"""ociinspect.distribution.flow: the auth flow of one request, stepped by hand without a network."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field

import pytest

from ociinspect.distribution import auth
from ociinspect.distribution.challenge import Challenge
from ociinspect.distribution.credentials import Credentials
from ociinspect.distribution.flow import DropToken, GetToken, Learn, Send, Step, auth_flow
from ociinspect.distribution.scope import Scope
from ociinspect.errors import ChallengeError, InsecureCredentialsError

ORIGIN = "https://registry.example"
URL = f"{ORIGIN}/v2/team/app/manifests/1.0"
SCOPES = (Scope.repository("team/app"),)
BEARER = Challenge(
    "bearer", {"realm": "https://auth.example/token", "service": "registry.example"}
)
ALICE = Credentials("alice", "s3cret")


@dataclass
class Answer:
    """What the flow reads of a response: status, the URL that answered, its challenges."""

    status_code: int
    url: str = URL
    challenges: list[str] = field(default_factory=list)

    def header_values(self, name: str) -> list[str]:
        return self.challenges if name.lower() == "www-authenticate" else []


def token(value: str = "tok") -> auth.Token:
    return auth.Token(value, expires_at=1e9)


Flow = Generator[Step, object, object]


def start(known: Challenge | None = None, creds: Credentials | None = None,
          origin: str = ORIGIN) -> tuple[Flow, Step]:
    flow = auth_flow({"Accept": "x"}, known, creds, SCOPES, "registry.example", origin, "GET", URL)
    return flow, next(flow)


def finish(flow: Flow, value: object) -> object:
    """Send ``value``; the flow must end, and its result is returned."""
    with pytest.raises(StopIteration) as done:
        flow.send(value)
    return done.value.value


def headers(step: Step) -> Mapping[str, str]:
    assert isinstance(step, Send), step
    return step.headers


def test_without_a_known_challenge_the_first_send_carries_no_credentials() -> None:
    """Nothing learned yet: the request goes out as asked, and a 200 ends the flow."""
    flow, step = start(creds=ALICE)
    assert dict(headers(step)) == {"Accept": "x"}
    ok = Answer(200)
    assert finish(flow, ok) is ok


def test_a_401_teaches_the_challenge_then_a_token_is_fetched_and_the_request_retried() -> None:
    """401 -> Learn(challenge) -> GetToken(for the request's scope + the challenge's) -> retry."""
    flow, step = start()
    challenge = 'Bearer realm="https://auth.example/token",service="registry.example",' \
        'scope="repository:team/app:pull"'
    step = flow.send(Answer(401, challenges=[challenge]))
    assert isinstance(step, Learn) and step.challenge.params["realm"] == "https://auth.example/token"
    step = flow.send(None)
    assert isinstance(step, GetToken)
    assert [str(s) for s in step.request.scopes] == ["repository:team/app:pull"]
    assert step.key.identity == auth.ANONYMOUS and step.registry == "registry.example"
    step = flow.send(token("abc"))
    assert headers(step)["Authorization"] == "Bearer abc"
    ok = Answer(200)
    assert finish(flow, ok) is ok


def test_a_known_challenge_attaches_a_token_up_front() -> None:
    """With the origin's challenge remembered, the first step is GetToken, with the identity of
    the credentials; no 401 is collected."""
    flow, step = start(BEARER, ALICE)
    assert isinstance(step, GetToken)
    assert step.key.identity == ALICE.identity and step.request.account == "alice"
    assert headers(flow.send(token()))["Authorization"] == "Bearer tok"
    assert finish(flow, Answer(200)).status_code == 200  # type: ignore[attr-defined]


def test_a_refused_token_is_dropped_and_renewed_once_then_the_refusal_stands() -> None:
    """401 to a cached token: DropToken, the challenge again, GetToken, retry; a refusal of the
    fresh token is the answer."""
    flow, step = start(BEARER)
    step = flow.send(token("old"))
    step = flow.send(Answer(401, challenges=['Bearer realm="https://auth.example/token"']))
    assert isinstance(step, DropToken) and step.token.value == "old"
    step = flow.send(None)
    assert isinstance(step, Learn)
    step = flow.send(None)
    assert isinstance(step, GetToken)
    assert headers(flow.send(token("new")))["Authorization"] == "Bearer new"
    step = flow.send(Answer(403))
    assert isinstance(step, DropToken) and step.token.value == "new"
    refused = Answer(403)
    with pytest.raises(StopIteration) as done:
        flow.send(None)
    assert done.value.value.status_code == 403 and refused.status_code == 403


def test_a_401_from_another_origin_is_returned_and_earns_no_token() -> None:
    """A CDN's 401 after a redirect never teaches a challenge: the answer is returned as is."""
    flow, _ = start(creds=ALICE)
    cdn = Answer(401, url="https://cdn.example/blob?sig=1", challenges=['Bearer realm="x"'])
    assert finish(flow, cdn) is cdn


def test_basic_credentials_are_sent_only_over_https_or_to_loopback() -> None:
    """A Basic challenge: https gets the header; plain http to a remote host is refused."""
    flow, step = start(Challenge("basic", {"realm": "r"}), ALICE)
    assert headers(step)["Authorization"].startswith("Basic ")
    flow, step = start(Challenge("basic", {"realm": "r"}), None)
    assert "Authorization" not in headers(step)
    with pytest.raises(InsecureCredentialsError):
        start(Challenge("basic", {"realm": "r"}), ALICE, origin="http://registry.example")


def test_a_basic_challenge_without_credentials_returns_the_401() -> None:
    """Anonymous and asked for Basic: nothing to try, the 401 is the answer."""
    flow, _ = start()
    refused = Answer(401, challenges=['Basic realm="registry"'])
    assert finish(flow, refused) is refused


def test_an_unusable_challenge_is_a_challenge_error_without_secrets() -> None:
    """A Bearer challenge with no realm raises ChallengeError naming the request, not a token."""
    flow, _ = start()
    with pytest.raises(ChallengeError, match="GET https://registry.example/v2/team/app"):
        flow.send(Answer(401, challenges=['Bearer service="x"']))


def test_after_learning_a_second_anonymous_401_is_final() -> None:
    """Learned the challenge, fetched a token, refused again: renewed once, then final; the
    flow never loops."""
    flow, _ = start()
    steps = 0
    step: object = flow.send(Answer(401, challenges=['Bearer realm="https://auth.example/t"']))
    answer: object = None
    while True:
        steps += 1
        assert steps < 20
        try:
            if isinstance(step, Send):
                step = flow.send(Answer(401, challenges=['Bearer realm="https://auth.example/t"']))
            elif isinstance(step, GetToken):
                step = flow.send(token())
            else:
                step = flow.send(None)
        except StopIteration as done:
            answer = done.value
            break
    assert isinstance(answer, Answer) and answer.status_code == 401
