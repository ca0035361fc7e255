"""Transport errors say what happened, and a flood of challenges costs bounded work.

The reason of a :class:`~ociinspect.errors.TransportError` comes from the types of what failed
(http.client, urllib3, the socket), never from the text of requests' message, which holds the
URL: an answer with 101 header lines is not a "connection reset", and a refused connection to a
repository called ``headers/offline`` is not a header problem.
"""

from __future__ import annotations

import socket
import time

import pytest
from kit import make_client
from servers import Reply, ScriptedServer, always

from ociinspect.errors import ChallengeError, TransportError


def _head(*lines: str) -> bytes:
    return ("\r\n".join(("HTTP/1.1 401 Unauthorized", *lines)) + "\r\n\r\n").encode()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


REASONS = [
    pytest.param(Reply(raw=_head(*[f"X-Filler-{i}: {i}" for i in range(101)], "Connection: close"),
                       close=True),
                 "more than 100 header lines", id="an answer of 102 header lines"),
    pytest.param(Reply(raw=_head("X-Long: " + "a" * 70_000, "Connection: close"), close=True),
                 "over 65,536 bytes", id="a header line of 70,000 bytes"),
    pytest.param(Reply(raw=b"SSH-2.0-OpenSSH_9.6\r\n\r\n", close=True),
                 "status line is not HTTP", id="a status line that is not HTTP"),
    pytest.param(Reply(drop=True), "closed the connection without answering",
                 id="a server that hangs up without a word"),
]


@pytest.mark.parametrize(("reply", "reason"), REASONS)
def test_a_broken_answer_is_named_for_what_broke(reply: Reply, reason: str) -> None:
    """Each broken answer is a TransportError whose reason names the actual fault."""
    with ScriptedServer(always(reply)) as server:
        client = make_client()
        with pytest.raises(TransportError) as err:
            client.get_manifest(server.host, "a/b", "latest")
    assert reason in str(err.value)
    assert "connection reset" not in str(err.value)


def test_a_refused_connection_is_refused_whatever_the_url_says() -> None:
    """A repository named ``headers/offline`` on a closed port is "connection refused": the
    reason is not read from the URL's text."""
    client = make_client()
    with pytest.raises(TransportError) as err:
        client.get_manifest(f"127.0.0.1:{_closed_port()}", "headers/offline", "latest")
    assert str(err.value).endswith(": connection refused")


def test_ten_thousand_challenges_in_97_fields_cost_bounded_work() -> None:
    """An answer with 97 WWW-Authenticate fields holding 10,000 challenges is a ChallengeError
    after a bounded parse (well under a second of CPU), and no realm is asked."""
    per_field = 10_000 // 97 + 1
    fields = [
        "WWW-Authenticate: " + ", ".join(
            f'Bearer realm="http://127.0.0.1:9/t{f}_{i}",service="s",scope="repository:a:pull"'
            for i in range(per_field)
        )
        for f in range(97)
    ]
    raw = _head(*fields, "Connection: close")
    with ScriptedServer(always(Reply(raw=raw, close=True))) as server:
        client = make_client()
        cpu = time.process_time()
        with pytest.raises(ChallengeError) as err:
            client.get_manifest(server.host, "a/b", "latest")
        spent = time.process_time() - cpu
        assert len(server.requests()) == 1
    assert "not a registry's challenge" in str(err.value)
    assert spent < 1.0
    assert [e.purpose for e in client.trace] == ["manifest"]
