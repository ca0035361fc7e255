"""ociinspect against the Docker Hub personality (tests/personalities/dockerhub.py): the shared
protocol tests (tests/personalities/protocol.py), and what Docker Hub adds: its pull limit
(``ratelimit-*`` headers on GET and HEAD, a pull counted per manifest GET, 429 TOOMANYREQUESTS
past the limit), ``ratelimit()`` on the image Docker's docs use, the HTTP tab's pulls left, HEAD
before GET for tags, and a registries.conf mirror standing in for docker.io."""

from __future__ import annotations

from pathlib import Path

import pytest
from personalities import Personality
from personalities.protocol import (
    Profile,
    ProtocolSuite,
    mirrors_from,
    personality_session,
    write_registries_conf,
)
from rig import Registry, SeedResult, rig_session, seed

import ociinspect as oi
from ociinspect import cli
from ociinspect.distribution import ratelimit
from ociinspect.distribution.credentials import Credentials
from ociinspect.errors import RateLimitedError
from ociinspect.widgets import ImageBrowser

pytestmark = [pytest.mark.registry, pytest.mark.usefixtures("loopback_guard")]

PROFILE = Profile(
    fixture="hub",
    multi="docker.io/library/alpine:latest",
    blob_route=("production.cloudflare.docker.com", r"^/registry-v2/"),
    blob_elsewhere=True,
    tokens=1,
    announces_limit=True,
)


def _login(hub: Personality) -> Credentials:
    return Credentials(hub.credentials.username, hub.credentials.password)


class TestDockerHub(ProtocolSuite):
    """The shared protocol tests; the mirror test uses the rig's registry as the mirror."""

    profile = PROFILE

    def test_registries_conf_mirror_answers_for_docker_io(  # type: ignore[override]
        self,
        personality: Personality,
        seeded_storage: SeedResult,
        tmp_path: Path,
        registry_open: Registry,
    ) -> None:
        """A registries.conf mirror (the rig's registry) answers for docker.io/library/alpine:
        Docker Hub's hosts are not mapped, never looked up (loopback_guard) and never asked."""
        conf = write_registries_conf(tmp_path, f"{registry_open.host}/demo/multi")
        session = rig_session(mirrors=mirrors_from(conf))
        table = oi.platforms("alpine", session=session)
        assert table["digest"].tolist()[:3] == [
            seeded_storage.seeded[seed.MULTI].image(p).digest for p in seed.PLATFORMS
        ]
        assert all(e.url.split("/")[2].startswith("127.0.0.") for e in session.trace)
        assert session.trace.summary().mirrors == (registry_open.host,)
        assert personality.counters.count() == 0


# ----------------------------------------------------------------------------- the pull limit


def test_pull_limit_429_gives_limit_remaining_and_hint_without_retrying(hub: Personality) -> None:
    """Past the limit: RateLimitedError with limit, remaining 0, the 6 h window, no reset
    announced, the hint to log in; the 429 is not retried (it would not clear in a minute),
    and the address the pulls are counted against is not in the message."""
    hub.configure(rate_limit=1)
    with pytest.raises(RateLimitedError) as caught:
        oi.config(PROFILE.multi, session=personality_session(hub, PROFILE))
    error = caught.value
    assert (error.limit, error.remaining, error.window_seconds, error.reset) == (1, 0, 21600, None)
    assert error.hint == ratelimit.LOGIN_ADVICE and error.codes == ("TOOMANYREQUESTS",)
    assert "0 of 1 left per 6 h; no reset time announced" in str(error)
    assert "127.0.0.1" not in str(error) and error.ratelimit.source == "127.0.0.1"
    refused = [r for r in hub.counters.requests(path="/manifests/") if r.status == 429]
    assert len(refused) == 1


def test_logged_in_pull_limit_points_to_a_mirror(hub: Personality) -> None:
    """Logged in, the limit is the account's (200 by default), and the hint is a mirror."""
    hub.configure(authenticated_rate_limit=1)
    session = personality_session(hub, PROFILE, credentials={"docker.io": _login(hub)})
    with pytest.raises(RateLimitedError) as caught:
        oi.config(PROFILE.multi, session=session)
    assert caught.value.limit == 1 and caught.value.hint == ratelimit.MIRROR_ADVICE


def test_logged_in_with_a_failing_mirror_the_hint_is_to_wait(hub: Personality) -> None:
    """A mirror that does not answer is passed over for Docker Hub; its 429 then says wait."""
    hub.configure(authenticated_rate_limit=1)
    session = personality_session(
        hub, PROFILE, credentials={"docker.io": _login(hub)}, mirrors=["127.0.0.1:9"]
    )
    with pytest.raises(RateLimitedError) as caught:
        oi.config(PROFILE.multi, session=session)
    assert caught.value.hint == "wait: the limit is 1 per 6 h"
    failed = [e for e in session.trace if e.mirror_for == "docker.io"]
    assert failed and all(e.status is None for e in failed)


def test_trace_summary_and_hub_agree_on_pulls(hub: Personality) -> None:
    """Every manifest GET the trace calls a pull is one Docker Hub counted, no more."""
    session = personality_session(hub, PROFILE)
    mark = session.trace.mark()
    oi.platforms(PROFILE.multi, session=session)
    oi.layers(PROFILE.multi, sizes="none", session=session)
    spent = session.trace.summary(mark)
    assert spent.pulls == len(hub.counters.pulls()) == 1 + 3 + 2
    assert spent.ratelimit is not None and spent.ratelimit.remaining == 100 - spent.pulls


def test_head_before_get_spares_the_pull_of_a_cached_manifest(
    hub: Personality, seeded_storage: SeedResult, tmp_path: Path
) -> None:
    """The index fetched by digest once is in the disk cache; a new session asking for the tag
    resolves it with a HEAD (free) and reads the index from the cache: no pull for the tag."""
    digest = seeded_storage.seeded[seed.MULTI].digest
    oi.platforms(f"{PROFILE.name}@{digest}", session=personality_session(hub, PROFILE, tmp_path))
    before = len(hub.counters.pulls())
    fresh = personality_session(hub, PROFILE, tmp_path)
    mark = fresh.trace.mark()
    table = oi.platforms(PROFILE.multi, session=fresh)
    assert len(table) == 6
    assert len(hub.counters.pulls()) == before and fresh.trace.summary(mark).pulls == 0
    assert [e.method for e in fresh.trace if "/manifests/" in e.url and e.status == 200] == ["HEAD"]


# ----------------------------------------------------------------------------- ratelimit()


def test_ratelimit_of_docker_io_heads_the_documented_image(hub: Personality) -> None:
    """ratelimit() HEADs ratelimitpreview/test: remaining follows the pulls spent, none spent."""
    session = personality_session(hub, PROFILE)
    oi.platforms(PROFILE.multi, session=session)
    table = oi.ratelimit(session=session)
    row = table.iloc[0]
    assert (row["registry"], row["repository"]) == ("docker.io", "ratelimitpreview/test")
    assert (row["limit"], row["remaining"], row["window_seconds"]) == (100, 96, 21600)
    assert row["source"] == "127.0.0.1" and not row["logged_in"] and row["pulls_spent"] == 0
    assert hub.counters.count(method="HEAD", path="^/v2/ratelimitpreview/test/manifests/") == 1
    assert hub.counters.count(method="GET", path="^/v2/ratelimitpreview/") == 0


def test_cli_ratelimit_prints_the_limit(hub: Personality) -> None:
    """``ociinspect ratelimit`` (docker.io by default) prints limit and remaining, one field per
    line; no pull is spent."""
    args = cli.build_parser().parse_args(["ratelimit"])
    result = cli.run(args, session=personality_session(hub, PROFILE))
    out = []

    class Out:
        def write(self, text: str) -> None:
            out.append(text)

        def flush(self) -> None:
            pass

    cli.emit(result, "table", Out(), vertical=True)  # type: ignore[arg-type]
    lines = dict(line.split(None, 1) for line in "".join(out).splitlines() if " " in line)
    assert lines["limit"].strip() == "100" and lines["remaining"].strip() == "100"
    assert hub.counters.pulls() == []


# ----------------------------------------------------------------------------- the widget


def test_http_tab_shows_pulls_spent_and_left(hub: Personality) -> None:
    """After a load, the HTTP tab says how many pulls it spent and how many are left."""
    session = personality_session(hub, PROFILE)
    browser = ImageBrowser(PROFILE.multi, session=session).wait()
    assert browser.status == "ready", browser.error
    spent = len(hub.counters.pulls())
    html = browser.http_view.value
    assert f"{spent} pulls (manifest GETs)" in html
    assert f"{100 - spent} of 100 pulls left (per 6 h) at registry-1.docker.io" in html
