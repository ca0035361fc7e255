"""The authentication flow of one request, as a generator that does no I/O.

The story of a request to a registry, read top to bottom::

    attach what the origin asked for last time (a token for the scopes, or Basic credentials)
    send  ->  not refused, or refused by another origin (a CDN)?  done
    a token refused: drop it from the cache; renew once, then the refusal stands
    a 401: pick its challenge (RFC 7235), remember it for the origin, attach, send again

:func:`auth_flow` yields *steps* and is sent their results, as httpx's ``Auth.auth_flow`` is::

    flow = auth_flow(headers, known, credentials, scopes, registry, origin)
    step = next(flow)                    # Send(...)
    step = flow.send(response)           # GetToken(...) after a 401, ...
    ...                                  # StopIteration.value is the final response

=============  ===========================================  ==================================
step           the driver does                              and sends back
=============  ===========================================  ==================================
``Send``       sends the request with ``headers``           the response
``GetToken``   fetches (or takes from the cache) the token  the :class:`~.auth.Token`
``DropToken``  invalidates a refused token in the cache     None
``Learn``      remembers ``challenge`` for the origin       None
=============  ===========================================  ==================================

The driver is :meth:`RegistryClient._request <ociinspect.distribution.client.RegistryClient>`;
tests step the flow by hand with made-up responses.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import ChallengeError
from . import auth
from .challenge import (
    Challenge,
    challenge_overflow,
    challenge_problem,
    parse_www_authenticate,
    select_challenge,
)
from .credentials import Credentials
from .protocol import Origin, refuse_plain_http, same_origin
from .protocol import origin as origin_of
from .scope import Scope, parse_scopes
from .trace import redact_url, scrub, sent_secrets


class Answer(Protocol):
    """What the flow reads of a response."""

    status_code: int
    url: str

    def header_values(self, name: str) -> list[str]: ...


@dataclass(frozen=True)
class Send:
    """Send the request with these headers (credentials attached); send back the response."""

    headers: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class GetToken:
    """Get the token for ``request`` (cache key ``key``) with ``credentials``; send it back."""

    request: auth.TokenRequest
    key: auth.TokenKey
    credentials: Credentials | None = field(repr=False)
    #: The registry the token is for (credentials never go over plain http elsewhere).
    registry: str = ""


@dataclass(frozen=True)
class DropToken:
    """The registry refused ``token``: take it out of the cache."""

    key: auth.TokenKey
    token: auth.Token


@dataclass(frozen=True)
class Learn:
    """Remember that the origin asks for ``challenge``."""

    challenge: Challenge


Step = Send | GetToken | DropToken | Learn


def challenges_of(answer: Answer) -> list[Challenge]:
    return parse_www_authenticate(answer.header_values("WWW-Authenticate"))


def auth_flow(
    headers: Mapping[str, str],
    known: Challenge | None,
    credentials: Credentials | None,
    scopes: Sequence[Scope],
    registry: str,
    origin: str,
    method: str = "GET",
    url: str = "",
) -> Generator[Step, object, Answer]:
    """The flow of one request to ``origin`` (see the module docstring). ``known`` is the
    challenge the origin made last time; ``scopes`` what the request needs."""
    home: Origin = origin_of(origin)
    challenge = known
    extra: tuple[Scope, ...] = ()  # scopes named by this request's own 401 challenge
    learned = renewed = False
    while True:
        sent = dict(headers)
        used: tuple[auth.TokenKey, auth.Token] | str | None = None
        if challenge is not None:
            if challenge.scheme == "basic":
                if credentials is not None and credentials.password is not None:
                    refuse_plain_http(origin, registry)
                    sent["Authorization"] = auth.basic_authorization(
                        credentials.username, credentials.password
                    )
                    used = "basic"
            else:
                account = credentials.username if credentials is not None else None
                request = auth.TokenRequest.from_challenge(
                    challenge, (*scopes, *extra), account, challenge_scope=False
                )
                identity = credentials.identity if credentials is not None else auth.ANONYMOUS
                key = request.key(identity)
                token = yield GetToken(request, key, credentials, registry)
                assert isinstance(token, auth.Token)
                sent["Authorization"] = token.authorization
                used = (key, token)
        resp = yield Send(sent)
        assert hasattr(resp, "status_code")
        answer: Answer = resp  # type: ignore[assignment]
        refused = answer.status_code == 401 or (answer.status_code == 403 and used is not None)
        if not refused or not same_origin(answer.url, home):
            # Only the registry's own refusals teach a challenge: a 401 from a CDN a blob was
            # redirected to must never earn a token with the registry's credentials.
            return answer
        if isinstance(used, tuple):
            yield DropToken(*used)
        if used is not None:
            if renewed or not isinstance(used, tuple):
                return answer  # a fresh token or Basic credentials refused: a clear error follows
            renewed = True
        elif learned:
            return answer
        if answer.status_code == 401:
            overflow = challenge_overflow(answer.header_values("WWW-Authenticate"))
            if overflow is not None:  # bounded work, then a clear refusal
                raise ChallengeError(method, redact_url(url), 401, reason=overflow)
            found = select_challenge(challenges_of(answer))
            problem = challenge_problem(found) if found is not None else None
            if problem is not None:
                reason = scrub(problem, sent_secrets(sent))
                raise ChallengeError(method, redact_url(url), 401, reason=reason)
            if found is None or (found.scheme == "basic" and credentials is None):
                return answer
            yield Learn(found)
            challenge = found
            extra = parse_scopes(found.params.get("scope", ""))
        learned = True


__all__ = [
    "Answer",
    "DropToken",
    "GetToken",
    "Learn",
    "Send",
    "Step",
    "auth_flow",
    "challenges_of",
]
